// FileStorage behaviour beyond the conformance suite: recovery from torn tails and corruption,
// snapshot fallback, segment deletion, group commit, failures. On the simulated file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileOperation } from './file-system.ts';
import { FileStorage } from './file-storage.ts';
import type { FileStorageOptions } from './file-storage.ts';
import { entriesFrom, observe } from './conformance.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import { isStorageError, StorageError } from './types.ts';
import { scanSegment, parseSegmentName } from './wal/segment.ts';
import type { SegmentIdentity } from './wal/records.ts';
import { encodeWrite } from './wal/records.ts';

const DIRECTORY = '/node';
const WAL = '/node/wal';
const SNAP = '/node/snap';

/** Segments of 16 KiB unless told otherwise: small enough to copy around when injecting damage. */
function open(fileSystem: SimulatedFileSystem, options: Partial<FileStorageOptions> = {}): Promise<FileStorage> {
  return FileStorage.open({ fileSystem, directory: DIRECTORY, segmentMaxBytes: 16 * 1024, ...options });
}

/** The segment files (not the prepared next one). */
function segments(fileSystem: SimulatedFileSystem): string[] {
  return fileSystem.peekDirectory(WAL).filter((name) => parseSegmentName(name) !== undefined).map((name) => `${WAL}/${name}`);
}

function scanOf(fileSystem: SimulatedFileSystem, path: string): ReturnType<typeof scanSegment> {
  return scanSegment(fileSystem.peek(path), identityOf(path), 1 << 26);
}

function identityOf(path: string): SegmentIdentity {
  return parseSegmentName(path.slice(path.lastIndexOf('/') + 1))!;
}

function recordOffsets(fileSystem: SimulatedFileSystem, path: string): number[] {
  return scanOf(fileSystem, path).records.map((record) => record.offset);
}

/** Where the records of a segment end (the zeros of its preallocated space follow). */
function recordsEnd(fileSystem: SimulatedFileSystem, path: string): number {
  return scanOf(fileSystem, path).validBytes;
}

function flipByte(fileSystem: SimulatedFileSystem, path: string, offset: number): void {
  const content = fileSystem.peek(path);
  content[offset]! ^= 0x40;
  fileSystem.overwrite(path, content);
}

/** Ten synced saves of three entries each, committing as it goes. */
async function writeSaves(storage: FileStorage, count = 10): Promise<void> {
  for (let save = 0; save < count; save++) {
    const first = storage.lastIndex() + 1;
    await storage.save({ entries: entriesFrom(first, 3, 1, 40), hardState: { term: 1, vote: 1, commit: first - 1 } }, true);
  }
}

function rejectsWith(code: StorageError['code'], file?: string, offset?: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isStorageError(error, code), `expected ${code}, got ${String(error)}`);
    if (file !== undefined) assert.equal(error.file, file);
    if (offset !== undefined) assert.equal(error.offset, offset);
    if (file !== undefined) assert.match(error.message, new RegExp(`${file.replace(/[.]/g, '\\.')}.*byte ${offset}`));
    return true;
  };
}

test('a torn tail is wiped with zeros and reported; everything synced is kept, the file keeps its size', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem);
  await writeSaves(storage);
  const expected = observe(storage);
  await storage.close();
  const [last] = segments(fileSystem).slice(-1);
  const fileSize = fileSystem.peek(last!).length;
  assert.equal(fileSize, 16 * 1024, 'the segment is preallocated');
  const end = recordsEnd(fileSystem, last!);
  // Half of a record of this segment right after the last one (its header verifies), then zeros.
  const torn = encodeWrite([{ type: 'entries', entries: entriesFrom(31, 1, 1, 100) }], identityOf(last!), end);
  const content = fileSystem.peek(last!);
  content.set(torn.subarray(0, torn.length / 2), end);
  fileSystem.overwrite(last!, content);
  storage = await open(fileSystem);
  assert.deepEqual(storage.recovery.tornTails, [{ file: last, offset: end, droppedBytes: torn.length }]);
  assert.deepEqual(observe(storage), expected);
  assert.equal(fileSystem.peek(last!).length, fileSize, 'the file keeps its preallocated size');
  assert.deepEqual(fileSystem.peek(last!).subarray(end, end + torn.length), new Uint8Array(torn.length), 'the torn bytes are zeroed');
  await writeSaves(storage, 1);
  await storage.close();
  storage = await open(fileSystem);
  assert.deepEqual(storage.recovery.tornTails, []);
  assert.equal(storage.lastIndex(), 33);
  await storage.close();
});

