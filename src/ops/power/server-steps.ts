import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { BatchService } from '../../batch/service.ts';
import { hookActor } from '../../incidents/service.ts';
import { KeisanError } from '../../lib/errors.ts';
import { processExists } from '../../lib/process.ts';
import { formatDuration } from '../../lib/units.ts';
import type { HsmService } from '../../storage/hsm/service.ts';
import type { StorageService } from '../../storage/service.ts';
import type { DaemonsService } from '../daemons.ts';
import type { DaemonStop, PlanInput, StepRunner } from './plan.ts';
import { policyForQueue, type PowerSettings } from './settings.ts';

/**
 * The shutdown plan's steps as the server carries them out (plan.ts orders them). With a
 * `keisan up` supervisor for this data directory, step 4 hands over to a detached finisher that
 * asks the supervisor to stop (agent, server, watchdog, in that order), waits until it has exited,
 * and then — step 5 — runs the shutdown command: the server cannot run anything after it has been
 * stopped itself. Without a supervisor the server stops the registered agents of this host, its
 * own services, then the watchdogs, and runs the shutdown command itself.
 */

/** `keisan up` writes its pid here (src/ops/up.ts). */
const SUPERVISOR_LOCK = 'keisan-up.pid';
const SHUTDOWN_LOG = path.join('logs', 'power-shutdown.log');
const DAEMON_STOP_WAIT_MS = 10_000;
const SHUTDOWN_COMMAND_TIMEOUT_MS = 120_000;

export interface ServerStepsOptions {
  settings: PowerSettings;
  ups: string;
  batch: BatchService;
  hsm: HsmService;
  storage: StorageService;
  daemons: DaemonsService;
  /** The data directory (null: a server without one, e.g. in tests: no supervisor). */
  dataDir: string | null;
  logger: FastifyBaseLogger;
}

/** The pid of a live `keisan up` for this data directory, or null. */
export function supervisorPid(dataDir: string | null): number | null {
  if (!dataDir) return null;
  const lock = path.join(dataDir, SUPERVISOR_LOCK);
  if (!existsSync(lock)) return null;
  const pid = Number(readFileSync(lock, 'utf8').trim());
  return Number.isInteger(pid) && pid > 1 && pid !== process.pid && processExists(pid) ? pid : null;
}

/** The same machine, whether the daemon registered its short or its full name. */
const thisHost = (host: string) => host.split('.')[0] === hostname().split('.')[0];

async function daemonStop(o: ServerStepsOptions): Promise<DaemonStop> {
  const pid = supervisorPid(o.dataDir);
  if (pid !== null) return { by: 'supervisor', pid };
  // Only daemons heard from recently: a stale one's pid may belong to another process by now.
  const local = (await o.daemons.list()).filter((d) => d.state === 'up' && thisHost(d.host) && d.pid !== process.pid);
  return { by: 'server', agents: local.filter((d) => d.kind === 'agent').map((d) => d.pid), watchdogs: local.filter((d) => d.kind === 'watchdog').map((d) => d.pid) };
}

export function serverPlanInput(o: ServerStepsOptions): () => Promise<PlanInput> {
  return async () => ({ settings: o.settings, running: o.batch.runningJobs(), daemons: await daemonStop(o) });
}

/** SIGTERM to each pid, then wait until all are gone (SIGKILL after DAEMON_STOP_WAIT_MS). */
async function terminate(pids: number[]): Promise<string[]> {
  const problems: string[] = [];
  const sent: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
      sent.push(pid);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') problems.push(`pid ${pid}: ${code ?? String(error)}`);
    }
  }
  const deadline = Date.now() + DAEMON_STOP_WAIT_MS;
  while (sent.some(processExists) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pid of sent.filter(processExists)) {
    try {
      process.kill(pid, 'SIGKILL');
      problems.push(`pid ${pid} ignored SIGTERM for ${formatDuration(DAEMON_STOP_WAIT_MS)}: killed`);
    } catch {
      // gone meanwhile
    }
  }
  return problems;
}

/** Runs `command` with sh -c, its output appended to `log`; `done` resolves with the exit code (null: it could not start). Detached: it outlives the server. */
function runShell(command: string, log: string | null, env: NodeJS.ProcessEnv, detached: boolean): { pid: number | undefined; done: Promise<number | null> } {
  if (log) mkdirSync(path.dirname(log), { recursive: true });
  const fd = log ? openSync(log, 'a', 0o600) : 'ignore';
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', fd, fd], env, detached });
  if (typeof fd === 'number') closeSync(fd);
  const done = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code));
  });
  if (detached) child.unref();
  return { pid: child.pid, done };
}

