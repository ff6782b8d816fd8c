import { z } from 'zod';
import { loginNetworks } from './login-networks.ts';

/**
 * Names of users, workgroups and subgroups become Unix user and group names on every host,
 * so they follow the portable rule useradd(8) documents: lower case letter or underscore first,
 * then lower case letters, digits, underscores or hyphens, at most 32 characters.
 */
export const UNIX_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
export const UNIX_NAME_RULE =
  'start with a lower-case letter or underscore, then use only a-z, 0-9, _ and -, at most 32 characters';

export const unixName = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(32, `${what} is longer than 32 characters`)
    .regex(UNIX_NAME_PATTERN, `${what} is not a valid Unix name: ${UNIX_NAME_RULE}`);

/** PostgreSQL cannot store NUL in text, and no Unix file wants one: refused in every free text. */
const hasNoNul = (s: string) => !s.includes('\0');
export const noNul = (what: string) => z.string().refine(hasNoNul, `${what} must not contain NUL characters`);

export const description = z
  .string()
  .max(500, 'description is longer than 500 characters')
  .refine(hasNoNul, 'description must not contain NUL characters');
export const fullName = z
  .string()
  .max(200, 'full name is longer than 200 characters')
  .refine((s) => !/[:\n\r\0]/.test(s), 'full name must not contain ":", line breaks or NUL (it goes into the GECOS field)');
export const email = z.email('not a valid e-mail address').max(254);
export const password = z
  .string()
  .min(10, 'password must have at least 10 characters')
  .max(1024, 'password is longer than 1024 characters');
export const unixId = z.number().int().min(1000, 'ids below 1000 are reserved for the system').max(2_147_483_646);
export const shell = z.string().regex(/^\/[^\s:\0]*$/, 'shell must be an absolute path without spaces, ":" or NUL').max(255);
export const home = z.string().regex(/^\/[^\s:\0]*$/, 'home must be an absolute path without spaces, ":" or NUL').max(1024);

export type Role = 'operator' | 'workgroup-admin' | 'subgroup-admin' | 'user';

/** Who is acting: resolved from a ticket for every request, or the system itself. */
export interface Actor {
  kind: 'user' | 'system';
  userId: number;
  name: string;
  isOperator: boolean;
  /** Workgroup ids this actor administers. */
  workgroupAdminOf: number[];
  /** Subgroup ids this actor administers. */
  subgroupAdminOf: number[];
  address: string | null;
}

export const SYSTEM_ACTOR: Actor = {
  kind: 'system',
  userId: 0,
  name: 'keisan',
  isOperator: true,
  workgroupAdminOf: [],
  subgroupAdminOf: [],
  address: null,
};

const timestamp = z.string().describe('ISO-8601 UTC time');

export const roleGrantSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('operator') }),
  z.object({ role: z.literal('workgroup-admin'), workgroup: z.string() }),
  z.object({ role: z.literal('subgroup-admin'), subgroup: z.string() }),
]);
export type RoleGrant = z.infer<typeof roleGrantSchema>;

export const workgroupSchema = z.object({
  name: z.string(),
  description: z.string(),
  gid: z.number().int(),
  subgroups: z.array(z.string()),
  admins: z.array(z.string()),
  loginNetworks: z.array(z.string()).describe('CIDR networks its users may log in from; empty = anywhere'),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Workgroup = z.infer<typeof workgroupSchema>;

export const subgroupSchema = z.object({
  name: z.string(),
  workgroup: z.string(),
  description: z.string(),
  gid: z.number().int(),
  admins: z.array(z.string()),
  /** Users whose primary subgroup this is (shown in full to the subgroup's admins only). */
  primaryMembers: z.array(z.string()),
  /** Users who joined it as an extra membership (shown in full to the subgroup's admins only). */
  extraMembers: z.array(z.string()),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type Subgroup = z.infer<typeof subgroupSchema>;

export const userSchema = z.object({
  name: z.string(),
  fullName: z.string(),
  email: z.string().nullable(),
  uid: z.number().int(),
  gid: z.number().int(),
  primarySubgroup: z.string(),
  workgroup: z.string(),
  subgroups: z.array(z.string()).describe('extra memberships'),
  home: z.string(),
  shell: z.string(),
  isOperator: z.boolean(),
  locked: z.boolean(),
  lockReason: z.string().nullable(),
  hasPassword: z.boolean(),
  roles: z.array(roleGrantSchema),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export type User = z.infer<typeof userSchema>;

// ---- request bodies: strict, so unknown fields are refused with their names ----

export const createWorkgroupInput = z
  .object({
    name: unixName('workgroup name'),
    description: description.optional(),
    gid: unixId.optional(),
    loginNetworks: loginNetworks.optional().describe('CIDR networks its users may log in from (operators); empty = anywhere'),
  })
  .strict();
export type CreateWorkgroupInput = z.infer<typeof createWorkgroupInput>;

export const updateWorkgroupInput = z
  .object({ description: description.optional(), loginNetworks: loginNetworks.optional().describe('CIDR networks its users may log in from (operators); [] = anywhere') })
  .strict();
export type UpdateWorkgroupInput = z.infer<typeof updateWorkgroupInput>;

export const createSubgroupInput = z
  .object({
    workgroup: unixName('workgroup name'),
    name: unixName('subgroup name'),
    description: description.optional(),
    gid: unixId.optional(),
  })
  .strict();
export type CreateSubgroupInput = z.infer<typeof createSubgroupInput>;

export const updateSubgroupInput = z.object({ description: description.optional() }).strict();
export type UpdateSubgroupInput = z.infer<typeof updateSubgroupInput>;

export const createUserInput = z
  .object({
    name: unixName('user name'),
    primarySubgroup: unixName('subgroup name'),
    fullName: fullName.optional(),
    email: email.optional(),
    uid: unixId.optional(),
    home: home.optional(),
    shell: shell.optional(),
    password: password.optional(),
    subgroups: z.array(unixName('subgroup name')).max(64).optional(),
    operator: z.boolean().optional(),
  })
  .strict();
export type CreateUserInput = z.infer<typeof createUserInput>;

export const updateUserInput = z
  .object({
    fullName: fullName.optional(),
    email: email.nullable().optional(),
    primarySubgroup: unixName('subgroup name').optional(),
    home: home.optional(),
    shell: shell.optional(),
    password: password.optional(),
    locked: z.boolean().optional(),
    lockReason: noNul('lock reason').max(500).optional(),
    operator: z.boolean().optional(),
  })
  .strict();
export type UpdateUserInput = z.infer<typeof updateUserInput>;

export const loginInput = z
  .object({
    user: noNul('user').min(1, 'user must not be empty').max(64, 'user is longer than 64 characters'),
    password: z.string().min(1, 'password must not be empty').max(1024, 'password is longer than 1024 characters'),
  })
  .strict();

export const changePasswordInput = z.object({ current: z.string().max(1024), new: password }).strict();

export const ticketInfoSchema = z.object({ issuedAt: timestamp, expiresAt: timestamp, renewUntil: timestamp });
export type TicketInfo = z.infer<typeof ticketInfoSchema>;

export const whoAmISchema = z.object({ user: userSchema, ticket: ticketInfoSchema });
export type WhoAmI = z.infer<typeof whoAmISchema>;
