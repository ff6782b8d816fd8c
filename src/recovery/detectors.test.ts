import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_DETECTOR_CONFIG, detect, detectLogin, detectorConfig, detectorConfigSchema, RULE_TABLE, windowOf } from './detectors.ts';
import { RULES, type Finding, type JobSample, type NodeSample, type ProcessSample, type ProcessTick, type Rule, type Sample } from './model.ts';
import { ringMsFor } from './loop.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const config = DEFAULT_DETECTOR_CONFIG;

/**
 * Recorded at 10 Hz by the sampler on this repository's reference VM (hybrid cgroups, kernel
 * 6.18), job 1 in a 64 MiB v1 memcg with a v2 side cgroup (see fixtures/README.md):
 * - thrash: 44 MiB anonymous + re-reading a 24 MiB file (onset ≈ 0.6 s, usage at the limit);
 * - stream: reading an 800 MiB file once in 20 MiB chunks (busy, at its limit, io stalls, healthy);
 * - leak: +40 MiB/s of anonymous memory until the kernel's OOM kill at ≈ 1.7 s.
 */
function recorded(name: 'thrash' | 'stream' | 'leak'): Sample[] {
  return JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures', `recorded-${name}.json`), 'utf8')) as Sample[];
}

function job(over: Partial<JobSample> = {}): JobSample {
  return {
    jobId: 1,
    user: 'alice',
    uid: 1000,
    cgroupDirs: ['/sys/fs/cgroup/memory/keisan/job-1'],
    memBytes: 100 * MiB,
    memLimitBytes: 2 * GiB,
    requestedMemBytes: 2 * GiB,
    requestedCpus: 1,
    refaultFile: 0,
    activateFile: null,
    anonBytes: 50 * MiB,
    psiMemory: { someUs: 0, fullUs: 0 },
    psiIo: { someUs: 0, fullUs: 0 },
    psiCpu: { someUs: 0, fullUs: null },
    pidsCurrent: 4,
    pidsMax: 4096,
    pidsEventsMax: 0,
    cpuUsageUsec: 0,
    cpusAllocated: 1,
    ...over,
  };
}

function node(over: Partial<NodeSample> = {}): NodeSample {
  return { memTotalBytes: 24 * GiB, memAvailableBytes: 20 * GiB, psiMemory: { someUs: 0, fullUs: 0 }, psiIo: { someUs: 0, fullUs: 0 }, psiCpu: { someUs: 0, fullUs: null }, runningThreads: 1, totalThreads: 200, ...over };
}

/** Samples every `stepMs` from 0 to `untilMs`, each built from the time t in seconds. */
function timeline(untilMs: number, stepMs: number, at: (t: number) => { node?: Partial<NodeSample>; jobs?: Partial<JobSample>[] }): Sample[] {
  const out: Sample[] = [];
  for (let ms = 0; ms <= untilMs; ms += stepMs) {
    const s = at(ms / 1000);
    out.push({ atMs: ms, node: node(s.node), jobs: (s.jobs ?? [{}]).map((j) => job(j)) });
  }
  return out;
}

function rules(findings: Finding[]): Rule[] {
  return [...new Set(findings.map((f) => f.rule))];
}

/** The first time (ms) at which `rule` fires when detect runs after every sample; null if never. */
function firstFiring(history: Sample[], rule: Rule, cfg = config): { atMs: number; finding: Finding } | null {
  for (let i = 0; i < history.length; i++) {
    const now = history[i]!.atMs;
    const f = detect(history.slice(0, i + 1), cfg, now, [rule]).find((x) => x.rule === rule);
    if (f) return { atMs: now, finding: f };
  }
  return null;
}

