/**
 * HA failover time (issue 10): two real `keisan server` processes on loopback ports share one
 * PostgreSQL database and one data directory; the active one is killed with SIGKILL, and the
 * time from the kill to the first answer of an authenticated API request, through a client that
 * knows both URLs (the CLI's client, following the active server), is measured. The killed server
 * is started again (it stands by) before the next round, so every round kills the active one.
 *
 *   npm run bench:failover                  # 10 rounds, then the SLURM peer (about 15 minutes)
 *   npm run bench:failover -- --rounds=20
 *   npm run bench:failover -- --no-slurm    # Keisan only
 *
 * The peer, in the same run on the same machine (bench/failover-slurm.ts): SLURM 22.05's own
 * controller HA, a primary and a backup slurmctld sharing StateSaveLocation, the primary killed
 * with SIGKILL, timed until `squeue` (normal slurm.conf: it knows both controllers) answers.
 * Twice: with SLURM's default SlurmctldTimeout=120 (--slurm-default-rounds=N [3]) and tuned
 * (--slurm-tuned-timeout=S [5], --slurm-tuned-rounds=N [5]). A table with p50/max and the ratios
 * SLURM / Keisan is printed at the end. The SLURM part needs root and slurm-wlm + munge.
 *
 * PostgreSQL: KEISAN_TEST_POSTGRES_URL (a server we may create databases on), else a throwaway
 * cluster is started (scripts/throwaway-postgres.js, PostgreSQL installed by npm run deps).
 * Prints min / p50 / max; writes nothing. Everything it starts is stopped in `finally`.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ApiClient } from '../src/cli/client.ts';
import { createHaLab, killHard, spawnServer, stopProcess, type ServerProcess } from '../src/server/ha/testing.ts';
import { pathToFileURL } from 'node:url';
import { measureSlurmFailover, slurmFailoverSkip } from './failover-slurm.ts';

const roundsArg = process.argv.find((a) => a.startsWith('--rounds='));
const rounds = roundsArg ? Number(roundsArg.slice('--rounds='.length)) : 10;
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds=N: a whole number of rounds, at least 1');

function wholeArg(name: string, fallback: number, min: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name}=N: a whole number, at least ${min}`);
  return value;
}
const withSlurm = !process.argv.includes('--no-slurm');
const slurmDefaultRounds = wholeArg('slurm-default-rounds', 3, 0);
const slurmTunedRounds = wholeArg('slurm-tuned-rounds', 5, 0);
const slurmTunedTimeout = wholeArg('slurm-tuned-timeout', 5, 1);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Row {
  name: string;
  times: number[];
  /** SLURM: ms from the kill to the backup's "taking over" log line. */
  takeovers?: (number | null)[];
}

