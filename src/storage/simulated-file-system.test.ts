import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import type { FileOperation } from './file-system.ts';
import { isStorageError } from './types.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** A small deterministic generator (mulberry32) standing in for the simulator's seeded random. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

async function createdAndSynced(fileSystem: SimulatedFileSystem, path: string, content: Uint8Array): Promise<void> {
  const handle = await fileSystem.openAppend(path);
  await handle.append(content);
  await handle.sync();
  await handle.close();
  await fileSystem.syncDirectory(path.slice(0, path.lastIndexOf('/')) || '/');
}

test('a crash keeps synced bytes and drops unsynced ones', async () => {
  const fileSystem = new SimulatedFileSystem();
  await fileSystem.makeDirectory('/data');
  const handle = await fileSystem.openAppend('/data/a');
  await handle.append(bytes(1, 2, 3));
  await handle.sync();
  await fileSystem.syncDirectory('/data');
  await handle.append(bytes(4, 5));
  assert.deepEqual(await fileSystem.readFile('/data/a'), bytes(1, 2, 3, 4, 5), 'reads see the page cache');
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/data/a'), bytes(1, 2, 3));
});

test('a synced file whose creation was not synced is lost; a synced directory keeps it', async () => {
  const fileSystem = new SimulatedFileSystem();
  await fileSystem.makeDirectory('/data');
  const handle = await fileSystem.openAppend('/data/lost');
  await handle.append(bytes(9));
  await handle.sync();
  fileSystem.crash();
  assert.deepEqual(await fileSystem.list('/data'), []);
  await createdAndSynced(fileSystem, '/data/kept', bytes(7));
  fileSystem.crash();
  assert.deepEqual(await fileSystem.list('/data'), ['kept']);
});

test('renames and deletions are undone by a crash unless the directory was synced', async () => {
  const fileSystem = new SimulatedFileSystem();
  await fileSystem.makeDirectory('/d');
  await createdAndSynced(fileSystem, '/d/a.tmp', bytes(1));
  await createdAndSynced(fileSystem, '/d/old', bytes(2));
  await fileSystem.rename('/d/a.tmp', '/d/a');
  await fileSystem.unlink('/d/old');
  assert.deepEqual(await fileSystem.list('/d'), ['a']);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.list('/d'), ['a.tmp', 'old']);
  await fileSystem.rename('/d/a.tmp', '/d/a');
  await fileSystem.unlink('/d/old');
  await fileSystem.syncDirectory('/d');
  fileSystem.crash();
  assert.deepEqual(await fileSystem.list('/d'), ['a']);
  assert.deepEqual(await fileSystem.readFile('/d/a'), bytes(1));
});

test('an unsynced truncation is undone by a crash; a synced one is kept', async () => {
  const fileSystem = new SimulatedFileSystem();
  await fileSystem.makeDirectory('/d');
  await createdAndSynced(fileSystem, '/d/f', bytes(1, 2, 3, 4));
  await fileSystem.truncate('/d/f', 2);
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2, 3, 4));
  await fileSystem.truncate('/d/f', 2);
  const handle = await fileSystem.openAppend('/d/f');
  await handle.sync();
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(1, 2));
});

test('torn crashes keep a prefix of the unsynced bytes, with zeros in places, never other bytes', async () => {
  const random = seeded(42);
  const lengths = new Set<number>();
  let zeroFilledTails = 0;
  let holes = 0;
  for (let trial = 0; trial < 300; trial++) {
    const fileSystem = new SimulatedFileSystem({ random });
    await fileSystem.makeDirectory('/d');
    await createdAndSynced(fileSystem, '/d/f', bytes(1, 2));
    const handle = await fileSystem.openAppend('/d/f');
    const written = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    await handle.append(new Uint8Array(written));
    fileSystem.crash();
    const content = await fileSystem.readFile('/d/f');
    assert.ok(content.length >= 2 && content.length <= 12);
    assert.deepEqual(content.subarray(0, 2), bytes(1, 2), 'synced bytes survive');
    for (let position = 2; position < content.length; position++) {
      assert.ok(content[position] === written[position - 2] || content[position] === 0, 'only written bytes or zeros');
    }
    const kept = [...content.subarray(2)].map((value) => value !== 0);
    const lastKept = kept.lastIndexOf(true);
    if (lastKept < kept.length - 1) zeroFilledTails++;
    if (kept.slice(0, lastKept).includes(false)) holes++;
    lengths.add(content.length);
  }
  assert.ok(lengths.size >= 5, `crashes tear at various lengths (${[...lengths]})`);
  assert.ok(zeroFilledTails > 0, 'some crashes extend the file with zeros');
  assert.ok(holes > 0, 'some crashes lose a range inside the last write');
});

