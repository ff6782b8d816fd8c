import type { ReactElement } from 'react';
import { useMe } from '../../../auth.tsx';
import { useI18n } from '../../../i18n/index.tsx';
import { Page } from '../../../ui/kit.tsx';

function NotForYou() {
  const { t } = useI18n();
  return (
    <Page title={t('ops.notOperator.title')}>
      <p>{t('ops.notOperator.body')}</p>
    </Page>
  );
}

/** An operator page: others (who reach it by its address) are told it is not for them instead of a row of refusals. */
export function operatorOnly(Component: () => ReactElement): () => ReactElement {
  return function OperatorOnly() {
    const me = useMe();
    return me.isOperator ? <Component /> : <NotForYou />;
  };
}
