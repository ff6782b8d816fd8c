import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aclsUnsupported, AreasUnavailable, measureTree, runTool } from './fsops.ts';

describe('user areas: walking and tools', () => {
  let scratch = '';
  before(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'keisan-areas-walk-'));
    const tree = path.join(scratch, 'tree');
    mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
    writeFileSync(path.join(tree, 'one'), Buffer.alloc(1000));
    writeFileSync(path.join(tree, 'a', 'two'), Buffer.alloc(2000));
    linkSync(path.join(tree, 'a', 'two'), path.join(tree, 'a', 'b', 'two-again')); // a hard link: counted once
    mkdirSync(path.join(scratch, 'outside'));
    writeFileSync(path.join(scratch, 'outside', 'big'), Buffer.alloc(100_000));
    symlinkSync(path.join(scratch, 'outside'), path.join(tree, 'a', 'elsewhere')); // never followed
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('sums apparent sizes with lstat: hard links once, symlinks as themselves, directories not at all', async () => {
    const linkSize = path.join(scratch, 'outside').length; // a symlink's size is its target's length
    const usage = await measureTree(path.join(scratch, 'tree'), { deadline: Date.now() + 60_000 });
    assert.deepEqual(usage, { bytes: 3000 + linkSize, files: 3, complete: true, incomplete: [] });
  });

  it('stops at its time limit and says the numbers are a lower bound', async () => {
    let calls = 0;
    const usage = await measureTree(path.join(scratch, 'tree'), { deadline: 1000, now: () => (++calls > 2 ? 2000 : 0) });
    assert.equal(usage.complete, false);
    assert.deepEqual(usage.incomplete, ['time limit']);
    assert.ok(usage.files < 3);
  });

  it('says what to install when setfacl is missing, and which filesystem lacks ACLs', async () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(scratch, 'no-such-bin');
    try {
      await assert.rejects(runTool('setfacl', ['-m', 'u:1:r', scratch], []), (error: unknown) => {
        assert.ok(error instanceof AreasUnavailable);
        assert.equal(error.code, 'UNAVAILABLE');
        assert.match(error.message, /^setfacl is not installed on the server: install the Debian package acl \(apt-get install acl; npm run deps does it\)/);
        return true;
      });
    } finally {
      process.env.PATH = saved;
    }
    const unsupported = await aclsUnsupported(scratch, 'setfacl: x: Operation not supported');
    assert.match(unsupported.message, new RegExp(`^the filesystem of ${scratch} \\((ext2/ext3|xfs|tmpfs|btrfs|overlayfs|[a-z0-9/]+)\\) does not support POSIX ACLs \\(setfacl: x: Operation not supported\\): user areas need ext4, XFS`));
    assert.match(unsupported.message, /NFSv4 exports only NFSv4 ACLs, which setfacl cannot set/);
  });
});
