import { defineMessages } from '../define.ts';

export const researcher = defineMessages({
  en: {
    'nav.researcher.placeholder': 'researcher',
  },
  ja: {
    'nav.researcher.placeholder': 'researcher',
  },
});
