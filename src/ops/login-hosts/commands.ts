import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../../cli/context.ts';
import { invalidInput, KeisanError } from '../../lib/errors.ts';
import { daemonConnection } from '../daemon-options.ts';
import type { Assessed, Drain, LoginHostAnswer } from './model.ts';
import { serverSet } from '../../server/ha/follow.ts';
import { t } from '../../lib/i18n/index.ts';

const stateColour: Record<Assessed['state'], (s: string) => string> = { 'in-pool': pc.green, standby: pc.yellow, out: pc.red };

function poolTable(out: ReturnType<typeof outputOf>, hosts: readonly Assessed[]): void {
  out.table(
    [t('col.host'), t('col.address'), t('col.state'), t('col.weight'), t('col.why')],
    hosts.map((h) => [h.host, h.address, stateColour[h.state](h.state), h.weight === null ? '-' : h.weight.toFixed(2), h.reason]),
    t('loginHosts.empty.login-hosts'),
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
    .description(t('loginHosts.login-host'))
    .option('-u, --user <user>', t('loginHosts.login-host.opt.user'))
    .option('-q, --quiet', t('loginHosts.login-host.opt.quiet'))
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
          [t('field.host'), answer.host],
          [t('field.address'), answer.address],
          [t('field.why'), answer.why],
        ]);
        if (answer.hosts && answer.hosts.length > 1) {
          out.line();
          poolTable(out, answer.hosts);
        }
      });
    });

  const pool = program.command('login-hosts').description(t('loginHosts.login-hosts'));
  pool
    .command('list', { isDefault: true })
    .alias('ls')
    .description(t('loginHosts.pool.list'))
    .addHelpText('after', examples('keisan login-hosts', 'keisan login-hosts --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const answer = await clientOf(command).request<{ hosts: Assessed[]; drains: Drain[] }>('GET', '/api/login-hosts');
      out.result(answer, () => poolTable(out, answer.hosts));
    });
  pool
    .command('drain')
    .description(t('loginHosts.pool.drain'))
    .argument('<host>', t('loginHosts.pool.drain.arg.host'))
    .requiredOption('-r, --reason <text>', t('loginHosts.pool.drain.opt.reason'))
    .addHelpText('after', examples('keisan login-hosts drain login2 --reason "kernel update tonight"'))
    .action(async (host, options, command) => {
      const out = outputOf(command);
      const drain = await clientOf(command).request<Drain>('PUT', `/api/login-hosts/${encodeURIComponent(host)}/drain`, { reason: options.reason });
      out.result(drain, () => out.line(t('loginHosts.msg.is-out-of-the-login', { host: drain.host, reason: drain.reason })));
    });
  pool
    .command('undrain')
    .description(t('loginHosts.pool.undrain'))
    .argument('<host>', t('loginHosts.pool.undrain.arg.host'))
    .action(async (host, _options, command) => {
      const out = outputOf(command);
      await clientOf(command).request('DELETE', `/api/login-hosts/${encodeURIComponent(host)}/drain`);
      out.result({ host, drained: false }, () => out.line(t('loginHosts.msg.is-back-in-the-login', { host })));
    });

  program
    .command('login-check')
    .description(t('loginHosts.login-check'))
    .option('-u, --user <user>', t('loginHosts.login-check.opt.user'))
    .option('-f, --from <address>', t('loginHosts.login-check.opt.from'))
    .option('--host <name>', t('loginHosts.login-check.opt.host'))
    .option('--data <dir>', t('loginHosts.login-check.opt.data'))
    .option('--fail-open', t('loginHosts.login-check.opt.fail-open'))
    .addHelpText('after', examples('keisan login-check --user alice --from 10.1.2.3', 'keisan login-check   # under pam_exec: PAM_USER and PAM_RHOST'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const user = options.user ?? process.env.PAM_USER;
      const from = options.from ?? process.env.PAM_RHOST;
      if (!user) throw invalidInput(t('loginHosts.input.no-user-give-user-or'));
      if (!from) {
        // A local login (console, su) has no remote address: the network rule is about where users come from.
        out.result({ allowed: true, reason: 'no remote address (a local login): not restricted' }, () => out.line(t('loginHosts.msg.allowed-no-remote-address-a')));
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
