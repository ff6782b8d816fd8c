import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../../cli/context.ts';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import { daemonConnection } from '../daemon-options.ts';
import type { Assessed, Drain, LoginHostAnswer } from './model.ts';
import { serverSet } from '../../server/ha/follow.ts';

const stateColour: Record<Assessed['state'], (s: string) => string> = { 'in-pool': pc.green, standby: pc.yellow, out: pc.red };

function poolTable(out: ReturnType<typeof outputOf>, hosts: readonly Assessed[]): void {
  out.table(
    ['HOST', 'ADDRESS', 'STATE', 'WEIGHT', 'WHY'],
    hosts.map((h) => [h.host, h.address, stateColour[h.state](h.state), h.weight === null ? '-' : h.weight.toFixed(2), h.reason]),
    '(no login hosts: give inventory hosts the login role, e.g. keisan ops hosts add login1 --role login --address 10.0.0.21)',
  );
}

interface LoginCheckAnswer {
  allowed: boolean;
  reason: string;
}

/** `keisan login-host`, `keisan login-hosts [drain|undrain]`, `keisan login-check`. */
export function registerLoginHostCommands(program: Command): void {
  program
    .command('login-host')
    .description('a healthy login host to log in to: the same one as before while it stays healthy, else the least loaded in turn')
    .option('-u, --user <user>', 'choose for this user (default: you, when logged in)')
    .option('-q, --quiet', 'print only the address (for scripts and ssh ProxyCommand)')
    .addHelpText('after', examples('keisan login-host', 'ssh "$(keisan login-host -q)"', 'keisan login-host --user alice --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const answer = await clientOf(command).request<LoginHostAnswer>('GET', '/api/login-host', undefined, { user: options.user });
      if (options.quiet && !out.json) {
        out.line(answer.address);
        return;
      }
      out.result(answer, () => {
        out.fields([
          ['host', answer.host],
          ['address', answer.address],
          ['why', answer.why],
        ]);
        if (answer.hosts && answer.hosts.length > 1) {
          out.line();
          poolTable(out, answer.hosts);
        }
      });
    });

  const pool = program.command('login-hosts').description('the login pool: every host with the login role, in or out and why; drain and undrain (operators)');
  pool
    .command('list', { isDefault: true })
    .alias('ls')
    .description('every login host: in the pool, standby (degraded) or out, and why')
    .addHelpText('after', examples('keisan login-hosts', 'keisan login-hosts --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const answer = await clientOf(command).request<{ hosts: Assessed[]; drains: Drain[] }>('GET', '/api/login-hosts');
      out.result(answer, () => poolTable(out, answer.hosts));
    });
  pool
    .command('drain')
    .description('take a login host out of the pool: no new users go to it; those on it stay (audited)')
    .argument('<host>', 'the login host')
    .requiredOption('-r, --reason <text>', 'why (shown to operators and in the audit log)')
    .addHelpText('after', examples('keisan login-hosts drain login2 --reason "kernel update tonight"'))
    .action(async (host, options, command) => {
      const out = outputOf(command);
      const drain = await clientOf(command).request<Drain>('PUT', `/api/login-hosts/${encodeURIComponent(host)}/drain`, { reason: options.reason });
      out.result(drain, () => out.line(`${drain.host} is out of the login pool: ${drain.reason}`));
    });
  pool
    .command('undrain')
    .description('put a drained login host back into the pool (audited)')
    .argument('<host>', 'the login host')
    .action(async (host, _options, command) => {
      const out = outputOf(command);
      await clientOf(command).request('DELETE', `/api/login-hosts/${encodeURIComponent(host)}/drain`);
      out.result({ host, drained: false }, () => out.line(`${host} is back in the login pool (if it is healthy and not in maintenance).`));
    });

  program
    .command('login-check')
    .description(
      "may USER open a session from ADDR (their workgroups' login networks)? Exit 0 yes, 1 no, with the reason on stdout — for a login host's pam_exec; " +
        'authenticates with the node secret (KEISAN_NODE_SECRET or DATA/node-secret), like the agent',
    )
    .option('-u, --user <user>', 'the user logging in (default: $PAM_USER)')
    .option('-f, --from <address>', 'the address they come from (default: $PAM_RHOST)')
    .option('--host <name>', 'this login host, for the audit log (default: none)')
    .option('--data <dir>', 'the data directory with keisan.yaml and node-secret (default: $KEISAN_DATA or ~/.keisan/data)')
    .option('--fail-open', 'allow the login (exit 0, with a warning) when the server cannot be reached')
    .addHelpText('after', examples('keisan login-check --user alice --from 10.1.2.3', 'keisan login-check   # under pam_exec: PAM_USER and PAM_RHOST'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const user = options.user ?? process.env.PAM_USER;
      const from = options.from ?? process.env.PAM_RHOST;
      if (!user) throw invalidInput('no user: give --user or run under pam_exec (PAM_USER)');
      if (!from) {
        // A local login (console, su) has no remote address: the network rule is about where users come from.
        out.result({ allowed: true, reason: 'no remote address (a local login): not restricted' }, () => out.line('allowed: no remote address (a local login): not restricted'));
        return;
      }
      const connection = daemonConnection({ ...(options.data ? { data: options.data } : {}), ...(globalsOf(command).server ? { server: globalsOf(command).server } : {}) });
      const url = new URL('/api/auth/login-check', connection.serverUrl);
      url.searchParams.set('user', user);
      url.searchParams.set('from', from);
      if (options.host) url.searchParams.set('host', options.host);
      let answer: LoginCheckAnswer;
      try {
        const response = await serverSet(connection.serverUrl).fetch(url.pathname + url.search, { headers: { accept: 'application/json', authorization: `Node ${connection.nodeSecret}` }, signal: AbortSignal.timeout(10_000) });
        const body = (await response.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | LoginCheckAnswer | undefined;
        if (!response.ok || !body || !('allowed' in body)) {
          const message = body && 'error' in body && body.error?.message ? body.error.message : `HTTP ${response.status}`;
          throw new KeisanError(response.status === 401 ? 'NOT_AUTHENTICATED' : 'UNAVAILABLE', `the server refused the check: ${message}`);
        }
        answer = body;
      } catch (error) {
        const unreachable = !(error instanceof KeisanError);
        if (unreachable && options.failOpen) {
          process.stderr.write(`keisan: warning: cannot reach ${connection.serverUrl} (${error instanceof Error ? error.message : String(error)}): allowing the login (--fail-open)\n`);
          return;
        }
        if (unreachable) throw new KeisanError('UNAVAILABLE', `cannot reach the Keisan server at ${connection.serverUrl} to check where ${user} may log in from`);
        throw error;
      }
      out.result(answer, () => out.line(`${answer.allowed ? 'allowed' : 'refused'}: ${answer.reason}`));
      // The reason went to stdout (what pam_exec's `stdout` option shows the user); the error makes the exit code 1.
      if (!answer.allowed) throw new KeisanError('FORBIDDEN', `login refused: ${user} from ${from}`);
    });
}
