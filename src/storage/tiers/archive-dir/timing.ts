/**
 * The mechanical model of a simulated tape drive: pure functions from the drive's state to the
 * time (milliseconds) an operation takes. Times are real LTO-9 figures multiplied by ONE
 * time-scale factor; the transfer rate is a real bandwidth and is not scaled (it is what the
 * drives are compared with: the disk's).
 */

/** Real-time delays in milliseconds (before scaling). */
export interface TapeDelays {
  /** Load and thread a cartridge (LTO-9: 16 s). */
  mount: number;
  /** Unload and eject, after the rewind (LTO-9: 56 s). */
  unmount: number;
  /** AVERAGE locate: over uniformly random start and target positions (LTO-9: 65 s). */
  locate: number;
  /** AVERAGE rewind: from a uniformly random position to the beginning (LTO-9: 62 s). */
  rewind: number;
  /** First mount of a new cartridge, when calibration is on (LTO-9: 20 min to 2 h; 40 min typical). */
  calibration: number;
}

export interface TapeTiming {
  delays: TapeDelays;
  /** Multiplies every delay: 1 = real time, 0.01 = a 160 ms mount, 0 = no delays. */
  timeScale: number;
  /** Per-drive transfer limit in MB/s (10^6 bytes); 0 = unlimited. */
  rateMBps: number;
  /** Calibrate on a volume's first mount. */
  calibrateFirstMount: boolean;
}

/** IBM TS2290 (LTO-9) figures; 400 MB/s is the full-height drive's native rate. */
export const LTO9_DELAYS: TapeDelays = { mount: 16_000, unmount: 56_000, locate: 65_000, rewind: 62_000, calibration: 2_400_000 };

export const DEFAULT_TIMING: TapeTiming = { delays: LTO9_DELAYS, timeScale: 0.01, rateMBps: 400, calibrateFirstMount: false };

/** No delays, no rate limit: unit tests. */
export const ZERO_TIMING: TapeTiming = { delays: LTO9_DELAYS, timeScale: 0, rateMBps: 0, calibrateFirstMount: false };

const scaled = (timing: TapeTiming, ms: number) => Math.max(0, ms * timing.timeScale);

/**
 * Locate from `from` to `to` (byte positions) on a volume of `capacity` bytes: proportional to
 * the distance. The mean distance between two uniform points on [0, C] is C/3, so
 * time = locate · |to − from| / (C/3) averages the configured locate time.
 */
export function locateMs(timing: TapeTiming, from: number, to: number, capacity: number): number {
  if (from === to || capacity <= 0) return 0;
  return scaled(timing, (timing.delays.locate * Math.abs(to - from)) / (capacity / 3));
}

/** Rewind from `position` to the beginning: proportional, averaging the configured rewind (mean position C/2). */
export function rewindMs(timing: TapeTiming, position: number, capacity: number): number {
  if (position <= 0 || capacity <= 0) return 0;
  return scaled(timing, (timing.delays.rewind * Math.min(position, capacity)) / (capacity / 2));
}

/** Load a volume; plus calibration on its first mount when that is on. */
export function mountMs(timing: TapeTiming, firstMount: boolean): number {
  return scaled(timing, timing.delays.mount + (firstMount && timing.calibrateFirstMount ? timing.delays.calibration : 0));
}

/** Rewind from the head's position, then unload. */
export function unmountMs(timing: TapeTiming, head: number, capacity: number): number {
  return rewindMs(timing, head, capacity) + scaled(timing, timing.delays.unmount);
}

/** The earliest time (ms after the transfer began) at which `bytes` may have moved at the rate limit. */
export function transferMs(timing: TapeTiming, bytes: number): number {
  return timing.rateMBps > 0 ? bytes / (timing.rateMBps * 1000) : 0;
}
