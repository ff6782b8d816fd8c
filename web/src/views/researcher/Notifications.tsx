import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../../api/client.ts';
import { useI18n } from '../../i18n/index.tsx';
import { Badge, Button, Card, ErrorBox, Page, QueryView } from '../../ui/kit.tsx';

export function NotificationsPage() {
  const { t, dateTime, relative } = useI18n();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ['notifications', 'all'], queryFn: () => call(api.GET('/api/notifications', { params: { query: { limit: 200 } } })), refetchInterval: 5000 });
  const mark = useMutation({
    mutationFn: (ids?: number[]) => call(api.POST('/api/notifications/read', { body: ids ? { ids } : {} })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['notifications'] }),
  });
  const unread = (list.data ?? []).filter((n) => n.readAt === null).length;
  return (
    <Page
      title={t('researcher.notifications.title')}
      actions={
        <Button onClick={() => mark.mutate(undefined)} disabled={mark.isPending || unread === 0}>
          {t('researcher.notifications.markAll')}
        </Button>
      }
    >
      {mark.error ? <ErrorBox error={mark.error} /> : null}
      <QueryView query={list} empty={(items) => items.length === 0}>
        {(items) => (
          <ul className="notification-list">
            {items.map((n) => (
              <li key={n.id} className={n.readAt === null ? 'unread' : undefined}>
                <Card
                  title={n.title}
                  actions={
                    n.readAt === null ? (
                      <Button className="small" onClick={() => mark.mutate([n.id])} aria-label={t('researcher.notifications.markOne', { title: n.title })}>
                        {t('researcher.notifications.markRead')}
                      </Button>
                    ) : null
                  }
                >
                  <p className="muted small">
                    {n.readAt === null ? <Badge value="pending" label={t('researcher.notifications.unread')} /> : null} {n.kind} · <time dateTime={n.at} title={dateTime(n.at)}>{relative(n.at)}</time>
                  </p>
                  <p className="pre-line">{n.body}</p>
                </Card>
              </li>
            ))}
          </ul>
        )}
      </QueryView>
    </Page>
  );
}
