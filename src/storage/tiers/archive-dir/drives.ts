import { KeisanError } from '../../../lib/errors.ts';
import type { ArchiveProgress, DriveInfo } from '../archive.ts';
import { locateMs, mountMs, transferMs, unmountMs, type TapeTiming } from './timing.ts';
import type { Volume } from './volume.ts';

/**
 * The drives of the simulated tape library and their scheduling. A volume must be in a drive to
 * be read or written, and a drive serves one request at a time:
 *  - a request for a volume that is in an idle drive uses that drive;
 *  - a request for a volume in a busy drive (or one being mounted/unmounted) waits for it;
 *  - otherwise an empty drive mounts it, or else the least-recently-used idle drive unmounts its
 *    volume and mounts this one;
 *  - when no drive can serve a request it waits; waiting requests are served first come, first
 *    served (a later request goes first only when the earlier one waits for a busy volume).
 */

interface Drive {
  name: string;
  state: DriveInfo['state'];
  volume: Volume | null;
  /** Head position on the mounted volume (bytes from its start). */
  head: number;
  activity: string | null;
  since: number;
  busy: boolean;
  lastUsed: number;
}

interface Waiting {
  volume: Volume;
  activity: string;
  progress: ArchiveProgress | undefined;
  resolve(lease: DriveLease): void;
  reject(error: Error): void;
}

export interface LibraryHooks {
  /** After a volume is loaded (first mount: after calibration), e.g. to journal the calibration. */
  mounted(volume: Volume, firstMount: boolean): Promise<void>;
  /** After a volume left its drive (close its files). */
  unmounted(volume: Volume): Promise<void>;
}

const defaultSleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

export class TapeLibrary {
  private readonly driveList: Drive[];
  private readonly queue: Waiting[] = [];
  private closed = false;
  /** Mount and unmount counts, for tests and benchmarks. */
  readonly counters = { mounts: 0, unmounts: 0, locates: 0 };

  constructor(
    driveCount: number,
    readonly timing: TapeTiming,
    private readonly hooks: LibraryHooks,
    readonly sleep: (ms: number) => Promise<void> = defaultSleep,
    private readonly now: () => number = Date.now,
  ) {
    const at = now();
    this.driveList = Array.from({ length: driveCount }, (_, i) => ({
      name: `drive${i + 1}`, state: 'empty' as const, volume: null, head: 0, activity: null, since: at, busy: false, lastUsed: 0,
    }));
  }

  drives(): DriveInfo[] {
    return this.driveList.map((d) => ({ name: d.name, state: d.state, volume: d.volume?.name ?? null, activity: d.activity, since: d.since }));
  }

  /** Requests waiting for a drive. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Waits for a drive holding `volume` (mounting it as needed) and reserves it for the caller. */
  acquire(volume: Volume, activity: string, progress?: ArchiveProgress): Promise<DriveLease> {
    if (this.closed) return Promise.reject(new KeisanError('UNAVAILABLE', 'the archive is closing: try again once it is open'));
    return new Promise<DriveLease>((resolve, reject) => {
      this.queue.push({ volume, activity, progress, resolve, reject });
      this.dispatch();
    });
  }

  setState(drive: Drive, state: DriveInfo['state'], activity?: string | null): void {
    drive.state = state;
    drive.since = this.now();
    if (activity !== undefined) drive.activity = activity;
  }

  private pick(volume: Volume): Drive | 'wait' | null {
    if (volume.drive !== null) {
      const holder = this.driveList.find((d) => d.name === volume.drive)!;
      return holder.busy ? 'wait' : holder;
    }
    const free = this.driveList.filter((d) => !d.busy);
    if (free.length === 0) return null;
    const empty = free.find((d) => d.volume === null);
    if (empty) return empty;
    return free.reduce((lru, d) => (d.lastUsed < lru.lastUsed ? d : lru));
  }

