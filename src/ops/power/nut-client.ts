import { Socket } from 'node:net';
import type { UpsAddress } from './settings.ts';

/**
 * A client of upsd, NUT's network server (the line protocol of docs/net-protocol.txt, the one
 * upsc speaks): one TCP connection, one request at a time, each line answered by one line (or a
 * BEGIN LIST … END LIST block). `ERR <CODE>` answers become a NutError with that code; a broken
 * or silent connection becomes NutError CONNECTION and the next request connects again.
 * No well-kept NUT client exists on npm (node-nut: callbacks, no timeouts), so this one is small
 * and hand-written.
 */

export class NutError extends Error {
  /** upsd's code (DATA-STALE, UNKNOWN-UPS, VAR-NOT-SUPPORTED, ACCESS-DENIED, …), CONNECTION or PROTOCOL. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NutError';
    this.code = code;
  }
}

const ERROR_TEXT: Record<string, string> = {
  'DATA-STALE': 'upsd has no fresh data from the UPS driver (the driver is down or the UPS stopped answering)',
  'UNKNOWN-UPS': 'upsd does not know this UPS (check the name in ups.conf)',
  'DRIVER-NOT-CONNECTED': 'upsd is not connected to the UPS driver',
  'VAR-NOT-SUPPORTED': 'the UPS does not report this variable',
  'ACCESS-DENIED': 'upsd refused access (user, password or the address this host connects from)',
  'INVALID-USERNAME': 'upsd refused the user name',
  'INVALID-PASSWORD': 'upsd refused the password',
  'USERNAME-REQUIRED': 'upsd wants USERNAME before PASSWORD',
  'ALREADY-SET-USERNAME': 'the user name was already sent on this connection',
  'ALREADY-SET-PASSWORD': 'the password was already sent on this connection',
};

/** Pure: one quoted NUT word → its text (`"a \"b\""` → `a "b"`). */
export function unquote(text: string): string {
  if (!text.startsWith('"') || !text.endsWith('"') || text.length < 2) return text;
  return text.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Pure: a word as NUT reads it: quoted (with \\ and \" escaped) when it has spaces, quotes or backslashes. */
export function quote(text: string): string {
  return /^[^\s"\\]+$/.test(text) ? text : `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** Pure: `VAR dummy ups.status "OB LB"` → ['ups.status', 'OB LB'] for UPS `dummy`; null when it is not such a line. */
export function parseVarLine(line: string, ups: string): [string, string] | null {
  const prefix = `VAR ${ups} `;
  if (!line.startsWith(prefix)) return null;
  const rest = line.slice(prefix.length);
  const space = rest.indexOf(' ');
  if (space <= 0) return null;
  return [rest.slice(0, space), unquote(rest.slice(space + 1))];
}

/** Pure: `ERR DATA-STALE` → the error; null for any other line. */
export function errorOfLine(line: string): NutError | null {
  const match = /^ERR ([A-Z0-9-]+)(?: (.*))?$/.exec(line);
  if (!match) return null;
  const code = match[1]!;
  return new NutError(code, `upsd answered ERR ${code}${match[2] ? ` ${match[2]}` : ''}: ${ERROR_TEXT[code] ?? 'see NUT\'s network protocol documentation'}`);
}

export interface NutClientOptions {
  address: UpsAddress;
  /** Per request (and for connecting). */
  timeoutMs: number;
  /** Optional login (upsd.users). */
  login?: { user: string; password: string };
}

/** A request waiting for its answer: it collects lines until `done` says the answer is complete. */
interface Pending {
  lines: string[];
  done: (line: string, lines: string[]) => boolean;
  resolve: (lines: string[]) => void;
  reject: (error: NutError) => void;
  timer: NodeJS.Timeout;
}

export class NutClient {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buffer = '';
  private pending: Pending | null = null;
  /** Requests run one after another on the one connection. */
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: NutClientOptions) {}

  get ups(): string {
    return this.o.address.name;
  }

  /** `GET VAR <ups> <name>` → the value. */
  async getVar(name: string): Promise<string> {
    const ups = this.o.address.name;
    const [line] = await this.request(`GET VAR ${ups} ${name}`, () => true);
    const parsed = parseVarLine(line!, ups);
    if (!parsed || parsed[0] !== name) throw new NutError('PROTOCOL', `upsd answered '${line}' to GET VAR ${ups} ${name}`);
    return parsed[1];
  }

  /** `LIST VAR <ups>` → every variable and its value. */
  async listVars(): Promise<Map<string, string>> {
    const ups = this.o.address.name;
    const lines = await this.request(`LIST VAR ${ups}`, (line, all) => (all.length === 1 && line !== `BEGIN LIST VAR ${ups}`) || line === `END LIST VAR ${ups}`);
    if (lines[0] !== `BEGIN LIST VAR ${ups}`) throw new NutError('PROTOCOL', `upsd answered '${lines[0]}' to LIST VAR ${ups}`);
    const vars = new Map<string, string>();
    for (const line of lines.slice(1, -1)) {
      const parsed = parseVarLine(line, ups);
      if (parsed) vars.set(parsed[0], parsed[1]);
    }
    return vars;
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.socket = null;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end('LOGOUT\n');
      setTimeout(() => socket.destroy(), 500).unref();
    });
  }

  private request(line: string, done: Pending['done']): Promise<string[]> {
    const run = async () => {
      if (this.closed) throw new NutError('CONNECTION', 'the NUT client is closed');
      const socket = await this.connection();
      return this.exchange(socket, line, done);
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Sends one line and collects its answer; an ERR line rejects with its code. */
  private exchange(socket: Socket, line: string, done: Pending['done']): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(new NutError('CONNECTION', `upsd at ${this.where()} did not answer '${line.split(' ').slice(0, 2).join(' ')} …' within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      this.pending = { lines: [], done, resolve, reject, timer };
      socket.write(`${line}\n`);
    });
  }

  private where(): string {
    const { host, port } = this.o.address;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      const pending = this.pending;
      if (!pending) continue;
      const error = pending.lines.length === 0 ? errorOfLine(line) : null;
      if (error) {
        this.settle(pending);
        pending.reject(error);
        continue;
      }
      pending.lines.push(line);
      if (pending.done(line, pending.lines)) {
        this.settle(pending);
        pending.resolve(pending.lines);
      }
    }
    // A peer that never ends a line must not grow the buffer without bound.
    if (this.buffer.length > 1 << 20) this.drop(new NutError('PROTOCOL', `upsd at ${this.where()} sent a line longer than 1 MiB`));
  }

  private settle(pending: Pending): void {
    clearTimeout(pending.timer);
    if (this.pending === pending) this.pending = null;
  }

  /** Closes the connection and fails the request in flight; the next request connects again. */
  private drop(error: NutError): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = '';
    socket?.destroy();
    const pending = this.pending;
    if (pending) {
      this.settle(pending);
      pending.reject(error);
    }
  }

  private connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<Socket> {
    const { host, port } = this.o.address;
    const socket = new Socket();
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new NutError('CONNECTION', `cannot connect to upsd at ${this.where()}: no answer within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new NutError('CONNECTION', `cannot connect to upsd at ${this.where()}: ${error.message}`));
      });
      socket.connect(port, host, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    socket.removeAllListeners('error');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.drop(new NutError('CONNECTION', `upsd at ${this.where()} closed the connection`));
    });
    this.socket = socket;
    if (this.o.login) {
      try {
        for (const line of [`USERNAME ${quote(this.o.login.user)}`, `PASSWORD ${quote(this.o.login.password)}`]) {
          const [answer] = await this.exchange(socket, line, () => true);
          if (answer !== 'OK') throw new NutError('PROTOCOL', `upsd answered '${answer}' to ${line.split(' ')[0]}`);
        }
      } catch (error) {
        this.drop(error instanceof NutError ? error : new NutError('CONNECTION', String(error)));
        throw error;
      }
    }
    return socket;
  }
}
