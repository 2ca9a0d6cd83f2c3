import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScratchBuffer } from './binary.ts';
import { entriesFrom } from './conformance.ts';
import { FileStorage } from './file-storage.ts';
import { NodeFileSystem } from './node-file-system.ts';

test('scratch buffer: one buffer lent again and again, grown as needed, never beyond its bound', () => {
  const scratch = new ScratchBuffer(1024);
  const first = scratch.take(100);
  const second = scratch.take(60);
  assert.equal(first.byteLength, 100);
  assert.equal(second.byteLength, 60);
  assert.equal(second.buffer, first.buffer, 'the same memory is lent again');
  const grown = scratch.take(700);
  assert.notEqual(grown.buffer, first.buffer, 'a larger request grows the buffer');
  assert.equal(scratch.take(10).buffer, grown.buffer, 'and the grown one is kept');
  const huge = scratch.take(4096);
  assert.equal(huge.byteLength, 4096);
  assert.notEqual(huge.buffer, grown.buffer, 'beyond the bound: an array of its own');
  assert.equal(scratch.take(10).buffer, grown.buffer, 'the kept buffer stays within the bound');
});

test('scratch buffer: WAL writes of falling sizes through one reused buffer read back exactly', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-scratch-'));
  try {
    const storage = await FileStorage.open({ fileSystem: new NodeFileSystem(), directory });
    // Big entries first, then small ones: each small write lands in a buffer that still holds
    // the tail of a big one; only what was encoded this time may reach the disk.
    const sizes = [300_000, 200_000, 50, 120_000, 7, 0, 90_000, 3];
    let index = 1;
    for (const size of sizes) {
      const [entry] = entriesFrom(index, 1, 1);
      await storage.save({ entries: [{ ...entry!, data: new Uint8Array(size).fill(index) }] }, true);
      index++;
    }
    await storage.close();
    const reopened = await FileStorage.open({ fileSystem: new NodeFileSystem(), directory });
    const read = reopened.entries(1, index, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(read.map((entry) => entry.data.byteLength), sizes);
    read.forEach((entry, position) => assert.ok(entry.data.every((byte) => byte === position + 1), `entry ${position + 1} holds its own bytes`));
    await reopened.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
