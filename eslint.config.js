import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'web/dist/', 'coverage/', 'src/**/.*-bundle.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', Buffer: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: {
      globals: { window: 'readonly', document: 'readonly', localStorage: 'readonly', navigator: 'readonly', performance: 'readonly', Headers: 'readonly', Response: 'readonly', Request: 'readonly', RequestInit: 'readonly', FormData: 'readonly', Blob: 'readonly', File: 'readonly', XMLHttpRequest: 'readonly', HTMLElement: 'readonly', HTMLDialogElement: 'readonly', HTMLInputElement: 'readonly', HTMLDivElement: 'readonly', HTMLCanvasElement: 'readonly', ResizeObserver: 'readonly', requestAnimationFrame: 'readonly', cancelAnimationFrame: 'readonly', TextDecoder: 'readonly', ReadableStream: 'readonly', Intl: 'readonly', URLSearchParams: 'readonly', EventSource: 'readonly', ProgressEvent: 'readonly', getComputedStyle: 'readonly', matchMedia: 'readonly', confirm: 'readonly' },
    },
  },
);