test('zeros after the last record are the normal end of a segment: not torn, and writing goes on right after it', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem);
  await writeSaves(storage);
  await storage.close();
  const [last] = segments(fileSystem).slice(-1);
  const end = recordsEnd(fileSystem, last!);
  storage = await open(fileSystem);
  assert.deepEqual(storage.recovery.tornTails, []);
  assert.deepEqual(storage.recovery.removedFiles, []);
  await storage.close();
  // A segment that was not preallocated (written before preallocation, or that grew past its
  // size), whose size reached the disk but not its last data blocks: zeros too.
  fileSystem.overwrite(last!, new Uint8Array([...fileSystem.peek(last!).subarray(0, end), ...new Uint8Array(100)]));
  storage = await open(fileSystem);
  assert.deepEqual(storage.recovery.tornTails, []);
  assert.equal(storage.lastIndex(), 30);
  await writeSaves(storage, 1);
  await storage.close();
  storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), 33);
  assert.equal(recordOffsets(fileSystem, last!).filter((offset) => offset >= end)[0], end, 'the next record starts where the last one ended');
  await storage.close();
});

test('a bad record followed by valid ones is corruption naming the file and offset', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem);
  await writeSaves(storage);
  await storage.close();
  const [last] = segments(fileSystem).slice(-1);
  const offsets = recordOffsets(fileSystem, last!);
  const victim = offsets[5]!;
  flipByte(fileSystem, last!, victim + 20);
  await assert.rejects(open(fileSystem), rejectsWith('wal-corrupt', last!, victim));
  // Also when the damage is in the length field, so the bad record's extent is unknown.
  flipByte(fileSystem, last!, victim + 20);
  flipByte(fileSystem, last!, victim + 1);
  await assert.rejects(open(fileSystem), rejectsWith('wal-corrupt', last!, victim));
});

test('damage inside the last write, even with valid records of that write after it, is a torn tail', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem);
  await writeSaves(storage);
  await storage.close();
  const [last] = segments(fileSystem).slice(-1);
  const offsets = recordOffsets(fileSystem, last!);
  // The last save wrote [entries, hard state]: lose a range inside the entries record only, as
  // when the pages of one write reach the disk out of order.
  const entriesRecord = offsets[offsets.length - 2]!;
  const writeEnd = recordsEnd(fileSystem, last!);
  const content = fileSystem.peek(last!);
  content.fill(0, entriesRecord + 12, entriesRecord + 40);
  fileSystem.overwrite(last!, content);
  // What is dropped ends with the hard state record, which still verifies.
  storage = await open(fileSystem);
  assert.deepEqual(storage.recovery.tornTails, [{ file: last, offset: entriesRecord, droppedBytes: writeEnd - entriesRecord }]);
  assert.deepEqual(fileSystem.peek(last!).subarray(entriesRecord), new Uint8Array(content.length - entriesRecord), 'wiped');
  assert.equal(storage.lastIndex(), 27, 'the last save is dropped whole');
  await storage.close();
});

test('damage at the end of the records of a segment that is not the last one is corruption; after them it is ignored', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage);
  await storage.close();
  const all = segments(fileSystem);
  assert.ok(all.length >= 3, `several segments (${all.length})`);
  const first = all[0]!;
  const offsets = recordOffsets(fileSystem, first);
  const lastRecord = offsets[offsets.length - 1]!;
  const end = recordsEnd(fileSystem, first);
  flipByte(fileSystem, first, end - 1);
  await assert.rejects(open(fileSystem, { segmentMaxBytes: 600 }), rejectsWith('wal-corrupt', first, lastRecord));
  // After the records the next segment's header says where they end: what follows is never read
  // (a recycled segment's old records are there), and damage to it loses nothing.
  flipByte(fileSystem, first, end - 1);
  flipByte(fileSystem, first, end + 5);
  const reopened = await open(fileSystem, { segmentMaxBytes: 600 });
  assert.equal(reopened.lastIndex(), 30);
  assert.deepEqual(reopened.recovery.tornTails, []);
  await reopened.close();
});