test('a crash never loses a range of a write older than the last one', async () => {
  const random = seeded(7);
  for (let trial = 0; trial < 200; trial++) {
    const fileSystem = new SimulatedFileSystem({ random });
    await fileSystem.makeDirectory('/d');
    await createdAndSynced(fileSystem, '/d/f', bytes(1));
    const handle = await fileSystem.openAppend('/d/f');
    await handle.append(new Uint8Array([2, 3, 4, 5, 6, 7]));
    await handle.append(new Uint8Array([8, 9, 10, 11]));
    fileSystem.crash();
    const content = [...(await fileSystem.readFile('/d/f'))];
    const firstWrite = content.slice(1, 7).filter((value) => value !== 0);
    const intact = [2, 3, 4, 5, 6, 7].slice(0, firstWrite.length);
    assert.deepEqual(firstWrite, intact, `the older write is a prefix without holes: ${content}`);
  }
});

test('handles opened before a crash are dead, and operations in flight fail', async () => {
  let crashDuringNextSync = false;
  const fileSystem: SimulatedFileSystem = new SimulatedFileSystem({
    beforeOperation: async (operation: FileOperation) => {
      if (operation.kind === 'sync' && crashDuringNextSync) {
        crashDuringNextSync = false;
        fileSystem.crash();
      }
    },
  });
  await fileSystem.makeDirectory('/d');
  const handle = await fileSystem.openAppend('/d/f');
  await fileSystem.syncDirectory('/d');
  await handle.append(bytes(1));
  crashDuringNextSync = true;
  await assert.rejects(handle.sync(), (error) => isStorageError(error, 'io'));
  await assert.rejects(handle.append(bytes(2)), (error) => isStorageError(error, 'io'));
  assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(), 'the sync never happened');
});

test('the hook sees every operation and can delay it; the disk can fill up', async () => {
  const seen: string[] = [];
  const fileSystem = new SimulatedFileSystem({
    capacityBytes: 10,
    beforeOperation: async (operation) => {
      seen.push(operation.kind);
      await Promise.resolve();
    },
  });
  await fileSystem.makeDirectory('/d');
  const handle = await fileSystem.openAppend('/d/f');
  await handle.append(new Uint8Array(8));
  await assert.rejects(handle.append(new Uint8Array(5)), (error) => isStorageError(error, 'disk-full'));
  assert.equal(await fileSystem.sizeOf('/d/f'), 10, 'a short write fills the disk');
  assert.deepEqual(seen, ['make-directory', 'open-append', 'append', 'append', 'size']);
});

test('reads of missing files and directories fail with io', async () => {
  const fileSystem = new SimulatedFileSystem();
  await assert.rejects(fileSystem.readFile('/nope/f'), (error) => isStorageError(error, 'io'));
  await fileSystem.makeDirectory('/d');
  await assert.rejects(fileSystem.readFile('/d/f'), (error) => isStorageError(error, 'io'));
  await assert.rejects(fileSystem.rename('/d/f', '/d/g'), (error) => isStorageError(error, 'io'));
});

test('writes at offsets into allocated zeros: the zeros are durable once synced, unsynced writes are lost', async () => {
  const fileSystem = new SimulatedFileSystem();
  await fileSystem.makeDirectory('/d');
  const handle = await fileSystem.openWritable('/d/f');
  await fileSystem.syncDirectory('/d');
  await handle.allocate(1 << 20);
  fileSystem.crash();
  assert.equal(await fileSystem.sizeOf('/d/f'), 0, 'an unsynced allocation is lost');
  const again = await fileSystem.openWritable('/d/f');
  await again.allocate(1 << 20);
  await again.sync();
  await again.writeAt(100, bytes(1, 2, 3));
  assert.deepEqual(await fileSystem.readRange('/d/f', 99, 5), bytes(0, 1, 2, 3, 0));
  assert.equal(await fileSystem.sizeOf('/d/f'), 1 << 20, 'a write inside the file does not change its size');
  fileSystem.crash();
  assert.equal(await fileSystem.sizeOf('/d/f'), 1 << 20);
  assert.deepEqual(await fileSystem.readRange('/d/f', 99, 5), bytes(0, 0, 0, 0, 0));
  const third = await fileSystem.openWritable('/d/f');
  await third.writeAt(100, bytes(4, 5));
  await third.sync();
  await third.writeAt(100, bytes(9, 9, 9));
  fileSystem.crash();
  assert.deepEqual(await fileSystem.readRange('/d/f', 99, 5), bytes(0, 4, 5, 0, 0), 'an overwrite not synced leaves the old bytes');
  assert.equal(fileSystem.stats().bytesWritten, 3 + 2 + 3, 'allocated zeros are not counted as written');
});

