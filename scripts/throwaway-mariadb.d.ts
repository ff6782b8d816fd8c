export function mariadbInstalled(): boolean;

export interface ThrowawayMariadb {
  /** mysql://keisan:PASSWORD@127.0.0.1:PORT — a user allowed everything, no database chosen. */
  url: string;
  version: string;
  stop(): Promise<void>;
}

export function startThrowawayMariadb(options?: { timeoutMs?: number }): Promise<ThrowawayMariadb>;