describe('detector plumbing', () => {
  it('has one small rule function per job/node rule, in a table', () => {
    assert.deepEqual(
      RULE_TABLE.map((r) => r.rule),
      RULES.filter((r) => r !== 'login-cpu-hog' && r !== 'kernel-oom'),
    );
  });

  it('merges a partial config over the defaults', () => {
    const c = detectorConfig({ cpuHog: { sustainMs: 3000 } });
    assert.equal(c.cpuHog.sustainMs, 3000);
    assert.equal(c.cpuHog.overuseRatio, DEFAULT_DETECTOR_CONFIG.cpuHog.overuseRatio);
    assert.deepEqual(c.thrash, DEFAULT_DETECTOR_CONFIG.thrash);
  });

  it('checks settings: partial sections pass, unknown keys and out-of-range ratios are refused', () => {
    const parsed = detectorConfigSchema.parse({ thrash: { sustainMs: 1500 }, login: { exemptUsers: ['backup'] } });
    assert.equal(detectorConfig(parsed).thrash.sustainMs, 1500);
    assert.deepEqual(detectorConfig(parsed).login.exemptUsers, ['backup']);
    assert.equal(detectorConfigSchema.safeParse({ thrash: { sustain: 1500 } }).success, false);
    assert.equal(detectorConfigSchema.safeParse({ memoryLimit: { nearLimitRatio: 95 } }).success, false);
    assert.equal(detectorConfigSchema.safeParse({ pids: { windowMs: 0 } }).success, false);
    // The defaults satisfy the schema.
    assert.deepEqual(detectorConfigSchema.parse(DEFAULT_DETECTOR_CONFIG), DEFAULT_DETECTOR_CONFIG);
  });

  it('finds windows of at least windowMs and ignores samples after now', () => {
    const s = [0, 100, 200, 900, 1000, 1100].map((atMs) => ({ atMs }));
    assert.deepEqual(windowOf(s, 1100, 1000), { from: { atMs: 100 }, to: { atMs: 1100 } });
    assert.deepEqual(windowOf(s, 1050, 1000), { from: { atMs: 0 }, to: { atMs: 1000 } });
    assert.equal(windowOf(s, 950, 1000), null);
    // A leak that starts after now is not seen at now.
    const h = timeline(3000, 100, (t) => ({ jobs: [{ memBytes: t < 2 ? 1.9 * GiB : 2 * GiB, anonBytes: t < 2 ? 1 * GiB : (1 + (t - 2)) * GiB }] }));
    assert.deepEqual(detect(h, config, 1500), []);
    assert.ok(detect(h, config, 3000).some((f) => f.rule === 'memory-limit'));
  });
});

