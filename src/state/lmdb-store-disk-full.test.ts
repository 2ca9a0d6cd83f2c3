// The lmdb store on a disk that fills up, for real: a small ext4 filesystem on a loop device.
// A failed commit must reach the caller with its cause (so the node stops saying why) and
// close() must still settle (a node that hung in its stop would never exit and be restarted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRoot } from '../chaos/faults/commands.ts';
import { LoopDisk } from '../chaos/faults/loop-disk.ts';
import { LmdbStore } from './lmdb-store.ts';

// Root only; CI runs as root, so there a missing privilege is a failure, not a skip.
const skip = !isRoot() && process.env.CI !== 'true' ? 'loop devices and mount need root' : false;

test('a commit that fails on a full disk rejects with its cause, and close() still settles', { skip, timeout: 120_000 }, async () => {
  const disk = await LoopDisk.create({ sizeBytes: 16 * 1024 * 1024 });
  try {
    const store = new LmdbStore({ path: `${disk.mountPath}/state`, tableNames: ['t'] });
    let failure: Error | undefined;
    let key = 0;
    // 16 MiB fill up within about 100 batches of 1.6 MB; bounded in case they never do.
    for (let round = 0; round < 100 && failure === undefined; round++) {
      const entries = Array.from({ length: 100 }, () => ({ key: Buffer.from(`key-${key++}`), value: new Uint8Array(16 * 1024) }));
      try {
        await store.writeBatch(new Map([['t', entries]]));
        await store.flushed();
      } catch (error) {
        failure = error as Error;
      }
    }
    assert.ok(failure !== undefined, 'the disk never filled up');
    assert.match(failure.message, /^lmdb could not commit: .+/, 'the rejection names the cause lmdb-js reported');
    assert.doesNotMatch(failure.message, /see commitError/);
    const started = performance.now();
    await store.close();
    assert.ok(performance.now() - started < 10_000, 'close() settled');
  } finally {
    await disk.cleanup();
  }
});