test('damage at the end of a segment followed by an interrupted roll-over is corruption, not a torn tail', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage);
  await storage.close();
  const all = segments(fileSystem);
  const [previous, last] = all.slice(-2);
  const offsets = recordOffsets(fileSystem, previous!);
  const lastRecord = offsets[offsets.length - 1]!;
  flipByte(fileSystem, previous!, recordsEnd(fileSystem, previous!) - 1);
  // Of the last segment only its header reached the disk, as when a crash cut the roll-over's write.
  const content = fileSystem.peek(last!);
  content.fill(0, recordOffsets(fileSystem, last!)[1]!);
  fileSystem.overwrite(last!, content);
  // That header says where the previous segment's records end: the damage is before that.
  await assert.rejects(open(fileSystem, { segmentMaxBytes: 600 }), rejectsWith('wal-corrupt', previous, lastRecord));
});

test('a segment cut short at a record boundary, or missing, is corruption', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage);
  await storage.close();
  const all = segments(fileSystem);
  const second = all[1]!;
  const offsets = recordOffsets(fileSystem, second);
  const original = fileSystem.peek(second);
  const end = recordsEnd(fileSystem, second);
  fileSystem.overwrite(second, original.subarray(0, offsets[offsets.length - 1]!));
  await assert.rejects(open(fileSystem), (error) => isStorageError(error, 'wal-corrupt') && error.file === second && /cut short/.test(error.message));
  // The same in a preallocated file: the last records turned to zeros, the file keeps its size.
  // Zeros after records are a normal end; the next segment's header says where they really ended.
  const zeroed = original.slice();
  zeroed.fill(0, offsets[offsets.length - 2]!, end);
  fileSystem.overwrite(second, zeroed);
  await assert.rejects(open(fileSystem), (error) => isStorageError(error, 'wal-corrupt') && error.file === second &&
    error.offset === offsets[offsets.length - 2] && /cut short/.test(error.message));
  fileSystem.overwrite(second, original);
  await fileSystem.unlink(second);
  await assert.rejects(open(fileSystem), (error) => isStorageError(error, 'wal-corrupt') && /missing/.test(error.message));
});

test('a last segment whose creation was interrupted is removed', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage);
  const expected = observe(storage);
  await storage.close();
  const all = segments(fileSystem);
  const last = all[all.length - 1]!;
  const name = last.slice(last.lastIndexOf('/') + 1);
  const next = `${WAL}/${(parseSegmentName(name)!.sequence + 1).toString(16).padStart(16, '0')}-${'0'.repeat(15)}1.wal`;
  const handle = await fileSystem.openAppend(next);
  await handle.append(new Uint8Array([30, 0, 0]));
  await handle.close();
  storage = await open(fileSystem, { segmentMaxBytes: 600 });
  assert.deepEqual(storage.recovery.removedFiles, [next]);
  assert.deepEqual(observe(storage), expected);
  await storage.close();
});

test('group commit: one fdatasync per save however many entries', async () => {
  const fileSystem = new SimulatedFileSystem();
  // The default 64 MiB segments (sparse in the simulated disk).
  const storage = await FileStorage.open({ fileSystem, directory: DIRECTORY });
  await storage.save({ entries: entriesFrom(1, 1, 1) }, true);
  // The next segment is prepared in the background with a sync of its own: let it finish.
  await storage.settled();
  assert.equal(storage.stats().walSegmentsPrepared, 2, 'the first segment and the next one');
  assert.equal(storage.stats().walFileBytes, 64 * 1024 * 1024);
  const before = fileSystem.stats().fileSyncs;
  await storage.save({ entries: entriesFrom(2, 5000, 1, 100), hardState: { term: 1, vote: 1, commit: 2 } }, true);
  assert.equal(fileSystem.stats().fileSyncs - before, 1);
  await storage.save({ entries: entriesFrom(5002, 10, 1, 100) }, false);
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 5000 } }, false);
  assert.equal(fileSystem.stats().fileSyncs - before, 1);
  await storage.save({ entries: [] }, true);
  assert.equal(fileSystem.stats().fileSyncs - before, 2, 'a synced empty save syncs what earlier saves left unsynced');
  assert.equal(storage.stats().fileSyncs + storage.stats().walSegmentsPrepared, fileSystem.stats().fileSyncs);
  await storage.close();
});

