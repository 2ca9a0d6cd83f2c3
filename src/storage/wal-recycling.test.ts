// WAL segment recycling and the format 2 records it needs: a segment that compaction made
// unneeded becomes the next segment instead of a new file of zeros, its old records stay in it,
// and they never read as records of the new segment. Format 1 data directories (written before
// recycling) are still read and written. On the simulated file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entriesFrom, observe } from './conformance.ts';
import type { FileOperation } from './file-system.ts';
import { FileStorage } from './file-storage.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import type { SegmentIdentity, WalRecord } from './wal/records.ts';
import { encodeWrite, readRecord, recordHeaderBytes } from './wal/records.ts';
import { crc32c } from '../util/crc32c.ts';
import { endOfContent, parseSegmentName, scanSegment, SEGMENT_SUFFIX } from './wal/segment.ts';
import { PREPARED_SEGMENT_NAME, SPARE_SEGMENT_NAME } from './wal/segment-pipeline.ts';

const DIRECTORY = '/node';
const WAL = '/node/wal';
const SEGMENT_BYTES = 1024;
const MAX_RECORD_BYTES = 1 << 26;
const CONF_STATE = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

function open(fileSystem: SimulatedFileSystem, segmentMaxBytes = SEGMENT_BYTES): Promise<FileStorage> {
  return FileStorage.open({ fileSystem, directory: DIRECTORY, segmentMaxBytes });
}

function segmentNames(fileSystem: SimulatedFileSystem): string[] {
  return fileSystem.peekDirectory(WAL).filter((name) => parseSegmentName(name) !== undefined);
}

function salt(byte: number): Uint8Array {
  return new Uint8Array(8).fill(byte);
}

/** Synced saves of three 40-byte entries, with a snapshot and a compaction every fourth save. */
async function writeAndCompact(storage: FileStorage, saves: number): Promise<void> {
  for (let save = 0; save < saves; save++) {
    const first = storage.lastIndex() + 1;
    await storage.save({ entries: entriesFrom(first, 3, 1, 40), hardState: { term: 1, vote: 1, commit: first + 2 } }, true);
    if (save % 4 === 3) {
      const index = storage.lastIndex() - 2;
      await storage.saveSnapshot({ metadata: { index, term: 1, confState: CONF_STATE }, data: new Uint8Array([save]) });
      await storage.compact(index);
    }
  }
}

test('compacted segments are reused instead of writing new files of zeros, and a restart reads exactly what was written', async () => {
  const operations: FileOperation[] = [];
  const fileSystem = new SimulatedFileSystem({ beforeOperation: (operation) => void operations.push(operation) });
  let storage = await open(fileSystem);
  await writeAndCompact(storage, 60);
  await storage.settled();
  const stats = storage.stats();
  const allocations = operations.filter((operation) => operation.kind === 'allocate').length;
  assert.ok(stats.walSegmentsRecycled >= 10, `segments recycled: ${stats.walSegmentsRecycled} of ${stats.walSegmentsPrepared}`);
  assert.equal(allocations, stats.walSegmentsPrepared - stats.walSegmentsRecycled, 'only the others were filled with zeros');
  // The current segment is a recycled file: old records follow the new ones, and none of them reads.
  const currentScan = () => {
    const current = segmentNames(fileSystem).at(-1)!;
    const bytes = fileSystem.peek(`${WAL}/${current}`);
    return { bytes, scan: scanSegment(bytes, parseSegmentName(current)!, MAX_RECORD_BYTES) };
  };
  // Until a save starts a segment (in a recycled file: all but the first few are).
  for (let save = 0; save < 10 && currentScan().scan.validBytes > SEGMENT_BYTES / 2; save++) await writeAndCompact(storage, 1);
  const { bytes, scan } = currentScan();
  assert.ok(bytes.subarray(scan.validBytes).some((byte) => byte !== 0), 'old records after the new ones');
  assert.equal(scan.defect?.laterWriteAt, undefined);
  assert.equal(scan.defect?.oursEnd, scan.validBytes, 'nothing of this segment after its records');
  const expected = observe(storage);
  fileSystem.crash();
  storage = await open(fileSystem);
  assert.deepEqual(observe(storage), expected);
  assert.deepEqual(storage.recovery.tornTails, [], 'old records are not reported as a torn write');
  await writeAndCompact(storage, 20);
  const expectedAfter = observe(storage);
  await storage.close();
  assert.deepEqual(fileSystem.peekDirectory(WAL), segmentNames(fileSystem), 'close deletes the spare and prepared files');
  storage = await open(fileSystem);
  assert.deepEqual(observe(storage), expectedAfter);
  await storage.close();
});

