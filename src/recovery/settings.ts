/**
 * keisan.yaml `recovery:` — the watchdog's detection-and-action loop. Everything is optional;
 * `resolveRecoverySettings()` turns the parsed section into what the loop uses (thresholds
 * filled in, evidence directory resolved against the data directory, one mode and action per rule).
 */
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../lib/units.ts';
import { duration } from '../lib/zod-units.ts';
import { detectorConfig, detectorConfigSchema, type DetectorConfig } from './detectors.ts';
import { RECOVERY_MODES, RULES, type RecoveryMode, type Rule } from './model.ts';
import { DEFAULT_PROTECTION, defaultVictimConfig, type VictimConfig } from './victim.ts';

/** What the loop may do about a finding ('warn' only reports; the login rule's default follows its escalation). */
export const RULE_ACTIONS = ['kill', 'freeze', 'throttle', 'stop', 'renice', 'warn', 'none'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

const ruleOverride = z.strictObject({ mode: z.enum(RECOVERY_MODES).optional(), action: z.enum(RULE_ACTIONS).optional() });

export const recoverySettings = z.strictObject({
  /** false: the watchdog only heartbeats. */
  enabled: z.boolean().default(true),
  /** automatic: act on jobs inside the jobs' cgroup parent; observe: only log and report. The login rule defaults to observe. */
  mode: z.enum(RECOVERY_MODES).default('automatic'),
  /** This node is a login host: watch users' processes for the login CPU-hog rule (~1 Hz). */
  loginHost: z.boolean().default(false),
  /** Per-rule overrides, e.g. `cpu-hog: { mode: observe }`, `memory-thrash: { action: freeze }`. */
  rules: z.partialRecord(z.enum(RULES), ruleOverride).default({}),
  /** Samples per second of the job cgroups (default 10). */
  sampleHz: z.number().min(1).max(50).default(10),
  /**
   * Jobs far from their limits whose memory and process count are not moving are read this often
   * instead (default 1s); any move of the jobs' total that the jobs read do not explain wakes them
   * all at once. Set it to 1/sampleHz to read every job every tick.
   */
  idleEvery: duration.default(parseDuration('1s')),
  /** Detector thresholds (src/recovery/detectors.ts DetectorConfig), any field of any section. */
  detectors: detectorConfigSchema.default({}),
  /** Processes never acted on, added to the built-in list (init, systemd*, sshd, slurm*, postgres, keisan daemons, root's shells…). */
  protect: z
    .strictObject({
      comm: z.array(z.string().min(1)).default([]),
      cmdline: z.array(z.string().min(1)).default([]),
      uids: z.array(z.number().int().min(0)).default([]),
      pids: z.array(z.number().int().min(1)).default([]),
      rootShells: z.boolean().default(true),
    })
    .default({ comm: [], cmdline: [], uids: [], pids: [], rootShells: true }),
  /** No second victim for the same finding until the first is confirmed empty, or this long (default 10s). */
  cooldown: duration.default(parseDuration('10s')),
  /** Where evidence files go; relative to the data directory (default recovery/evidence). */
  evidenceDir: z.string().min(1).default('recovery/evidence'),
  /** Ask mode: how long an operator has to decide, and what happens then (default: the rule's action; 'thaw' lets the job go on). */
  ask: z
    .strictObject({
      timeout: duration.default(parseDuration('5m')),
      fallback: z.enum([...RULE_ACTIONS, 'thaw']).optional(),
      /** After a deny the victim is left alone this long (default: for the rest of the job's life). */
      quiet: duration.optional(),
      /** Poll the server for decisions this often while something is pending (default 2s). */
      pollEvery: duration.default(parseDuration('2s')),
    })
    .default({ timeout: parseDuration('5m'), pollEvery: parseDuration('2s') }),
  /** Where operators are told about pending decisions besides in-app and e-mail. */
  notify: z
    .strictObject({
      webhooks: z.array(z.strictObject({ url: z.url(), format: z.enum(['json', 'slack']).default('json') })).default([]),
    })
    .default({ webhooks: [] }),
  /** Events kept in memory while the server cannot be reached (oldest dropped beyond it). */
  eventQueue: z.number().int().min(10).max(100_000).default(1000),
});
export type RecoverySettings = z.output<typeof recoverySettings>;

/** The default action of each rule in automatic mode (login: per escalation, see actionFor). */
export const DEFAULT_ACTIONS: Record<Rule, RuleAction> = {
  'memory-limit': 'kill',
  'memory-thrash': 'kill',
  'node-memory': 'kill',
  'pids-explosion': 'kill',
  'cpu-hog': 'throttle',
  'login-cpu-hog': 'warn',
  'kernel-oom': 'none',
};

export interface ResolvedRecovery {
  enabled: boolean;
  loginHost: boolean;
  sampleHz: number;
  idleEveryMs: number;
  detectors: DetectorConfig;
  victim: VictimConfig;
  evidenceDir: string;
  eventQueue: number;
  ask: { timeoutMs: number; fallback: RuleAction | 'thaw' | null; quietMs: number | null; pollMs: number };
  modeOf(rule: Rule): RecoveryMode;
  /** What automatic mode does for a finding of this rule and severity. */
  actionFor(rule: Rule, severity: string): RuleAction;
}

export function resolveRecoverySettings(s: RecoverySettings, dataDir: string): ResolvedRecovery {
  const victim = defaultVictimConfig({
    protect: {
      comm: [...DEFAULT_PROTECTION.comm, ...s.protect.comm],
      cmdline: [...DEFAULT_PROTECTION.cmdline, ...s.protect.cmdline],
      uids: [...DEFAULT_PROTECTION.uids, ...s.protect.uids],
      pids: [...DEFAULT_PROTECTION.pids, ...s.protect.pids],
      rootShells: s.protect.rootShells,
    },
    cooldownTimeoutMs: s.cooldown,
  });
  const detectors = detectorConfig(s.detectors);
  victim.pidsNearMaxRatio = detectors.pids.nearMaxRatio;
  return {
    enabled: s.enabled,
    loginHost: s.loginHost,
    sampleHz: s.sampleHz,
    idleEveryMs: s.idleEvery,
    detectors,
    victim,
    evidenceDir: path.resolve(dataDir, s.evidenceDir),
    eventQueue: s.eventQueue,
    ask: { timeoutMs: s.ask.timeout, fallback: s.ask.fallback ?? null, quietMs: s.ask.quiet ?? null, pollMs: s.ask.pollEvery },
    modeOf: (rule) => s.rules[rule]?.mode ?? (rule === 'login-cpu-hog' ? 'observe' : s.mode),
    actionFor: (rule, severity) => {
      const override = s.rules[rule]?.action;
      if (override) return override;
      if (rule === 'login-cpu-hog') return severity === 'stop' ? 'stop' : severity === 'renice' ? 'renice' : 'warn';
      return DEFAULT_ACTIONS[rule];
    },
  };
}
