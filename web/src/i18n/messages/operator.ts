import { defineMessages } from '../define.ts';

export const operator = defineMessages({
  en: {
    'nav.operator.placeholder': 'operator',
  },
  ja: {
    'nav.operator.placeholder': 'operator',
  },
});