test('a spare or prepared file left by a crash is deleted at the next start, never read', async () => {
  const fileSystem = new SimulatedFileSystem();
  const storage = await open(fileSystem);
  await writeAndCompact(storage, 30);
  await storage.settled();
  const expected = observe(storage);
  fileSystem.crash();
  const leftovers = fileSystem.peekDirectory(WAL).filter((name) => name === SPARE_SEGMENT_NAME || name === PREPARED_SEGMENT_NAME);
  assert.ok(leftovers.includes(PREPARED_SEGMENT_NAME), `left behind: ${leftovers.join(', ')}`);
  const reopened = await open(fileSystem);
  assert.deepEqual(observe(reopened), expected);
  assert.deepEqual(reopened.recovery.removedFiles.map((path) => path.slice(WAL.length + 1)).sort(), leftovers.sort());
  await reopened.close();
});

test('records of another salt or sequence never verify, even at the same offset', () => {
  const records: WalRecord[] = [{ type: 'entries', entries: entriesFrom(1, 5, 1, 30) }, { type: 'hard-state', hardState: { term: 1, vote: 1, commit: 5 } }];
  const written = encodeWrite(records, { sequence: 7, salt: salt(1) }, 0);
  assert.equal(scanSegment(written, { sequence: 7, salt: salt(1) }, MAX_RECORD_BYTES).records.length, 2);
  for (const other of [{ sequence: 7, salt: salt(2) }, { sequence: 8, salt: salt(1) }, { sequence: 7 }]) {
    const scan = scanSegment(written, other, MAX_RECORD_BYTES);
    assert.deepEqual(scan.records, [], `read as ${JSON.stringify(other)}`);
    assert.equal(scan.defect?.laterWriteAt, undefined);
    // Format 1 segments were never recycled: whatever follows a bad spot is taken for a torn write.
    assert.equal(scan.defect?.oursEnd, other.salt === undefined ? endOfContent(written, 0) : 0);
  }
});

/**
 * A salt B under which a plain CRC-32C over (salt, sequence B, any further fields) equals the one
 * over (salt A, sequence A, the same fields). CRC is linear over GF(2), so B is found by solving 32
 * equations in the 64 salt bits: what an unlucky recycle (2^-32) would meet by chance.
 */
function plainCrcCollision(saltA: Uint8Array, sequenceA: number, sequenceB: number, fieldBytes: number): Uint8Array {
  const zeros = crc32c(new Uint8Array(fieldBytes));
  const image = (saltDelta: Uint8Array, sequenceDelta: number): number => {
    const message = new Uint8Array(fieldBytes);
    message.set(saltDelta, 0);
    new DataView(message.buffer).setUint32(8, sequenceDelta, true);
    return (crc32c(message) ^ zeros) >>> 0;
  };
  const pivots = new Map<number, { image: number; bits: bigint }>();
  for (let bit = 0; bit < 64; bit++) {
    const unit = new Uint8Array(8);
    unit[bit >> 3] = 1 << (bit & 7);
    let reduced = { image: image(unit, 0), bits: 1n << BigInt(bit) };
    while (reduced.image !== 0) {
      const pivot = pivots.get(31 - Math.clz32(reduced.image));
      if (pivot === undefined) {
        pivots.set(31 - Math.clz32(reduced.image), reduced);
        break;
      }
      reduced = { image: (reduced.image ^ pivot.image) >>> 0, bits: reduced.bits ^ pivot.bits };
    }
  }
  let target = image(new Uint8Array(8), (sequenceA ^ sequenceB) >>> 0);
  let bits = 0n;
  while (target !== 0) {
    const pivot = pivots.get(31 - Math.clz32(target))!;
    target = (target ^ pivot.image) >>> 0;
    bits ^= pivot.bits;
  }
  const saltB = new Uint8Array(saltA);
  for (let bit = 0; bit < 64; bit++) if (((bits >> BigInt(bit)) & 1n) === 1n) saltB[bit >> 3]! ^= 1 << (bit & 7);
  return saltB;
}

