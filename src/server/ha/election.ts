import pg from 'pg';

/**
 * The election: a PostgreSQL session-level advisory lock held on a dedicated connection (not
 * from the facility's pool). Whoever holds it is the active server. PostgreSQL releases it the
 * moment the holder's session ends: a killed process closes its socket at once; a host that
 * vanishes is dropped by the server-side TCP keepalives set on the session (≈ 11 s), while the
 * holder itself notices a dead connection within one query timeout and fences itself first.
 */
export interface LeaderLockOptions {
  databaseUrl: string;
  key: number;
  /** A query on the lock connection that takes longer than this counts as a lost connection. */
  queryTimeoutMs: number;
  /** Called once when the connection fails or closes while the lock may be held. */
  onLost: (reason: string) => void;
}

/** Server-side keepalives: a silent client is dropped after idle + interval × count seconds. */
const SESSION_SETTINGS = [
  "set application_name = 'keisan-ha-lock'",
  'set statement_timeout = 0',
  'set idle_in_transaction_session_timeout = 0',
  'set tcp_keepalives_idle = 5',
  'set tcp_keepalives_interval = 2',
  'set tcp_keepalives_count = 3',
];

export class LeaderLock {
  private client: pg.Client | null = null;
  private lost = false;
  /** True from a successful try until the connection is lost or closed. */
  holding = false;

  constructor(private readonly options: LeaderLockOptions) {}

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      keepAlive: true,
      keepAliveInitialDelayMillis: 2_000,
      query_timeout: this.options.queryTimeoutMs,
      connectionTimeoutMillis: Math.max(this.options.queryTimeoutMs, 2_000),
    });
    const fail = (reason: string) => {
      if (this.client !== client) return;
      this.client = null;
      const held = this.holding;
      this.holding = false;
      client.end().catch(() => undefined);
      if (held && !this.lost) {
        this.lost = true;
        this.options.onLost(reason);
      }
    };
    client.on('error', (error) => fail(`the lock connection failed: ${error.message}`));
    client.on('end', () => fail('the lock connection closed'));
    this.client = client;
    try {
      await client.connect();
      // The settings in one round trip: a session with no timeouts but with keepalives.
      await client.query(SESSION_SETTINGS.join('; '));
    } catch (error) {
      fail(`could not open the lock connection: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    return client;
  }

  /** Tries once to take the lock; false while another server holds it. */
  async tryAcquire(): Promise<boolean> {
    const client = await this.connection();
    const result = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [this.options.key]);
    const locked = result.rows[0]?.locked === true;
    if (locked) {
      this.holding = true;
      this.lost = false;
    }
    return locked;
  }

  /** Whether this session still holds the lock (asked of PostgreSQL, not remembered). */
  async verify(): Promise<boolean> {
    const client = this.client;
    if (!client || !this.holding) return false;
    try {
      const result = await client.query<{ held: boolean }>(
        "select exists (select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted and ((classid::bigint << 32) | objid::bigint) = $1::bigint) as held",
        [this.options.key],
      );
      const held = result.rows[0]?.held === true;
      if (!held) this.holding = false;
      return held;
    } catch (error) {
      // A failed or timed-out query: the connection may be gone; its lock with it.
      this.holding = false;
      const client = this.client;
      this.client = null;
      client?.end().catch(() => undefined);
      if (!this.lost) {
        this.lost = true;
        this.options.onLost(`checking the lock failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      return false;
    }
  }

  /** Ends the session (and so releases the lock, if held). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.holding = false;
    this.lost = true;
    if (client) await client.end().catch(() => undefined);
  }
}
