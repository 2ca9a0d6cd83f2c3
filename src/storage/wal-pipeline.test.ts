// The segment pipeline: the next WAL segment is prepared (zeros to its full size, synced) in the
// background, a roll-over takes it instead of creating a file, and a crash at any point of a
// preparation or a roll-over leaves nothing harmful. On the simulated file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entriesFrom, observe } from './conformance.ts';
import type { FileOperation } from './file-system.ts';
import { FileStorage } from './file-storage.ts';
import { seeded } from './log-model.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import { isStorageError, StorageError } from './types.ts';
import { parseSegmentName } from './wal/segment.ts';
import { PREPARED_SEGMENT_NAME } from './wal/segment-pipeline.ts';
import { PREALLOCATED_MAX_BYTES } from './wal/wal.ts';

const DIRECTORY = '/node';
const WAL = '/node/wal';
const PREPARED = `${WAL}/${PREPARED_SEGMENT_NAME}`;
const SEGMENT_BYTES = 1024;

function open(fileSystem: SimulatedFileSystem | ReturnType<SimulatedFileSystem['processView']>): Promise<FileStorage> {
  return FileStorage.open({ fileSystem, directory: DIRECTORY, segmentMaxBytes: SEGMENT_BYTES });
}

function segmentNames(fileSystem: SimulatedFileSystem): string[] {
  return fileSystem.peekDirectory(WAL).filter((name) => parseSegmentName(name) !== undefined);
}

/** One synced save of three 40-byte entries (about 180 bytes), committing what came before. */
async function saveOne(storage: FileStorage): Promise<void> {
  const first = storage.lastIndex() + 1;
  await storage.save({ entries: entriesFrom(first, 3, 1, 40), hardState: { term: 1, vote: 1, commit: first - 1 } }, true);
}

test('the next segment is prepared in the background, full size and zeros, and a roll-over takes it', async () => {
  const operations: FileOperation[] = [];
  const fileSystem = new SimulatedFileSystem({ beforeOperation: (operation) => void operations.push(operation) });
  const storage = await open(fileSystem);
  await storage.settled();
  assert.deepEqual(fileSystem.peek(PREPARED), new Uint8Array(SEGMENT_BYTES), 'prepared at open: zeros, full size');
  assert.equal(storage.stats().walSegmentsPrepared, 1);
  for (let rollOvers = 0; rollOvers < 3; rollOvers++) {
    const segments = segmentNames(fileSystem).length;
    const previous = segmentNames(fileSystem).at(-1);
    // Save until a save starts a new segment; watch the operations of that save only.
    for (;;) {
      await storage.settled();
      operations.length = 0;
      await saveOne(storage);
      if (segmentNames(fileSystem).length > segments) break;
      assert.deepEqual(operations.map((operation) => operation.kind), ['write', 'sync'], 'a save inside a segment: one write, one fdatasync');
    }
    const kinds = operations.map((operation) => `${operation.kind} ${operation.path.replaceAll(`${WAL}/`, '')}`);
    const renamed = kinds.findIndex((kind) => kind.startsWith('rename'));
    const newest = segmentNames(fileSystem).at(-1)!;
    assert.deepEqual(kinds.slice(0, renamed + 2), [
      // The full segment is closed (synced already: every save was).
      ...(previous === undefined ? [] : [`close ${previous}`]),
      `write ${PREPARED_SEGMENT_NAME}`, `sync ${PREPARED_SEGMENT_NAME}`, `close ${PREPARED_SEGMENT_NAME}`,
      `rename ${PREPARED_SEGMENT_NAME} -> ${newest}`, `sync-directory ${WAL}`,
    ], 'a roll-over writes into the prepared file, syncs it once, renames it and syncs the directory');
    assert.ok(!kinds.slice(0, renamed).some((kind) => kind.startsWith('allocate') || kind.startsWith('open')), 'nothing is created on the save path');
    assert.equal(fileSystem.peek(`${WAL}/${newest}`).length, SEGMENT_BYTES, 'the new segment has its full size');
    await storage.settled();
    assert.deepEqual(fileSystem.peek(PREPARED), new Uint8Array(SEGMENT_BYTES), 'the next one is prepared again');
  }
  assert.equal(storage.stats().walSegmentsPrepared, 4);
  const expected = observe(storage);
  await storage.close();
  assert.deepEqual(fileSystem.peekDirectory(WAL), segmentNames(fileSystem), 'close deletes the prepared file');
  fileSystem.crash();
  assert.deepEqual(fileSystem.peekDirectory(WAL), segmentNames(fileSystem), 'durably');
  const reopened = await open(fileSystem);
  assert.deepEqual(observe(reopened), expected);
  assert.deepEqual(reopened.recovery.removedFiles, []);
  await reopened.close();
});