export function serverStepRunner(o: ServerStepsOptions): StepRunner {
  const actor = hookActor('power');
  const jobsReason = `power loss (UPS ${o.ups}): Keisan is shutting down`;
  return async (step, plan) => {
    switch (step.key) {
      case 'stop-dispatch': {
        o.batch.pauseDispatch(jobsReason);
        return 'the batch scheduler starts no job any more (pending jobs stay pending)';
      }
      case 'stop-jobs': {
        // Read again: the plan was made a moment before dispatching stopped.
        const running = o.batch.runningJobs();
        if (running.length === 0) return 'no job was running';
        const jobs = o.settings.jobs;
        const results = await Promise.all(
          running.map(async (job) => {
            const policy = policyForQueue(jobs, job.queue);
            try {
              if (policy === 'kill') {
                await o.batch.cancel(actor, job.id);
                return { ok: true, text: `job ${job.id} cancelled` };
              }
              const reason = `requeued: ${jobsReason}; it runs again when the facility is back`;
              const result = await o.batch.requeue(job.id, policy === 'checkpoint' ? { reason, signal: jobs.checkpointSignal as NodeJS.Signals, waitMs: jobs.checkpointWait } : { reason });
              if (result === 'requeued') return { ok: true, text: `job ${job.id} ${policy === 'checkpoint' ? `got ${jobs.checkpointSignal}, then ` : ''}requeued` };
              if (result === 'not-running') return { ok: true, text: `job ${job.id} had already ended` };
              return { ok: false, text: `job ${job.id}: killed, but its end was not reported within a minute` };
            } catch (error) {
              return { ok: false, text: `job ${job.id}: ${error instanceof Error ? error.message : String(error)}` };
            }
          }),
        );
        const text = results.map((r) => r.text).join('; ');
        if (results.some((r) => !r.ok)) throw new KeisanError('INTERNAL', text);
        return text;
      }
      case 'close-storage': {
        await o.hsm.close();
        o.storage.setWriteGuard(() => {
          throw new KeisanError('UNAVAILABLE', `storage is closed for writes: ${jobsReason}. Try again when the facility is back`);
        });
        await o.storage.close();
        await o.batch.flushed();
        return 'HSM migration, purge and staging stopped; new writes are refused; queued batch writes committed';
      }
      case 'stop-daemons': {
        const daemons = plan.daemons;
        if (daemons.by === 'supervisor') {
          if (!processExists(daemons.pid)) throw new KeisanError('CONFLICT', `keisan up (pid ${daemons.pid}) is no longer running: nothing to hand over to`);
          const then = o.settings.shutdownHost ? `; echo "$(date -u +%FT%TZ) keisan up has stopped: running the shutdown command"; ${o.settings.shutdownCommand}` : '';
          const script = `echo "$(date -u +%FT%TZ) power: asking keisan up (pid ${daemons.pid}) to stop"; kill -TERM ${daemons.pid}; while kill -0 ${daemons.pid} 2>/dev/null; do sleep 1; done${then}`;
          const finisher = runShell(script, path.join(o.dataDir!, SHUTDOWN_LOG), process.env, true);
          return `handed over to a detached finisher (pid ${finisher.pid ?? '?'}, log ${path.join(o.dataDir!, SHUTDOWN_LOG)}): keisan up (pid ${daemons.pid}) stops the agent, then the server, then the watchdog`;
        }
        const problems: string[] = [];
        problems.push(...(await terminate(daemons.agents)));
        await o.batch.close();
        problems.push(...(await terminate(daemons.watchdogs)));
        const done = `agents ${daemons.agents.length ? `(pid ${daemons.agents.join(', ')}) ` : ''}stopped, the server's batch service closed, watchdogs ${daemons.watchdogs.length ? `(pid ${daemons.watchdogs.join(', ')}) ` : ''}stopped`;
        if (problems.length) throw new KeisanError('INTERNAL', `${done}, with problems: ${problems.join('; ')}`);
        return done;
      }
      case 'shutdown-host': {
        if (plan.daemons.by === 'supervisor') return `the finisher runs \`${o.settings.shutdownCommand}\` once keisan up has exited`;
        o.logger.fatal({ command: o.settings.shutdownCommand }, 'power: shutting the host down');
        const run = runShell(o.settings.shutdownCommand, o.dataDir ? path.join(o.dataDir, SHUTDOWN_LOG) : null, process.env, false);
        const code = await Promise.race([run.done, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SHUTDOWN_COMMAND_TIMEOUT_MS).unref())]);
        if (code === 'timeout') return `\`${o.settings.shutdownCommand}\` still runs after ${formatDuration(SHUTDOWN_COMMAND_TIMEOUT_MS)} (pid ${run.pid ?? '?'})`;
        if (code !== 0) throw new KeisanError('INTERNAL', `\`${o.settings.shutdownCommand}\` failed (exit code ${code ?? 'none: it could not be started'})`);
        return `\`${o.settings.shutdownCommand}\` ran (exit code 0)`;
      }
    }
  };
}
