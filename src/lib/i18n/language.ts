export const LANGUAGES = ['en', 'ja'] as const;
export type Language = (typeof LANGUAGES)[number];

/**
 * The language of the CLI's own texts: KEISAN_LANG (`ja`, `en`, or a locale such as ja_JP.UTF-8)
 * wins; else the first of LC_ALL, LC_MESSAGES, LANG that is set, as POSIX orders them
 * (`ja…` → Japanese); else English.
 */
export function chooseLanguage(env: NodeJS.ProcessEnv): Language {
  const explicit = env.KEISAN_LANG?.trim();
  if (explicit) return languageOf(explicit);
  const locale = [env.LC_ALL, env.LC_MESSAGES, env.LANG].map((value) => value?.trim()).find((value) => value);
  return locale ? languageOf(locale) : 'en';
}

function languageOf(locale: string): Language {
  return locale.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}