test('compaction deletes old segments only once a snapshot covers them, and a crash right after is fine', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage, 20);
  const segmentsBefore = storage.stats().walSegments;
  assert.ok(segmentsBefore >= 5);
  await storage.saveSnapshot({ metadata: { index: 50, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array([5, 0]) });
  assert.equal(storage.stats().walSegments, segmentsBefore, 'a snapshot alone deletes nothing');
  await storage.compact(45);
  const segmentsAfter = storage.stats().walSegments;
  assert.ok(segmentsAfter < segmentsBefore, `segments deleted (${segmentsBefore} -> ${segmentsAfter})`);
  const expected = observe(storage);
  fileSystem.crash();
  storage = await open(fileSystem, { segmentMaxBytes: 600 });
  assert.deepEqual(observe(storage), expected);
  assert.equal(storage.firstIndex(), 46);
  await storage.close();
});

test('a corrupt newest snapshot falls back to an older one while the WAL still has the entries', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem);
  await writeSaves(storage);
  const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  await storage.saveSnapshot({ metadata: { index: 10, term: 1, confState }, data: new Uint8Array([1]) });
  await storage.saveSnapshot({ metadata: { index: 20, term: 1, confState }, data: new Uint8Array([2]) });
  await storage.close();
  const [older, newest] = fileSystem.peekDirectory(SNAP).map((name) => `${SNAP}/${name}`);
  flipByte(fileSystem, newest!, 30);
  storage = await open(fileSystem);
  assert.equal(storage.recovery.corruptSnapshots.length, 1);
  assert.equal(storage.recovery.corruptSnapshots[0]!.file, newest);
  assert.equal(storage.snapshot().metadata.index, 10);
  assert.deepEqual(storage.snapshot().data, new Uint8Array([1]));
  assert.equal(storage.lastIndex(), 30);
  assert.deepEqual(fileSystem.peekDirectory(SNAP), [older!.slice(SNAP.length + 1), `${newest!.slice(SNAP.length + 1)}.corrupt`]);
  await storage.close();
});

test('a corrupt newest snapshot whose entries were compacted away is fatal', async () => {
  const fileSystem = new SimulatedFileSystem();
  let storage = await open(fileSystem, { segmentMaxBytes: 600 });
  await writeSaves(storage, 20);
  const confState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  await storage.saveSnapshot({ metadata: { index: 10, term: 1, confState }, data: new Uint8Array([1]) });
  await storage.saveSnapshot({ metadata: { index: 50, term: 1, confState }, data: new Uint8Array([2]) });
  await storage.compact(50);
  await storage.close();
  const newest = `${SNAP}/${fileSystem.peekDirectory(SNAP)[1]}`;
  flipByte(fileSystem, newest, 30);
  await assert.rejects(open(fileSystem, { segmentMaxBytes: 600 }), (error) => isStorageError(error, 'snapshot-corrupt') && error.file === newest);
  storage = undefined as never;
});

test('an entry larger than the record limit is refused and the storage stays usable', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem, { maxRecordBytes: 1000 });
  await assert.rejects(storage.save({ entries: entriesFrom(1, 1, 1, 2000) }, true), (error) => isStorageError(error, 'too-large'));
  await storage.save({ entries: entriesFrom(1, 2, 1, 900) }, true);
  assert.equal(storage.lastIndex(), 2);
  await storage.close();
});

test('after a failed write every call fails; a restart recovers what was synced', async () => {
  let failAppends = false;
  const fileSystem = new SimulatedFileSystem({
    beforeOperation: (operation: FileOperation) => {
      if (failAppends && operation.kind === 'write') throw new StorageError('disk-full', 'the disk is full');
    },
  });
  let storage = await open(fileSystem);
  await writeSaves(storage, 3);
  failAppends = true;
  await assert.rejects(storage.save({ entries: entriesFrom(10, 1, 1) }, true), (error) => isStorageError(error, 'disk-full'));
  failAppends = false;
  await assert.rejects(storage.save({ entries: entriesFrom(10, 1, 1) }, true), (error) => isStorageError(error, 'disk-full'));
  assert.equal(storage.lastIndex(), 9, 'the failed save is not visible');
  await storage.close();
  fileSystem.crash();
  storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), 9);
  await storage.close();
});

