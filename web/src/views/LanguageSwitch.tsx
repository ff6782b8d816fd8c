import { LOCALES, useI18n, type Locale } from '../i18n/index.tsx';

export function LanguageSwitch() {
  const { t, locale, setLocale } = useI18n();
  return (
    <label className="lang-switch">
      <span className="sr-only">{t('lang.label')}</span>
      <select aria-label={t('lang.label')} value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
        {LOCALES.map((l) => (
          <option key={l} value={l}>
            {t(`lang.${l}`)}
          </option>
        ))}
      </select>
    </label>
  );
}