async function main(): Promise<void> {
  const keisanTimes = await measureKeisan();
  const rows: Row[] = [{ name: 'Keisan (2 servers, PostgreSQL)', times: keisanTimes }];
  if (withSlurm) {
    const skip = slurmFailoverSkip();
    if (skip) {
      console.log(`\nSLURM peer left out: ${skip}`);
    } else {
      const runs: Array<[number, number, string]> = [
        [slurmTunedTimeout, slurmTunedRounds, `SLURM 22.05 backup slurmctld, SlurmctldTimeout=${slurmTunedTimeout} (tuned)`],
        [120, slurmDefaultRounds, 'SLURM 22.05 backup slurmctld, SlurmctldTimeout=120 (default)'],
      ];
      for (const [timeoutS, slurmRounds, name] of runs) {
        if (slurmRounds === 0) continue;
        console.log(`\n${name}, ${slurmRounds} rounds:`);
        const result = await measureSlurmFailover({ slurmctldTimeoutS: timeoutS, rounds: slurmRounds, log: (line) => console.log(line) });
        rows.push({ name, times: result.times, takeovers: result.takeovers });
      }
    }
  }
  const keisanP50 = percentile([...keisanTimes].sort((x, y) => x - y), 50);
  const keisanMax = Math.max(...keisanTimes);
  const header = ['system', 'rounds', 'p50 ms', 'max ms', 'p50 / Keisan', 'max / Keisan'];
  const lines = rows.map((row) => {
    const sorted = [...row.times].sort((x, y) => x - y);
    const p50 = percentile(sorted, 50);
    const max = sorted.at(-1)!;
    return [row.name, String(row.times.length), p50.toFixed(0), max.toFixed(0), `${(p50 / keisanP50).toFixed(1)}×`, `${(max / keisanMax).toFixed(1)}×`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\nfailover: kill -9 of the active controller/server → first answer of a client that knows both\n${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const line of lines) console.log(format(line));
  for (const row of rows.filter((r) => r.takeovers)) {
    const known = row.takeovers!.filter((t): t is number => t !== null).sort((x, y) => x - y);
    if (known.length) console.log(`${row.name}: the backup logged "taking over" after p50 ${percentile(known, 50)} ms, max ${known.at(-1)} ms (the rest is squeue's own retry back-off)`);
  }
}

async function measureKeisan(): Promise<number[]> {
  let postgres: { url: string; stop(): Promise<void> } | null = null;
  let adminUrl = process.env.KEISAN_TEST_POSTGRES_URL;
  if (!adminUrl) {
    const helper = new URL('../scripts/throwaway-postgres.js', import.meta.url);
    const module = (await import(pathToFileURL(helper.pathname).href)) as { startThrowawayPostgres(): Promise<{ url: string; stop(): Promise<void> }> };
    postgres = await module.startThrowawayPostgres();
    adminUrl = postgres.url;
  }
  const lab = await createHaLab(adminUrl, { storage: { disk: { fsync: false } } });
  const data = path.join(lab.dir, 'data');
  const processes: (ServerProcess | null)[] = [null, null];
  try {
    processes[0] = spawnServer(data, lab.ports[0], { KEISAN_LOG_LEVEL: 'warn' });
    await processes[0].waitFor('"ha: active', 60_000);
    processes[1] = spawnServer(data, lab.ports[1], { KEISAN_LOG_LEVEL: 'info' });
    await processes[1].waitFor('keisan server standing by', 60_000);
    const [user = '', password = ''] = readFileSync(path.join(data, 'operator-password'), 'utf8').split('\n');
    const login = await new ApiClient(lab.servers[0], undefined, lab.servers).request<{ ticket: string }>('POST', '/api/auth/login', { user, password });
    const client = new ApiClient(lab.servers[0], login.ticket, lab.servers);
    let active: 0 | 1 = 0;
    const times: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const standby: 0 | 1 = active === 0 ? 1 : 0;
      const mark = processes[standby]!.output().length;
      const killedAt = performance.now();
      await killHard(processes[active]!.child);
      await client.request('GET', '/api/auth/whoami');
      const ms = performance.now() - killedAt;
      times.push(ms);
      if (client.answeredBy !== lab.servers[standby]) throw new Error(`round ${round}: ${client.answeredBy} answered, not the standby ${lab.servers[standby]}`);
      await processes[standby]!.waitFor('"ha: active', 30_000, mark);
      console.log(`round ${round}: ${lab.servers[active]} killed, ${lab.servers[standby]} answered after ${ms.toFixed(0)} ms`);
      // The killed one comes back as the standby for the next round.
      processes[active] = spawnServer(data, lab.ports[active], { KEISAN_LOG_LEVEL: 'info' });
      await processes[active]!.waitFor('keisan server standing by', 60_000);
      active = standby;
    }
    const sorted = [...times].sort((x, y) => x - y);
    console.log(`\nfailover (kill -9 → first API answer), ${rounds} rounds: min ${sorted[0]!.toFixed(0)} ms, p50 ${percentile(sorted, 50).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (goal ≤ 5000 ms)`);
    return times;
  } finally {
    await Promise.all(processes.map((p) => (p ? stopProcess(p.child) : undefined)));
    await lab.dispose().catch(() => undefined);
    rmSync(lab.dir, { recursive: true, force: true });
    await postgres?.stop();
  }
}

await main();
