import { defineMessages } from '../define.ts';

export const admin = defineMessages({
  en: {
    'nav.admin.placeholder': 'admin',
  },
  ja: {
    'nav.admin.placeholder': 'admin',
  },
});
