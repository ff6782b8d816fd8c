import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { admin } from './messages/admin.ts';
import { common } from './messages/common.ts';
import { operator } from './messages/operator.ts';
import { operatorB } from './messages/operator-b.ts';
import { researcher } from './messages/researcher.ts';

export const LOCALES = ['en', 'ja'] as const;
export type Locale = (typeof LOCALES)[number];

const catalogs = {
  en: { ...common.en, ...researcher.en, ...admin.en, ...operator.en, ...operatorB.en },
  ja: { ...common.ja, ...researcher.ja, ...admin.ja, ...operator.ja, ...operatorB.ja },
};
export type MessageKey = keyof typeof catalogs.en;
export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

const STORAGE_KEY = 'keisan.lang';

/** The remembered choice, else the browser's language, else English. */
export function initialLocale(): Locale {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'ja') return saved;
  return navigator.languages.some((l) => l.toLowerCase().startsWith('ja')) ? 'ja' : 'en';
}

export function translate(locale: Locale, key: MessageKey, values?: Record<string, string | number>): string {
  const text: string = catalogs[locale][key] ?? catalogs.en[key] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole)) : text;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export interface Formatters {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: Translate;
  /** A date and time in the reader's time zone, e.g. "2026/11/23 9:05" in Japanese. */
  dateTime: (iso: string | null | undefined) => string;
  /** "3 min ago" / "3 分前". */
  relative: (iso: string | null | undefined, now?: number) => string;
  /** Bytes in binary units with the locale's digits, e.g. "1.5 GiB". */
  bytes: (n: number | null | undefined) => string;
  number: (n: number, digits?: number) => string;
  percent: (fraction: number) => string;
  /** Seconds as "2 h 5 min" / "2 時間 5 分". */
  duration: (seconds: number | null | undefined) => string;
}

function makeFormatters(locale: Locale, setLocale: (l: Locale) => void): Formatters {
  const tag = locale === 'ja' ? 'ja-JP' : 'en-GB';
  const dateFormat = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short' });
  const relativeFormat = new Intl.RelativeTimeFormat(tag, { numeric: 'auto' });
  const t: Translate = (key, values) => translate(locale, key, values);
  const number = (n: number, digits = 0) => new Intl.NumberFormat(tag, { maximumFractionDigits: digits }).format(n);
  return {
    locale,
    setLocale,
    t,
    dateTime: (iso) => (iso ? dateFormat.format(new Date(iso)) : t('time.never')),
    relative: (iso, now = Date.now()) => {
      if (!iso) return t('time.never');
      const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 45) return relativeFormat.format(seconds, 'second');
      if (abs < 2700) return relativeFormat.format(Math.round(seconds / 60), 'minute');
      if (abs < 64_800) return relativeFormat.format(Math.round(seconds / 3600), 'hour');
      return relativeFormat.format(Math.round(seconds / 86_400), 'day');
    },
    bytes: (n) => {
      if (n === null || n === undefined) return '—';
      let value = n;
      let unit = 0;
      while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
        value /= 1024;
        unit += 1;
      }
      return `${number(value, unit === 0 ? 0 : value < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
    },
    number,
    percent: (fraction) => new Intl.NumberFormat(tag, { style: 'percent', maximumFractionDigits: 1 }).format(fraction),
    duration: (seconds) => {
      if (seconds === null || seconds === undefined) return '—';
      const s = Math.max(0, Math.round(seconds));
      const units: [Intl.NumberFormatOptions['unit'], number][] = [
        ['day', Math.floor(s / 86_400)],
        ['hour', Math.floor((s % 86_400) / 3600)],
        ['minute', Math.floor((s % 3600) / 60)],
        ['second', s % 60],
      ];
      const shown = units.filter(([, v]) => v > 0).slice(0, 2);
      if (shown.length === 0) shown.push(['second', 0]);
      return shown.map(([unit, v]) => new Intl.NumberFormat(tag, { style: 'unit', unit, unitDisplay: 'short' }).format(v)).join(' ');
    },
  };
}

const I18nContext = createContext<Formatters | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const setLocale = useCallback((next: Locale) => {
    localStorage.setItem(STORAGE_KEY, next);
    setLocaleState(next);
  }, []);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo(() => makeFormatters(locale, setLocale), [locale, setLocale]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

/** Texts and formatters in the chosen language. */
export function useI18n(): Formatters {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}