test('a snapshot install interrupted after the snapshot file: the stale tail is dropped, commit covers the snapshot', async () => {
  let crashOnAppend = false;
  const fileSystem: SimulatedFileSystem = new SimulatedFileSystem({
    beforeOperation: (operation: FileOperation) => {
      if (crashOnAppend && operation.kind === 'write' && operation.path.startsWith(WAL)) fileSystem.crash();
    },
  });
  let storage = await open(fileSystem);
  // A follower with stale entries 4..8 of term 1 that never committed past 3.
  await storage.save({ entries: entriesFrom(1, 8, 1), hardState: { term: 1, vote: 1, commit: 3 } }, true);
  crashOnAppend = true;
  const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const snapshot = { metadata: { index: 6, term: 2, confState }, data: new Uint8Array([6]) };
  await assert.rejects(storage.save({ snapshot, entries: entriesFrom(7, 1, 2), hardState: { term: 2, vote: 0, commit: 6 } }, true));
  crashOnAppend = false;
  storage = await open(fileSystem);
  assert.deepEqual(storage.snapshot(), snapshot);
  assert.equal(storage.firstIndex(), 7);
  assert.equal(storage.lastIndex(), 6, 'entries 7 and 8 of term 1 were stale');
  assert.deepEqual(storage.initialState().hardState, { term: 1, vote: 1, commit: 6 });
  await storage.close();
});

test('repairs after an interrupted install go into a full last segment: a new segment\'s prelude would contradict the older ones', async () => {
  let crashOnWrite = false;
  const fileSystem: SimulatedFileSystem = new SimulatedFileSystem({
    beforeOperation: (operation: FileOperation) => {
      if (crashOnWrite && operation.kind === 'write' && operation.path.startsWith(WAL)) fileSystem.crash();
    },
  });
  const options = { segmentMaxBytes: 600 };
  let storage = await open(fileSystem, options);
  // Fill the first segment to the byte, so that the repair record (29 bytes) does not fit in it.
  for (;;) {
    const end = segments(fileSystem).length === 0 ? 0 : recordsEnd(fileSystem, segments(fileSystem)[0]!);
    if (end === 600) break;
    const first = storage.lastIndex() + 1;
    // A save of one entry of 10 bytes with a hard state takes 85 bytes, one entry of n bytes alone 38 + n.
    if (end === 0 || 600 - end >= 85 + 38) await storage.save({ entries: entriesFrom(first, 1, 1, 10), hardState: { term: 1, vote: 1, commit: first - 1 } }, true);
    else await storage.save({ entries: entriesFrom(first, 1, 1, 600 - end - 38) }, true);
  }
  assert.equal(segments(fileSystem).length, 1);
  const last = storage.lastIndex();
  crashOnWrite = true;
  const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const snapshot = { metadata: { index: last - 1, term: 2, confState }, data: new Uint8Array([1]) };
  await assert.rejects(storage.save({ snapshot, entries: [], hardState: { term: 2, vote: 0, commit: last - 1 } }, true));
  crashOnWrite = false;
  storage = await open(fileSystem, options);
  assert.ok(storage.recovery.repairs.some((repair) => /newer than the WAL/.test(repair)), storage.recovery.repairs.join('; '));
  assert.equal(segments(fileSystem).length, 1, 'no new segment for the repairs');
  await storage.close();
  storage = await open(fileSystem, options);
  assert.deepEqual(storage.snapshot(), snapshot);
  assert.equal(storage.lastIndex(), last - 1);
  await storage.save({ entries: entriesFrom(last, 3, 2, 40), hardState: { term: 2, vote: 0, commit: last } }, true);
  assert.equal(segments(fileSystem).length, 2, 'the next save rolls over');
  await storage.close();
  storage = await open(fileSystem, options);
  assert.equal(storage.lastIndex(), last + 2);
  assert.equal(storage.term(last - 1), 2);
  await storage.close();
});

test('what a restarted process reads is made durable before it relies on it (the old process was killed unsynced)', async () => {
  const fileSystem = new SimulatedFileSystem();
  const killed = await open(fileSystem);
  await killed.save({ entries: entriesFrom(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } }, true);
  await killed.save({ entries: entriesFrom(4, 2, 1), hardState: { term: 1, vote: 1, commit: 3 } }, false);
  // No close and no crash: the page cache still holds the unsynced save, a new process reads it.
  let storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), 5);
  assert.equal(storage.initialState().hardState.commit, 3);
  fileSystem.crash();
  storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), 5);
  assert.equal(storage.initialState().hardState.commit, 3);
  await storage.close();
});