test('a roll-over waits for a preparation in flight instead of starting another', async () => {
  let release: (() => void) | undefined;
  let holdAllocations = false;
  const fileSystem = new SimulatedFileSystem({
    beforeOperation: (operation) => {
      if (operation.kind !== 'allocate' || !holdAllocations) return undefined;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  });
  holdAllocations = true;
  const storage = await open(fileSystem);
  let saved = false;
  const saving = saveOne(storage).then(() => {
    saved = true;
  });
  for (let turn = 0; turn < 20; turn++) await Promise.resolve();
  assert.equal(saved, false, 'the first save needs the first segment, still being prepared');
  assert.ok(release !== undefined);
  holdAllocations = false;
  release();
  await saving;
  assert.equal(storage.lastIndex(), 3);
  await storage.settled();
  assert.equal(storage.stats().walSegmentsPrepared, 2, 'one for the first segment, one for the next: none wasted');
  await storage.close();
});

test('a failed background preparation is retried by the roll-over; a lasting failure fails the save', async () => {
  let failures = 0;
  const fileSystem = new SimulatedFileSystem({
    beforeOperation: (operation) => {
      if (operation.kind === 'allocate' && failures > 0) {
        failures--;
        throw new StorageError('disk-full', 'injected: the disk is full');
      }
    },
  });
  failures = 1;
  let storage = await open(fileSystem);
  await storage.settled();
  assert.equal(storage.stats().walSegmentsPrepared, 0, 'the background attempt failed, quietly');
  await saveOne(storage);
  assert.equal(storage.lastIndex(), 3, 'the roll-over prepared the segment itself');
  await storage.settled();
  await storage.close();
  failures = 1000;
  storage = await open(fileSystem);
  await assert.rejects(async () => {
    for (let save = 0; save < 20; save++) await saveOne(storage);
  }, (error) => isStorageError(error, 'disk-full'));
  const last = storage.lastIndex();
  assert.ok(last > 3 && last < 60, 'saves inside the segment worked, the roll-over failed');
  await storage.close();
  failures = 0;
  storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), last);
  await saveOne(storage);
  await storage.close();
});

test('a crash at any point of a preparation or a roll-over loses nothing synced and leaves no stray file', async () => {
  let crashes = 0;
  for (let crashAt = 0; crashAt < 40; crashAt++) {
    for (const seed of [1, 2, 3]) {
      let countdown = -1;
      const fileSystem: SimulatedFileSystem = new SimulatedFileSystem({
        random: seeded(seed * 1000 + crashAt),
        beforeOperation: () => {
          if (countdown >= 0 && countdown-- === 0) fileSystem.crash();
        },
      });
      let storage = await open(fileSystem.processView());
      for (let save = 0; save < 4; save++) await saveOne(storage);
      await storage.settled();
      const synced = observe(storage);
      const lastSynced = storage.lastIndex();
      // Saves across a roll-over, and the preparation after it, until the crash.
      countdown = crashAt;
      let acknowledged = lastSynced;
      try {
        for (let save = 0; save < 6; save++) {
          await saveOne(storage);
          acknowledged = storage.lastIndex();
        }
        await storage.settled();
      } catch (error) {
        assert.ok(isStorageError(error, 'io') && /crashed/.test(error.message), String(error));
      }
      if (countdown >= 0) {
        countdown = -1;
        fileSystem.crash();
      } else {
        crashes++;
      }
      storage = await open(fileSystem.processView());
      assert.ok(storage.lastIndex() >= acknowledged, `acknowledged saves survive (crash at ${crashAt}, seed ${seed})`);
      assert.equal((storage.lastIndex() - lastSynced) % 3, 0, 'saves survive whole or not at all');
      assert.ok(storage.lastIndex() <= lastSynced + 18);
      if (storage.lastIndex() === lastSynced) assert.deepEqual(observe(storage), synced);
      await storage.settled();
      const names = fileSystem.peekDirectory(WAL);
      assert.deepEqual(names.filter((name) => parseSegmentName(name) === undefined), [PREPARED_SEGMENT_NAME], 'only segments and the one prepared file');
      await saveOne(storage);
      const expected = observe(storage);
      await storage.close();
      storage = await open(fileSystem);
      assert.deepEqual(observe(storage), expected);
      await storage.close();
    }
  }
  assert.ok(crashes > 60, `crashes happened during the saves and preparations (${crashes})`);
});

test('a prepared file left by a killed process is deleted, also one holding a roll-over whose rename was lost', async () => {
  let crashOnRename = false;
  const fileSystem: SimulatedFileSystem = new SimulatedFileSystem({
    beforeOperation: (operation) => {
      if (crashOnRename && operation.kind === 'rename') fileSystem.crash();
    },
  });
  let storage = await open(fileSystem.processView());
  await saveOne(storage);
  await storage.settled();
  const afterFirst = observe(storage);
  // Killed: no close, the prepared file stays.
  storage = await open(fileSystem.processView());
  assert.deepEqual(storage.recovery.removedFiles, [PREPARED]);
  assert.deepEqual(observe(storage), afterFirst);
  await storage.settled();
  for (let save = 0; save < 3; save++) await saveOne(storage);
  const beforeRollOver = observe(storage);
  const segments = segmentNames(fileSystem);
  // The roll-over's write reaches the prepared file and is synced, then the crash hits before
  // the rename: that save was never acknowledged.
  crashOnRename = true;
  await assert.rejects(async () => {
    for (;;) await saveOne(storage);
  }, (error) => isStorageError(error, 'io'));
  crashOnRename = false;
  assert.notDeepEqual(fileSystem.peek(PREPARED), new Uint8Array(SEGMENT_BYTES), 'the prepared file holds the start of the new segment');
  storage = await open(fileSystem.processView());
  assert.deepEqual(storage.recovery.removedFiles, [PREPARED]);
  assert.deepEqual(segmentNames(fileSystem), segments);
  assert.ok(storage.lastIndex() >= (beforeRollOver as { last: number }).last);
  await saveOne(storage);
  await storage.close();
});

test('a huge segment size preallocates at most 1 GiB; writes past it grow the file', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await FileStorage.open({ fileSystem, directory: DIRECTORY, segmentMaxBytes: 1024 ** 4 });
  await saveOne(storage);
  await storage.settled();
  const [segment] = segmentNames(fileSystem);
  assert.equal(await fileSystem.sizeOf(`${WAL}/${segment}`), PREALLOCATED_MAX_BYTES);
  assert.equal(await fileSystem.sizeOf(PREPARED), PREALLOCATED_MAX_BYTES);
  assert.equal(storage.stats().walFileBytes, PREALLOCATED_MAX_BYTES);
  await storage.close();
});
