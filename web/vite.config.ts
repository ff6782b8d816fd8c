import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run build:web` (also run by `npm ci` through `prepare`) writes web/dist, which
// `keisan server` serves at /. `npm run dev:web` proxies the API to a running server.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': process.env.KEISAN_URL ?? 'http://127.0.0.1:8470', '/status': process.env.KEISAN_URL ?? 'http://127.0.0.1:8470' } },
});
