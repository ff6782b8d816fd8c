import { z } from 'zod';
import { authOf } from '../../server/auth.ts';
import { commonErrors, errorResponse, type ZodApp } from '../../server/types.ts';
import { ldapStatusSchema, ldapSyncResultSchema, type LdapService } from './service.ts';

const ldapErrors = { ...commonErrors, 503: errorResponse.describe('the LDAP directory could not be reached, or refused Keisan\'s bind or a change') } as const;
const syncBody = z.object({ apply: z.boolean().default(false).describe('make the changes; false (the default) only shows them') }).strict();

/** `keisan admin ldap …` over the API: operators only; applying a sync is audited. */
export function registerLdapRoutes(app: ZodApp, ldap: LdapService): void {
  const tags = ['ldap'];
  app.get(
    '/api/admin/ldap/status',
    { schema: { tags, summary: 'accounts.ldap: the mode, whether the directory answers, and (publish) whether every Keisan change reached it, the last error and the next retry (operators)', response: { 200: ldapStatusSchema, ...ldapErrors } } },
    async (request) => ldap.status(authOf(request).actor),
  );
  app.get(
    '/api/admin/ldap/sync',
    { schema: { tags, summary: 'What a sync would change: publish — adds, changes and removals under Keisan\'s OUs in the directory; use — users to create or update in Keisan (operators; changes nothing)', response: { 200: ldapSyncResultSchema, ...ldapErrors } } },
    async (request) => ldap.sync(authOf(request).actor, false),
  );
  app.post(
    '/api/admin/ldap/sync',
    { schema: { tags, summary: 'Make the sync\'s changes, then read again; `remaining` lists what still differs (operators; audited)', body: syncBody.nullish(), response: { 200: ldapSyncResultSchema, ...ldapErrors } } },
    async (request) => ldap.sync(authOf(request).actor, request.body?.apply ?? true),
  );
}