  private dispatch(): void {
    for (let i = 0; i < this.queue.length; ) {
      const request = this.queue[i]!;
      const drive = this.pick(request.volume);
      if (drive === null) break; // every drive is busy: later requests wait too (FIFO)
      if (drive === 'wait') {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      drive.busy = true;
      drive.activity = request.activity;
      const previous = drive.volume;
      if (previous !== request.volume) request.volume.drive = drive.name; // reserved: others wait for this drive
      void this.prepare(drive, previous, request).then(
        () => request.resolve(new DriveLease(this, drive, request.volume, request.progress)),
        (error: unknown) => {
          // A failed mount: the reservation ends with it.
          if (drive.volume !== request.volume && request.volume.drive === drive.name) request.volume.drive = null;
          this.free(drive);
          request.reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    }
  }

  private async prepare(drive: Drive, previous: Volume | null, request: Waiting): Promise<void> {
    if (previous === request.volume) return;
    if (previous) await this.unload(drive, previous);
    request.progress?.({ kind: 'mounting', volume: request.volume.name });
    const first = !request.volume.calibrated;
    this.setState(drive, 'mounting');
    await this.sleep(mountMs(this.timing, first));
    drive.volume = request.volume;
    drive.head = 0;
    this.counters.mounts++;
    await this.hooks.mounted(request.volume, first);
    this.setState(drive, 'idle');
  }

  private async unload(drive: Drive, volume: Volume): Promise<void> {
    this.setState(drive, 'unmounting');
    await this.sleep(unmountMs(this.timing, drive.head, volume.capacity));
    drive.volume = null;
    drive.head = 0;
    if (volume.drive === drive.name) volume.drive = null;
    this.counters.unmounts++;
    await this.hooks.unmounted(volume);
    this.setState(drive, 'empty');
    // Requests for the volume that just left may now mount it elsewhere.
    queueMicrotask(() => this.dispatch());
  }

  /** Takes a volume out of its drive (retire); the caller holds the drive. */
  async unmount(drive: Drive): Promise<void> {
    if (drive.volume) await this.unload(drive, drive.volume);
  }

  free(drive: Drive): void {
    drive.busy = false;
    drive.lastUsed = this.now();
    this.setState(drive, drive.volume ? 'idle' : 'empty', null);
    this.dispatch();
  }

  /** Refuses new requests, fails the waiting ones, waits (bounded) for busy drives to finish. */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    for (const request of this.queue.splice(0)) {
      request.reject(new KeisanError('UNAVAILABLE', 'the archive closed before a drive was free: try again once it is open'));
    }
    const until = this.now() + timeoutMs;
    while (this.driveList.some((d) => d.busy) && this.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A drive reserved for one caller, with its volume mounted. Release it exactly once. */
export class DriveLease {
  private released = false;

  constructor(
    private readonly library: TapeLibrary,
    private readonly drive: Drive,
    readonly volume: Volume,
    readonly progress: ArchiveProgress | undefined,
  ) {}

  get driveName(): string {
    return this.drive.name;
  }

  get head(): number {
    return this.drive.head;
  }

  set head(position: number) {
    this.drive.head = position;
  }

  /** Moves the head to `target`, taking the locate time. */
  async position(target: number, fileId?: number): Promise<void> {
    if (this.drive.head === target) return;
    this.progress?.({ kind: 'positioning', volume: this.volume.name, ...(fileId !== undefined ? { fileId } : {}) });
    this.library.setState(this.drive, 'positioning');
    this.library.counters.locates++;
    await this.library.sleep(locateMs(this.library.timing, this.drive.head, target, this.volume.capacity));
    this.drive.head = target;
  }

  transferring(state: 'reading' | 'writing'): void {
    this.library.setState(this.drive, state);
  }

  /** Sleeps as needed so that `bytes` moved since `startedAt` stay within the drive's rate. */
  async pace(startedAt: number, bytes: number): Promise<void> {
    const due = startedAt + transferMs(this.library.timing, bytes);
    const wait = due - performance.now();
    if (wait > 1) await this.library.sleep(wait);
  }

  async unmount(): Promise<void> {
    await this.library.unmount(this.drive);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.library.free(this.drive);
  }
}