describe('memory-limit rule', () => {
  it('fires on the recorded leak before the kernel kills it, with the numbers in one line', () => {
    const h = recorded('leak');
    const hit = firstFiring(h, 'memory-limit');
    assert.ok(hit, 'fires');
    const oomAt = h.find((s) => s.atMs > 1000 && (s.jobs[0]?.memBytes ?? 0) < 8 * MiB)!.atMs;
    assert.ok(hit.atMs < oomAt, `fires at ${hit.atMs} ms, before the OOM kill seen at ${oomAt} ms`);
    assert.equal(hit.finding.jobId, 1);
    assert.equal(hit.finding.user, 'alice');
    assert.equal(hit.finding.severity, 'act');
    // Anonymous memory grows ~33 MiB/s: the limit is predicted to be reached within 0.5 s before usage reaches 95 %.
    assert.match(hit.finding.explanation, /^job 1 \(alice\): memory \d+ of 64 MiB \(\d+ %\), anonymous memory \+\d+ MiB\/s over 1\.\d s: at the limit in 0\.\d s$/);
    assert.ok(!hit.finding.explanation.includes('\n'));
    assert.ok(hit.finding.metrics.anonGrowthBytesPerSec! >= 30 * MiB);
    assert.ok(hit.finding.window.toMs - hit.finding.window.fromMs >= 1000);
  });

  it('fires on a synthesised 2 GiB leak at its limit and explains it like the brief', () => {
    // Usage pinned at the limit (page cache gives way), anonymous memory +180 MiB/s, refaults climbing, stalls 20 %.
    const h = timeline(3000, 100, (t) => ({
      jobs: [{ memBytes: 1.98 * GiB, anonBytes: 1 * GiB + t * 180 * MiB, refaultFile: Math.round(t * 12_000), psiMemory: { someUs: t * 200_000, fullUs: 0 } }],
    }));
    const f = detect(h, config, 3000).find((x) => x.rule === 'memory-limit')!;
    assert.equal(f.explanation, 'job 1 (alice): memory 1.98 of 2.00 GiB (99 %), +180 MiB/s over 1.0 s, refaults 12 k pages/s, memory stalled 20 %');
    assert.deepEqual(f.window, { fromMs: 2000, toMs: 3000 });
  });

  it('does not fire on a job whose page cache fills its limit while nothing grows or stalls', () => {
    const h = timeline(3000, 100, (t) => ({ jobs: [{ memBytes: 1.99 * GiB, anonBytes: 0.5 * GiB, refaultFile: Math.round(t * 500) }] }));
    assert.deepEqual(detect(h, config, 3000), []);
  });

  it('does not take a page cache filling the limit for a leak where memory.stat was skipped below half the limit', () => {
    // The sampler reads no memory.stat below 50 % of the limit: anon is null there.
    const h = timeline(3000, 100, (t) => {
      const mem = Math.min(1.99 * GiB, t * 4 * GiB);
      return { jobs: [{ memBytes: mem, anonBytes: mem < GiB ? null : 50 * MiB, refaultFile: mem < GiB ? null : 0 }] };
    });
    assert.equal(firstFiring(h, 'memory-limit'), null);
    // The same with anonymous memory growing is a leak.
    const leak = timeline(3000, 100, (t) => {
      const mem = Math.min(1.99 * GiB, t * 4 * GiB);
      return { jobs: [{ memBytes: mem, anonBytes: mem < GiB ? null : 1 * GiB + t * 100 * MiB, refaultFile: mem < GiB ? null : 0 }] };
    });
    assert.ok(firstFiring(leak, 'memory-limit'));
  });

  it('fires before the limit when anonymous memory will fill it within 0.5 s (a host with no page cache: the kernel kills at the limit with no stall first)', () => {
    // Recorded on a pure cgroup v2 host: usage is all anonymous, +20 MiB/s, 61 of 64 MiB at 2.8 s, OOM-killed by 3.0 s.
    const h = timeline(2800, 100, (t) => ({ jobs: [{ memLimitBytes: 64 * MiB, memBytes: (8 + 20 * t) * MiB, anonBytes: (8 + 20 * t) * MiB, refaultFile: 0 }] }));
    const hit = firstFiring(h, 'memory-limit');
    assert.ok(hit, 'fires');
    assert.ok(hit.atMs < 2640, `fires at ${hit.atMs} ms, before 95 % of the limit (2.64 s)`);
    assert.match(hit.finding.explanation, /anonymous memory \+20 MiB\/s over 1\.0 s: at the limit in 0\.\d s/);
    assert.ok(hit.finding.metrics.msToLimit! <= 500);
    // A page cache filling towards the limit as fast, with anonymous memory flat, is no leak.
    const cache = timeline(2800, 100, (t) => ({ jobs: [{ memLimitBytes: 64 * MiB, memBytes: Math.min(60, 8 + 20 * t) * MiB, anonBytes: 8 * MiB, refaultFile: 0 }] }));
    assert.equal(firstFiring(cache, 'memory-limit'), null);
  });

  it('does not fire below 95 % however fast usage grows (that is the node rule’s business)', () => {
    const h = timeline(3000, 100, (t) => ({ jobs: [{ memBytes: (0.5 + t * 0.1) * GiB, anonBytes: (0.5 + t * 0.1) * GiB }] }));
    assert.equal(firstFiring(h, 'memory-limit'), null);
  });
});

