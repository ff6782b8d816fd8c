import { z } from 'zod';
import { parseDuration } from '../../lib/units.ts';
import { duration } from '../../lib/zod-units.ts';

/**
 * keisan.yaml `accounts.ldap:` (optional; absent = Keisan keeps its accounts to itself).
 * This module must not import src/lib/config.ts (config.ts imports `ldapSettings` from here).
 */

const dn = (what: string) =>
  z
    .string({ error: `${what} must be a DN such as dc=example,dc=org` })
    .min(3, `${what} must be a DN such as dc=example,dc=org`)
    .max(1024)
    .regex(/^[A-Za-z][A-Za-z0-9-]*=[^,]+(,[A-Za-z][A-Za-z0-9-]*=[^,]+)*$/, `${what} is not a DN: write it as attr=value pairs separated by commas, e.g. dc=example,dc=org`);
const unixName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Keisan group name (lower case, a-z 0-9 _ -)');

export const groupMapRule = z
  .object({
    /** The directory group's DN (a posixGroup, groupOfNames or groupOfUniqueNames). */
    group: dn('groupMap.group'),
    workgroup: unixName,
    subgroup: unixName,
  })
  .strict();
export type GroupMapRule = z.infer<typeof groupMapRule>;

export const ldapSettings = z
  .object({
    /** publish: Keisan writes its users and groups into the directory; use: Keisan logs users in against the site's directory. */
    mode: z.enum(['publish', 'use'], { message: "accounts.ldap.mode is 'publish' (Keisan writes its users and groups into the directory) or 'use' (Keisan authenticates against the site's directory)" }),
    url: z.string().regex(/^ldaps?:\/\/[^\s/]+\/?$/, 'accounts.ldap.url is ldap://HOST[:PORT] or ldaps://HOST[:PORT]'),
    baseDn: dn('accounts.ldap.baseDn'),
    /** Who Keisan binds as (publish: may write under the OUs; use: may search users and groups). Absent in use mode: anonymous search. */
    bindDn: dn('accounts.ldap.bindDn').optional(),
    /** A file holding the bind password (mode 0600; relative: from the data directory). Never the password itself. */
    bindPasswordFile: z.string().min(1).optional(),
    bindPassword: z.never('a password never goes in keisan.yaml: put it in a file only the server can read (mode 0600) and name it in bindPasswordFile').optional(),
    /** Where users are, relative to baseDn (publish: Keisan's OU; use: the search base). */
    usersOu: z.string().min(3).default('ou=people'),
    groupsOu: z.string().min(3).default('ou=groups'),
    /** Connect and operation timeout. */
    timeout: duration.default(parseDuration('5s')),
    /** publish: how long to wait before trying again when the directory could not be written. */
    retryInterval: duration.default(parseDuration('30s')),
    /** use: directory groups → Keisan workgroups and subgroups; the first rule of a user's primary group (gidNumber) gives the primary subgroup. */
    groupMap: z.array(groupMapRule).max(1000).default([]),
  })
  .strict()
  .superRefine((ldap, ctx) => {
    if (ldap.mode === 'publish' && !ldap.bindDn) ctx.addIssue({ code: 'custom', path: ['bindDn'], message: 'publish mode writes into the directory: give the bindDn allowed to write under usersOu and groupsOu' });
    if (ldap.bindDn && !ldap.bindPasswordFile) ctx.addIssue({ code: 'custom', path: ['bindPasswordFile'], message: `bindDn '${ldap.bindDn}' needs a bindPasswordFile naming the file that holds its password` });
    if (ldap.mode === 'use' && ldap.groupMap.length === 0) ctx.addIssue({ code: 'custom', path: ['groupMap'], message: "use mode needs at least one groupMap rule, e.g. groupMap: [{ group: 'cn=ml,ou=groups,dc=example,dc=org', workgroup: lab, subgroup: lab-ml }]" });
  });

export type LdapSettings = z.output<typeof ldapSettings>;
