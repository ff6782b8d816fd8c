import { defineMessages } from '../define.ts';

export const operatorB = defineMessages({
  en: {
    'opsb.nav.incidents': 'Incidents',
  },
  ja: {
    'opsb.nav.incidents': 'インシデント',
  },
});