describe('memory-thrash rule', () => {
  it('fires on the recorded thrash within 2 s of its onset', () => {
    const h = recorded('thrash');
    const onset = h.find((s) => (s.jobs[0]?.memBytes ?? 0) >= 60 * MiB)!.atMs;
    const hit = firstFiring(h, 'memory-thrash');
    assert.ok(hit, 'fires');
    assert.ok(hit.atMs - onset <= 2000, `onset ${onset} ms → finding ${hit.atMs} ms`);
    assert.match(hit.finding.explanation, /^job 1 \(alice\): thrashing at its limit for 1\.\d s, memory \d+ of 64 MiB, refaults \d+ k pages\/s, memory stalled \d+ %, io stalled \d+ %$/);
    assert.ok(hit.finding.metrics.refaultPagesPerSec! > 10_000);
  });

  it('never fires on the recorded streaming job (busy io, at its limit, few refaults or no memory stalls)', () => {
    const h = recorded('stream');
    assert.ok(
      h.some((s, i) => i > 0 && (s.jobs[0]?.psiIo?.someUs ?? 0) > (h[i - 1]!.jobs[0]?.psiIo?.someUs ?? 0)),
      'the recording really has io stalls',
    );
    for (let i = 0; i < h.length; i++) {
      const found = detect(h.slice(0, i + 1), config, h[i]!.atMs);
      assert.deepEqual(found, [], `no finding at ${h[i]!.atMs} ms: ${found.map((f) => f.explanation).join('; ')}`);
    }
  });

  it('does not fire on a synthesised streaming job: io stalls 80 %, usage well below the limit, few refaults', () => {
    const h = timeline(5000, 100, (t) => ({ jobs: [{ memBytes: 1.2 * GiB, refaultFile: Math.round(t * 100), psiIo: { someUs: t * 800_000, fullUs: t * 700_000 }, psiMemory: { someUs: t * 10_000, fullUs: 0 } }] }));
    assert.equal(firstFiring(h, 'memory-thrash'), null);
  });

  it('needs the condition sustained (rates averaged over 0.5 s windows): a 0.4 s burst does not fire, 1.5 s does', () => {
    const burst = (len: number) =>
      timeline(4000, 100, (t) => {
        const on = Math.min(Math.max(t - 1, 0), len);
        return { jobs: [{ memBytes: 1.95 * GiB, refaultFile: Math.round(on * 50_000), psiMemory: { someUs: on * 300_000, fullUs: 0 } }] };
      });
    assert.equal(firstFiring(burst(0.4), 'memory-thrash'), null);
    const hit = firstFiring(burst(1.5), 'memory-thrash');
    assert.ok(hit && hit.atMs <= 2600, `fired at ${hit?.atMs}`);
  });

  it('without PSI (no v2 cgroup) needs refaults four times the threshold', () => {
    const at = (rate: number) => timeline(3000, 100, (t) => ({ jobs: [{ memBytes: 1.95 * GiB, refaultFile: Math.round(t * rate), psiMemory: null, psiIo: null }] }));
    assert.equal(firstFiring(at(5000), 'memory-thrash'), null);
    assert.ok(firstFiring(at(20_000), 'memory-thrash'));
  });
});

