import { CATALOG, type MessageKey } from './catalog.ts';
import { chooseLanguage, type Language } from './language.ts';

export { chooseLanguage, LANGUAGES, type Language } from './language.ts';
export type { MessageKey } from './catalog.ts';

let current: Language | undefined;

/** The language the CLI speaks: set once at start (`setLanguage`), else chosen from the environment. */
export function language(): Language {
  current ??= chooseLanguage(process.env);
  return current;
}

export function setLanguage(chosen: Language): void {
  current = chosen;
}

/** What a `{name}` may stand for: written as a template literal would write it. */
export type MessageParams = Record<string, string | number | boolean | null | undefined>;

/** The text for `key` in `lang` with each `{name}` replaced by `params.name` (a name not given stays as written). */
export function translate(lang: Language, key: MessageKey, params: MessageParams = {}): string {
  return CATALOG[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The CLI's text for `key` in the current language. */
export function t(key: MessageKey, params?: MessageParams): string {
  return translate(language(), key, params);
}

/** A date and time as the current language writes it, in the local time zone, to the minute. */
export function formatDateTime(date: Date, lang: Language = language()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const [y, mo, d, h, mi] = [date.getFullYear(), pad(date.getMonth() + 1), pad(date.getDate()), pad(date.getHours()), pad(date.getMinutes())];
  return lang === 'ja' ? `${y}/${mo}/${d} ${h}:${mi}` : `${y}-${mo}-${d} ${h}:${mi}`;
}