test('old records do not pass together even when a plain CRC of their headers would collide', () => {
  const saltA = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const saltB = plainCrcCollision(saltA, 3, 17, 33);
  const sample = (saltValue: Uint8Array, sequence: number) => {
    const fields = new Uint8Array(33).fill(0x5a);
    fields.set(saltValue, 0);
    new DataView(fields.buffer).setUint32(8, sequence, true);
    new DataView(fields.buffer).setUint32(12, 0, true);
    return crc32c(fields);
  };
  assert.notDeepEqual(saltB, saltA);
  assert.equal(sample(saltB, 17), sample(saltA, 3), 'the premise: the plain CRCs collide');
  const records: WalRecord[] = [
    { type: 'header', sequence: 3, firstIndex: 100, previousSegmentBytes: 5000 },
    { type: 'compact', index: 99, term: 1 },
    { type: 'hard-state', hardState: { term: 2, vote: 1, commit: 99 } },
    { type: 'entries', entries: entriesFrom(100, 4, 2, 30) },
  ];
  const written = encodeWrite(records, { sequence: 3, salt: saltA }, 0);
  let offset = 0;
  for (const record of records) {
    assert.equal(readRecord(written, { sequence: 17, salt: saltB }, offset, MAX_RECORD_BYTES).ok, false, `the ${record.type} record at ${offset}`);
    const own = readRecord(written, { sequence: 3, salt: saltA }, offset, MAX_RECORD_BYTES);
    assert.ok(own.ok);
    offset = own.nextOffset;
  }
});

test('what a torn write left in a recycled segment is found among the old records, and only it is wiped', () => {
  const segment: SegmentIdentity = { sequence: 9, salt: salt(3) };
  const file = new Uint8Array(16 * 1024);
  // The file's previous life: records of another segment all over it.
  const old = encodeWrite(Array.from({ length: 40 }, (_, position) => ({ type: 'entries', entries: entriesFrom(position * 3 + 1, 3, 1, 100) })), { sequence: 4, salt: salt(4) }, 0);
  file.set(old.subarray(0, file.length));
  const kept = encodeWrite([{ type: 'entries', entries: entriesFrom(500, 3, 2, 40) }], segment, 0);
  file.set(kept, 0);
  // A torn write after it: its first record lost, its second one on disk.
  const torn = encodeWrite([{ type: 'entries', entries: entriesFrom(503, 3, 2, 40) }, { type: 'hard-state', hardState: { term: 2, vote: 1, commit: 505 } }], segment, kept.length);
  file.set(torn.subarray(recordHeaderBytes(segment) + 20), kept.length + recordHeaderBytes(segment) + 20);
  const scan = scanSegment(file, segment, MAX_RECORD_BYTES);
  assert.equal(scan.records.length, 1);
  assert.equal(scan.validBytes, kept.length);
  assert.equal(scan.defect?.laterWriteAt, undefined, 'a torn write, not corruption');
  assert.equal(scan.defect?.oursEnd, kept.length + torn.length, 'wiped up to the end of the torn write, not the old records after it');
  // A later write after damage is still corruption, old records or not.
  const later = encodeWrite([{ type: 'hard-state', hardState: { term: 2, vote: 1, commit: 502 } }], segment, kept.length + torn.length);
  file.set(later, kept.length + torn.length);
  assert.equal(scanSegment(file, segment, MAX_RECORD_BYTES).defect?.laterWriteAt, kept.length + torn.length);
});

