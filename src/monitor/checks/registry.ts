import type { CheckType } from './check-type.ts';
import certificate from './types/certificate.ts';
import duplicateIp from './types/duplicate-ip.ts';
import filesystem from './types/filesystem.ts';
import hardware from './types/hardware.ts';
import http from './types/http.ts';
import inodes from './types/inodes.ts';
import mirror from './types/mirror.ts';
import ping from './types/ping.ts';
import processCheck from './types/process.ts';
import raid from './types/raid.ts';
import ssh from './types/ssh.ts';
import storageLog from './types/storage-log.ts';
import tcp from './types/tcp.ts';
import timeDrift from './types/time-drift.ts';

/** Every check type the agent knows, by name: one module each in types/. A new type is one file and one line here. */
export const CHECK_TYPES: ReadonlyMap<string, CheckType> = new Map(
  ([ping, tcp, ssh, http, processCheck, filesystem, inodes, raid, mirror, hardware, storageLog, timeDrift, certificate, duplicateIp] as CheckType[]).map((check) => [check.type, check]),
);

export const CHECK_TYPE_NAMES = [...CHECK_TYPES.keys()];

export function checkTypeOf(type: string): CheckType | undefined {
  return CHECK_TYPES.get(type);
}