test('torn crashes of writes at offsets keep, byte by byte, the old or the new content, holes only in the last write', async () => {
  const random = seeded(11);
  const outcomes = new Set<string>();
  for (let trial = 0; trial < 300; trial++) {
    const fileSystem = new SimulatedFileSystem({ random });
    await fileSystem.makeDirectory('/d');
    const handle = await fileSystem.openWritable('/d/f');
    await fileSystem.syncDirectory('/d');
    await handle.allocate(64);
    await handle.writeAt(0, new Uint8Array(16).fill(7));
    await handle.sync();
    // Two unsynced writes: one overwriting old bytes, then one into the allocated zeros.
    await handle.writeAt(8, new Uint8Array(16).fill(1));
    await handle.writeAt(24, new Uint8Array(16).fill(2));
    fileSystem.crash();
    const content = await fileSystem.readFile('/d/f');
    assert.equal(content.length, 64, 'the size was durable');
    const first = [...content.subarray(8, 24)].map((value, position) => (value === 1 ? 'new' : value === (position < 8 ? 7 : 0) ? 'old' : 'bad'));
    const second = [...content.subarray(24, 40)].map((value) => (value === 2 ? 'new' : value === 0 ? 'old' : 'bad'));
    assert.ok(![...first, ...second].includes('bad'), `only old or new bytes: ${content}`);
    assert.deepEqual([...content.subarray(0, 8)], [7, 7, 7, 7, 7, 7, 7, 7], 'synced bytes survive');
    const firstKept = first.lastIndexOf('new') + 1;
    if (second.includes('new')) assert.ok(first.every((state) => state === 'new'), `a later write survived, so the first one did whole: ${content}`);
    else assert.ok(first.slice(0, firstKept).every((state) => state === 'new') && first.slice(firstKept).every((state) => state === 'old'), `only the last write may have holes: ${content}`);
    outcomes.add(`${first.filter((state) => state === 'new').length}/${second.filter((state) => state === 'new').length}`);
  }
  assert.ok(outcomes.size > 10, `crashes tear at various places (${[...outcomes]})`);
});

test('allocation counts against the capacity and stops short when the disk is full', async () => {
  const fileSystem = new SimulatedFileSystem({ capacityBytes: 1000 });
  await fileSystem.makeDirectory('/d');
  const handle = await fileSystem.openWritable('/d/f');
  await handle.allocate(600);
  await handle.writeAt(0, new Uint8Array(600).fill(1));
  assert.equal(await fileSystem.sizeOf('/d/f'), 600, 'writing inside allocated space needs no room');
  const other = await fileSystem.openWritable('/d/g');
  await assert.rejects(other.allocate(500), (error) => isStorageError(error, 'disk-full'));
  assert.equal(await fileSystem.sizeOf('/d/g'), 400);
  await assert.rejects(handle.writeAt(590, new Uint8Array(20)), (error) => isStorageError(error, 'disk-full'));
});

test('an operation cut by a crash while it is in flight never acts after the crash', async () => {
  // Whatever turn of the event loop the crash lands on, the write either happened before it
  // (and, unsynced, is undone) or fails: it never lands on the restarted machine's disk.
  for (let turns = 0; turns < 8; turns++) {
    const fileSystem = new SimulatedFileSystem({ beforeOperation: () => undefined });
    await fileSystem.makeDirectory('/d');
    const handle = await fileSystem.openWritable('/d/f');
    await handle.allocate(4);
    await handle.sync();
    await fileSystem.syncDirectory('/d');
    const writing = handle.writeAt(0, bytes(1, 2)).then(() => 'written', () => 'failed');
    for (let turn = 0; turn < turns; turn++) await Promise.resolve();
    fileSystem.crash();
    await writing;
    assert.deepEqual(await fileSystem.readFile('/d/f'), bytes(0, 0, 0, 0), `crash after ${turns} turns`);
  }
});