describe('node-memory rule', () => {
  it('fires when MemAvailable falls toward the floor, naming the growing jobs fastest first', () => {
    // 24 GiB node, floor max(512 MiB, 5 %) = 1.2 GiB; MemAvailable 3 GiB falling 1 GiB/s; job 2 grows, job 3 is bigger but flat.
    const h = timeline(2000, 100, (t) => ({
      node: { memAvailableBytes: (3 - t) * GiB, psiMemory: { someUs: t * 50_000, fullUs: 0 } },
      jobs: [
        { jobId: 1, memBytes: 1 * GiB + t * 100 * MiB },
        { jobId: 2, memBytes: 2 * GiB + t * 900 * MiB, memLimitBytes: null },
        { jobId: 3, memBytes: 8 * GiB },
      ],
    }));
    const hit = firstFiring(h, 'node-memory')!;
    assert.ok(hit, 'fires');
    const f = hit.finding;
    assert.equal(f.jobId, null);
    assert.deepEqual(f.candidates, [2, 1]);
    assert.ok(hit.atMs <= 1200, `fires at ${hit.atMs} ms, ≥ 2 s before the floor`);
    assert.match(f.explanation, /^node: MemAvailable \d+\.\d\d GiB of 24\.00 GiB falling 1\.00 GiB\/s toward the floor of 1\.20 GiB over 1\.0 s, memory stalled 5 %, fastest-growing job 2 \+900 MiB\/s$/);
  });

  it('fires below the floor even when nothing moves', () => {
    const h = timeline(1000, 100, () => ({ node: { memAvailableBytes: 1 * GiB } }));
    const f = detect(h, config, 1000);
    assert.deepEqual(rules(f), ['node-memory']);
    assert.deepEqual(f[0]!.candidates, []);
  });

  it('does not fire on a big, steady fall far from the floor, nor on stalls with plenty of memory', () => {
    const falling = timeline(3000, 100, (t) => ({ node: { memAvailableBytes: (20 - t) * GiB } }));
    assert.equal(firstFiring(falling, 'node-memory'), null);
    const stalled = timeline(3000, 100, (t) => ({ node: { memAvailableBytes: 10 * GiB, psiMemory: { someUs: t * 600_000, fullUs: 0 } } }));
    assert.equal(firstFiring(stalled, 'node-memory'), null);
  });

  it('fires on memory stalls once MemAvailable is under twice the floor', () => {
    const h = timeline(2000, 100, (t) => ({ node: { memAvailableBytes: 2 * GiB, psiMemory: { someUs: t * 300_000, fullUs: 0 } } }));
    assert.ok(firstFiring(h, 'node-memory'));
  });

  // The jobs' parent capped at 3 GiB on a 24 GiB node: MemAvailable stays high while the parent fills.
  const parent = (memBytes: number, inactive = 0) => ({ memBytes, memLimitBytes: 3 * GiB, availableBytes: 3 * GiB - memBytes + inactive, pidsCurrent: 10 });

  it("fires when the jobs' capped parent fills toward its floor while MemAvailable is plenty, naming the growing job, not the bigger one", () => {
    // Floor max(64 MiB, 5 % of 3 GiB) = 154 MiB. Culprit job 7 grows 100 MiB/s from 1 GiB; innocent job 8 holds 1.6 GiB.
    const h = timeline(4000, 100, (t) => ({
      node: { memAvailableBytes: 18 * GiB, parent: parent(1 * GiB + 1600 * MiB + t * 100 * MiB) },
      jobs: [
        { jobId: 7, memBytes: 1 * GiB + t * 100 * MiB, memLimitBytes: null },
        { jobId: 8, memBytes: 1600 * MiB, memLimitBytes: null },
      ],
    }));
    const hit = firstFiring(h, 'node-memory')!;
    assert.ok(hit, 'fires');
    // 3 GiB − 2.56 GiB = 448 MiB left at t=0, falling 100 MiB/s: within 2 floors (307 MiB) at t=1.5 s, and 1.4 s from the 154 MiB floor.
    assert.equal(hit.atMs, 1500);
    assert.deepEqual(hit.finding.candidates, [7]);
    assert.match(hit.finding.explanation, /^jobs' cgroup: 298 MiB left of its 3\.00 GiB limit \(2\.71 of 3\.00 GiB used\), falling 100 MiB\/s toward the floor of 154 MiB over 1\.0 s, fastest-growing job 7 \+100 MiB\/s$/);
    assert.equal(hit.finding.metrics.parentFloorBytes, 0.05 * 3 * GiB);
  });

  it("does not fire on a full parent that is not growing, nor on one whose headroom is reclaimable cache", () => {
    const steady = timeline(3000, 100, () => ({ node: { memAvailableBytes: 18 * GiB, parent: parent(3 * GiB - 100 * MiB) } }));
    assert.equal(firstFiring(steady, 'node-memory'), null, 'below the floor but nothing grows: the jobs are using what they were given');
    // A streaming job fills the parent to its limit with page cache: usage grows 500 MiB/s, all of it inactive (reclaimable).
    const streaming = timeline(3000, 100, (t) => ({ node: { memAvailableBytes: 18 * GiB, parent: parent(2 * GiB + Math.min(t, 2) * 500 * MiB, 200 * MiB + Math.min(t, 2) * 500 * MiB) } }));
    assert.equal(firstFiring(streaming, 'node-memory'), null);
  });

  it("does not fire on a job filling its memory fast at start-up far from the parent's limit", () => {
    // 1.6 GiB allocated at 1.4 GiB/s into a parent with 3 GiB: 1.43 GiB still left at the end, more than 2 floors (307 MiB).
    const h = timeline(1200, 100, (t) => ({ node: { memAvailableBytes: 18 * GiB, parent: parent(Math.min(t, 1.15) * 1400 * MiB) }, jobs: [{ jobId: 9, memBytes: Math.min(t, 1.15) * 1400 * MiB, memLimitBytes: null }] }));
    assert.equal(firstFiring(h, 'node-memory'), null);
    // Beside a 1.6 GiB job, a second one fills 1 128 MiB at 1.4 GiB/s and stops with 344 MiB left: close, but not within 2 floors.
    const second = timeline(2000, 100, (t) => {
      const filled = Math.min(t, 0.8) * 1410 * MiB;
      return { node: { memAvailableBytes: 18 * GiB, parent: parent(1600 * MiB + filled) }, jobs: [{ jobId: 10, memBytes: 1600 * MiB, memLimitBytes: null }, { jobId: 11, memBytes: filled, memLimitBytes: null }] };
    });
    assert.equal(firstFiring(second, 'node-memory'), null);
  });

  it('does not fire when the parent has no limit', () => {
    const h = timeline(3000, 100, (t) => ({ node: { memAvailableBytes: 18 * GiB, parent: { memBytes: 1 * GiB + t * GiB, memLimitBytes: null, availableBytes: null, pidsCurrent: 3 } } }));
    assert.equal(firstFiring(h, 'node-memory'), null);
  });
});

describe('pids-explosion rule', () => {
  it('fires near pids.max', () => {
    const h = timeline(1000, 100, () => ({ jobs: [{ pidsCurrent: 950, pidsMax: 1024 }] }));
    const f = detect(h, config, 1000);
    assert.deepEqual(rules(f), ['pids-explosion']);
    assert.match(f[0]!.explanation, /^job 1 \(alice\): 950 processes of pids\.max 1024 \(93 %\), \+0\/s over 1\.0 s$/);
  });

  it('fires when forks are refused at the limit, even if pids.current reads low (zombies reaped)', () => {
    const h = timeline(1000, 100, (t) => ({ jobs: [{ pidsCurrent: 300, pidsMax: 1024, pidsEventsMax: t < 0.5 ? 0 : 40 }] }));
    const f = detect(h, config, 1000);
    assert.deepEqual(rules(f), ['pids-explosion']);
    assert.equal(f[0]!.metrics.forksRefused, 40);
    assert.match(f[0]!.explanation, /40 forks refused at the limit$/);
  });

  it('fires on a fast climb, fast enough to act before pids.max', () => {
    const h = timeline(2000, 50, (t) => ({ jobs: [{ pidsCurrent: Math.round(4 + t * 800), pidsMax: 4096 }] }));
    const hit = firstFiring(h, 'pids-explosion');
    assert.ok(hit && hit.atMs <= 1000, `fired at ${hit?.atMs}`);
  });

  it('forgets a job that has gone (its last samples were at pids.max)', () => {
    const h = timeline(2000, 100, (t) => ({ jobs: t < 1.5 ? [{ pidsCurrent: 1000, pidsMax: 1024 }] : [] }));
    assert.ok(detect(h, config, 1400).length > 0);
    assert.deepEqual(detect(h, config, 2000), []);
  });

  it('does not fire on a busy build: 100 steady processes, or a burst of 100 new ones', () => {
    const steady = timeline(3000, 100, () => ({ jobs: [{ pidsCurrent: 100, pidsMax: 4096 }] }));
    assert.equal(firstFiring(steady, 'pids-explosion'), null);
    const burst = timeline(3000, 100, (t) => ({ jobs: [{ pidsCurrent: Math.round(4 + Math.min(t, 0.5) * 200), pidsMax: 4096 }] }));
    assert.equal(firstFiring(burst, 'pids-explosion'), null);
  });
});

describe('cpu-hog rule', () => {
  const hog = (cpus: number, forS: number, allocated: number | null = 1) =>
    timeline(15_000, 100, (t) => ({ jobs: [{ cpuUsageUsec: Math.round(Math.min(t, forS) * cpus * 1e6 + Math.max(0, t - forS) * 0.5e6), cpusAllocated: allocated }] }));

  it('fires after 10 s (+ one window) of using 2 CPUs on a 1-CPU allocation', () => {
    const hit = firstFiring(hog(2, 15), 'cpu-hog');
    assert.ok(hit, 'fires');
    assert.equal(hit.atMs, 11_000, 'ceil(10 s / 1 s) + 1 windows');
    assert.equal(hit.finding.explanation, 'job 1 (alice): using 2.00 CPUs of 1 allocated (200 %) for 11.0 s');
  });

  it('does not fire at 1.1 CPUs, for a 5 s burst, or without a known allocation', () => {
    assert.equal(firstFiring(hog(1.1, 15), 'cpu-hog'), null);
    assert.equal(firstFiring(hog(2, 5), 'cpu-hog'), null);
    assert.equal(firstFiring(hog(2, 15, null), 'cpu-hog'), null);
  });

  it('takes its sustain period from the config', () => {
    const hit = firstFiring(hog(2, 15), 'cpu-hog', detectorConfig({ cpuHog: { sustainMs: 2000 } }));
    assert.equal(hit?.atMs, 3000);
  });
});

describe('login-cpu-hog rule', () => {
  const MIN = 60_000;
  /** One tick every 10 s; `share(tMin)` is the process's CPU share at that minute. */
  function ticks(untilMin: number, procs: { pid: number; user: string | null; share: (tMin: number) => number; startTicks?: (tMin: number) => number }[]): ProcessTick[] {
    const out: ProcessTick[] = [];
    const used = new Map<number, number>();
    for (let ms = 0; ms <= untilMin * MIN; ms += 10_000) {
      const processes: ProcessSample[] = procs.map((p) => {
        const start = p.startTicks?.(ms / MIN) ?? 1000;
        const key = p.pid * 1e9 + start;
        const ticksUsed = (used.get(key) ?? 0) + (ms === 0 ? 0 : p.share(ms / MIN) * 100 * 10);
        used.set(key, ticksUsed);
        return { pid: p.pid, uid: 1000, user: p.user, comm: 'simulate', cpuTicks: Math.round(ticksUsed), rssBytes: 100 * MiB, startTicks: start };
      });
      out.push({ atMs: ms, cpuTicksPerSecond: 100, processes });
    }
    return out;
  }

  it('escalates warn → renice → stop as a 95 % process runs on', () => {
    const h = ticks(25, [{ pid: 500, user: 'bob', share: () => 0.95 }]);
    const at = (min: number) => detectLogin(h, config, min * MIN);
    assert.deepEqual(at(4), []);
    assert.equal(at(6)[0]?.severity, 'warn');
    assert.equal(at(11)[0]?.severity, 'renice');
    const stop = at(21)[0]!;
    assert.equal(stop.severity, 'stop');
    assert.equal(stop.pid, 500);
    assert.equal(stop.user, 'bob');
    assert.equal(stop.rule, 'login-cpu-hog');
    assert.match(stop.explanation, /^login host: bob's process 500 \(simulate\) used 95 % of a CPU for 2\d min \(limit 80 % for 5 min\): stop$/);
  });

  it('does not flag a 50 % process, a process that rested recently, a reused pid, or an exempt user', () => {
    assert.deepEqual(detectLogin(ticks(25, [{ pid: 1, user: 'bob', share: () => 0.5 }]), config, 25 * MIN), []);
    assert.deepEqual(detectLogin(ticks(25, [{ pid: 2, user: 'bob', share: (m) => (m > 20 && m < 22 ? 0 : 1) }]), config, 25 * MIN), []);
    // The pid was reused 3 minutes ago: a new process, only 3 minutes old.
    assert.deepEqual(detectLogin(ticks(25, [{ pid: 3, user: 'bob', share: () => 1, startTicks: (m) => (m < 22 ? 1000 : 5000) }]), config, 25 * MIN), []);
    assert.deepEqual(detectLogin(ticks(25, [{ pid: 4, user: 'backup', share: () => 1 }]), detectorConfig({ login: { exemptUsers: ['backup'] } }), 25 * MIN), []);
  });
});

describe('the ring the loop keeps is long enough for sustained rules under tiered sampling', () => {
  it('cpu-hog fires on an idle-tier job read once a second, its reads late by up to a tick', () => {
    // A job allocated 1 CPU using 1.5, read at the first tick at least 1 s after its last read, the
    // ticks 100 ms apart with a few ms of jitter: reads 1.0–1.1 s apart.
    const ticks: Sample[] = [];
    let lastRead = -Infinity;
    for (let k = 0; k <= 200; k++) {
      const at = k * 100 + ((k * 7) % 5);
      const read = at - lastRead >= 1000;
      if (read) lastRead = at;
      ticks.push({ atMs: at, node: node(), jobs: read ? [job({ cpuUsageUsec: 1.5e6 * (at / 1000), cpusAllocated: 1, requestedCpus: 1 })] : [] });
    }
    const ringMs = ringMsFor(config, 1000 + 100);
    let firedAt: number | null = null;
    for (const tick of ticks) {
      const ring = ticks.filter((s) => s.atMs <= tick.atMs && tick.atMs - s.atMs <= ringMs);
      if (detect(ring, config, tick.atMs, ['cpu-hog']).length) {
        firedAt = tick.atMs;
        break;
      }
    }
    // 11 windows of 1.0–1.1 s: about 11–12 s of overuse.
    assert.ok(firedAt !== null && firedAt >= 11_000 && firedAt <= 12_600, `fired at ${firedAt} with a ${ringMs} ms ring`);
    assert.ok(ringMs >= 11 * 2100, `the ring covers 11 windows stretched by a read's spacing: ${ringMs} ms`);
  });
});
