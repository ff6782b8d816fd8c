// Test helper for archive-dir.test.ts: writes one whole entry (prints its location), then starts
// a second one whose source never ends, so the parent can kill -9 this process mid-write.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { DirArchive } from './index.ts';
import { ZERO_TIMING } from './timing.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-child.ts DIR');
const archive = new DirArchive({ path: dir, volumeCapacity: 256 * 1024 * 1024, drives: 1, timing: ZERO_TIMING });
await archive.open();

const first = randomBytes(1024 * 1024 + 7);
const [done] = await archive.write('t.kill', 1, [{
  fileId: 1, size: first.length, sha256: createHash('sha256').update(first).digest('hex'), open: () => Readable.from([first]),
}]);
if (!done?.location) throw new Error(`first write failed: ${done?.error}`);
process.stdout.write(`committed ${JSON.stringify(done.location)}\n`);

// 64 MiB announced; 4 MiB delivered, then the source stalls (until the parent kills us).
let sent = 0;
const stalled = new Readable({
  read() {
    if (sent < 4 * 1024 * 1024) {
      sent += 1024 * 1024;
      this.push(randomBytes(1024 * 1024));
    }
  },
});
await archive.write('t.kill', 1, [{ fileId: 2, size: 64 * 1024 * 1024, sha256: '0'.repeat(64), open: () => stalled }]);