test('old content crafted to look like records costs one header check per position, not a payload checksum', { timeout: 60_000 }, () => {
  // Every 13 bytes a header of a known type claiming a payload of 4 MiB: format 1's scan for a
  // later write checksums each claimed payload (about 2.6 TB here, hours); format 2 rejects each
  // header by its own checksum first. The timeout is only a bound far above linear work.
  const segment: SegmentIdentity = { sequence: 2, salt: salt(5) };
  const file = new Uint8Array(8 * 1024 * 1024);
  const view = new DataView(file.buffer);
  for (let offset = 0; offset + 13 <= file.length; offset += 13) {
    view.setUint32(offset, 4 * 1024 * 1024, true);
    view.setUint32(offset + 4, offset, true);
    view.setUint8(offset + 8, 0x82);
  }
  const kept = encodeWrite([{ type: 'hard-state', hardState: { term: 1, vote: 1, commit: 1 } }], segment, 0);
  file.set(kept, 0);
  const scan = scanSegment(file, segment, MAX_RECORD_BYTES);
  assert.equal(scan.records.length, 1);
  assert.equal(scan.defect?.laterWriteAt, undefined);
  assert.equal(scan.defect?.oursEnd, kept.length);
});

test('a format 1 data directory is read, appended to, and continued in format 2 segments', async () => {
  const fileSystem = new SimulatedFileSystem();
  const formatOne: SegmentIdentity = { sequence: 0 };
  const name = `${'0'.repeat(16)}-${'0'.repeat(15)}1${SEGMENT_SUFFIX}`;
  const entries = entriesFrom(1, 6, 1, 40);
  const written = encodeWrite([
    { type: 'header', sequence: 0, firstIndex: 1, previousSegmentBytes: 0 },
    { type: 'compact', index: 0, term: 0 },
    { type: 'hard-state', hardState: { term: 1, vote: 1, commit: 0 } },
    { type: 'entries', entries },
    { type: 'hard-state', hardState: { term: 1, vote: 1, commit: 6 } },
  ], formatOne, 0);
  const file = new Uint8Array(SEGMENT_BYTES);
  file.set(written);
  await fileSystem.makeDirectory(WAL);
  const handle = await fileSystem.openWritable(`${WAL}/${name}`);
  await handle.writeAt(0, file);
  await handle.sync();
  await handle.close();
  await fileSystem.syncDirectory(WAL);
  let storage = await open(fileSystem);
  assert.equal(storage.lastIndex(), 6);
  assert.deepEqual(storage.entries(1, 7, Infinity), entries);
  assert.equal(storage.initialState().hardState.commit, 6);
  // The next saves go into the format 1 segment until it is full, then into format 2 ones.
  for (let save = 0; save < 12; save++) {
    const first = storage.lastIndex() + 1;
    await storage.save({ entries: entriesFrom(first, 3, 1, 40), hardState: { term: 1, vote: 1, commit: first + 2 } }, true);
  }
  const expected = observe(storage);
  await storage.close();
  const names = segmentNames(fileSystem);
  assert.equal(names[0], name);
  assert.ok(names.length >= 2 && names.slice(1).every((later) => parseSegmentName(later)!.salt !== undefined), names.join(', '));
  assert.ok(scanSegment(fileSystem.peek(`${WAL}/${name}`), formatOne, MAX_RECORD_BYTES).records.length > 5, 'appended to in format 1');
  storage = await open(fileSystem);
  assert.deepEqual(observe(storage), expected);
  await storage.close();
});
