// WAL records. A segment's format is told by its file name (segment.ts): format 2 names carry the
// segment's salt, 8 random bytes chosen when the segment was started; format 1 names do not.
//
// Format 2 (written since segments are recycled):
//
//   payloadLength u32 | headerCheck u32 | flags+type u8 | payloadCrc u32 | payload
//
// Each segment has two 32-bit secrets derived from its salt and sequence by SHA-256: a mask key and
// a payload seed. payloadCrc is the CRC-32C of the payload continued from the seed. headerCheck is
// the CRC-32C of salt, sequence, the record's byte offset in the segment, payloadLength, the type
// byte and payloadCrc, XORed with a non-linear mix of the mask key and the offset.
//
// A recycled segment file still holds the records of its previous life after the new ones. They
// fail the header check before any payload is read, which keeps recovery's scan after the last
// record linear in the file size. A CRC alone would not do: it is linear, so if one old record
// happened to verify under the new segment's salt, every old record of the same shape would. The
// mask makes each old record's chance (2^-32) independent of the others', and the seeded payload
// checksum must also match. The salt being random, no payload a client wrote can hold a record
// that verifies in a later segment.
//
// Format 1 (read, and still appended to when it is the last segment of an older data directory):
//
//   payloadLength u32 | crc u32 | flags+type u8 | payload
//
// whose CRC-32C covers sequence, offset, payloadLength, the type byte and the payload. Format 1
// segments were always zero-filled files, never recycled.
//
// In both, the high bit of the type byte marks the first record of a write (one write call), and
// binding the position into the checksum means a copy of a record found anywhere else (in a payload
// holding WAL bytes, in a stale block) does not verify, which keeps the torn-tail / corruption
// distinction honest. Zeros never read as a record: type 0 is no record type and a payload length of
// 0 is refused (every record type has a payload).
import { createHash } from 'node:crypto';
import { crc32c } from '../../util/crc32c.ts';
import type { Entry, EntryType, HardState } from '../../core/index.ts';
import { assert } from '../../core/index.ts';
import { BinaryReader, BinaryWriter, DecodeError } from '../binary.ts';
import type { ScratchBuffer } from '../binary.ts';

export const WAL_MAGIC = 0x4c415743; // 'CWAL'

/** Which segment a record belongs to: what its checksum binds, besides its offset. */
export interface SegmentIdentity {
  readonly sequence: number;
  /** Format 2: the segment's 8 random bytes. Undefined for a format 1 segment. */
  readonly salt?: Uint8Array | undefined;
}

export const SALT_BYTES = 8;

/** The format version a segment's header record states: 2 when it has a salt. */
export function formatVersion(segment: SegmentIdentity): 1 | 2 {
  return segment.salt === undefined ? 1 : 2;
}

/** Bytes before a record's payload in the segment's format. */
export function recordHeaderBytes(segment: SegmentIdentity): number {
  return segment.salt === undefined ? 9 : 13;
}

/** Record type codes: stable on disk, never reuse one. */
export const RECORD_TYPE = {
  header: 1,
  entries: 2,
  hardState: 3,
  snapshotInstall: 4,
  compact: 5,
} as const;

export type WalRecord =
  /** First record of every segment. `version` is set when read (written: the segment's format). */
  | { readonly type: 'header'; readonly sequence: number; readonly firstIndex: number; readonly previousSegmentBytes: number; readonly version?: number }
  /** Consecutive entries from entries[0].index; they replace any existing suffix from that index. */
  | { readonly type: 'entries'; readonly entries: readonly Entry[] }
  | { readonly type: 'hard-state'; readonly hardState: HardState }
  /** A snapshot from the leader was installed (its file is durable): the log is now empty after it. */
  | { readonly type: 'snapshot-install'; readonly index: number; readonly term: number }
  /** Entries up to `index` (whose term is `term`) were dropped. Also opens every segment, as its base. */
  | { readonly type: 'compact'; readonly index: number; readonly term: number };

const ENTRY_TYPE_CODES: Record<EntryType, number> = { 'normal': 0, 'conf-change': 1 };
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'conf-change'];

/** Bytes an entry takes inside an entries record (term, type, data length, data). */
export function encodedEntryBytes(entry: Entry): number {
  return 8 + 1 + 4 + entry.data.byteLength;
}

const TYPE_CODES: Record<WalRecord['type'], number> = {
  'header': RECORD_TYPE.header,
  'entries': RECORD_TYPE.entries,
  'hard-state': RECORD_TYPE.hardState,
  'snapshot-install': RECORD_TYPE.snapshotInstall,
  'compact': RECORD_TYPE.compact,
};

/** The exact size of a record's payload. */
export function payloadBytes(record: WalRecord): number {
  switch (record.type) {
    case 'header':
      return 32;
    case 'entries': {
      let total = 12;
      for (const entry of record.entries) total += encodedEntryBytes(entry);
      return total;
    }
    case 'hard-state':
      return 24;
    case 'snapshot-install':
    case 'compact':
      return 16;
  }
}

function writePayload(writer: BinaryWriter, record: WalRecord, version: 1 | 2): void {
  switch (record.type) {
    case 'header':
      writer.uint32(WAL_MAGIC).uint32(version).uint53(record.sequence).uint53(record.firstIndex).uint53(record.previousSegmentBytes);
      return;
    case 'entries':
      writer.uint53(record.entries[0]!.index).uint32(record.entries.length);
      for (const entry of record.entries) writer.uint53(entry.term).uint8(ENTRY_TYPE_CODES[entry.type]).blob(entry.data);
      return;
    case 'hard-state':
      writer.uint53(record.hardState.term).uint53(record.hardState.vote).uint53(record.hardState.commit);
      return;
    case 'snapshot-install':
    case 'compact':
      writer.uint53(record.index).uint53(record.term);
      return;
  }
}

/** Bytes the records take framed (headers included) in the segment's format. */
export function framedBytes(records: readonly WalRecord[], segment: SegmentIdentity): number {
  let total = 0;
  for (const record of records) total += recordHeaderBytes(segment) + payloadBytes(record);
  return total;
}

/**
 * Frames records into one buffer for one write whose first byte goes to `startOffset` of
 * `segment`, in its format; the first record is marked as starting a write. Payloads are encoded
 * in place, once. With `scratch`, the result is a view of its buffer, valid until its next take().
 */
export function encodeWrite(records: readonly WalRecord[], segment: SegmentIdentity, startOffset: number, scratch?: ScratchBuffer): Uint8Array {
  const headerBytes = recordHeaderBytes(segment);
  const version = formatVersion(segment);
  const totalBytes = framedBytes(records, segment);
  // Every byte is written below (the assertion checks each record's length), so a reused
  // buffer's old content never reaches the disk.
  const writer = new BinaryWriter(totalBytes, scratch?.take(totalBytes));
  records.forEach((record, position) => {
    const start = writer.length;
    const payloadLength = payloadBytes(record);
    const typeByte = TYPE_CODES[record.type] | (position === 0 ? STARTS_WRITE_FLAG : 0);
    writer.uint32(payloadLength).uint32(0).uint8(typeByte);
    if (version === 2) writer.uint32(0);
    writePayload(writer, record, version);
    assert(writer.length === start + headerBytes + payloadLength, `the ${record.type} record's payload is not ${payloadLength} bytes`);
    const payload = writer.finish().subarray(start + headerBytes);
    if (version === 1) {
      writer.patchUint32(start + 4, checksumV1(segment.sequence, startOffset + start, typeByte, payload));
    } else {
      const payloadCrc = payloadChecksum(segment, payload);
      writer.patchUint32(start + 9, payloadCrc);
      writer.patchUint32(start + 4, headerCheck(segment, startOffset + start, payloadLength, typeByte, payloadCrc));
    }
  });
  assert(writer.length === totalBytes, `the write is ${writer.length} bytes, not the ${totalBytes} framed`);
  return writer.finish();
}

/** Decodes a payload whose checksum verified. Throws DecodeError on a malformed payload. */
export function decodePayload(type: number, payload: Uint8Array): WalRecord {
  const reader = new BinaryReader(payload);
  let record: WalRecord;
  switch (type) {
    case RECORD_TYPE.header: {
      const magic = reader.uint32();
      const version = reader.uint32();
      if (magic !== WAL_MAGIC) throw new DecodeError('not a Cairn WAL segment (bad magic number)');
      if (version !== 1 && version !== 2) throw new DecodeError(`WAL format version ${version} is not supported (this build reads 1 and 2)`);
      record = { type: 'header', sequence: reader.uint53(), firstIndex: reader.uint53(), previousSegmentBytes: reader.uint53(), version };
      break;
    }
    case RECORD_TYPE.entries:
      record = { type: 'entries', entries: decodeEntries(reader, payload.byteLength) };
      break;
    case RECORD_TYPE.hardState:
      record = { type: 'hard-state', hardState: { term: reader.uint53(), vote: reader.uint53(), commit: reader.uint53() } };
      break;
    case RECORD_TYPE.snapshotInstall:
      record = { type: 'snapshot-install', index: reader.uint53(), term: reader.uint53() };
      break;
    case RECORD_TYPE.compact:
      record = { type: 'compact', index: reader.uint53(), term: reader.uint53() };
      break;
    default:
      throw new DecodeError(`unknown record type ${type}`);
  }
  reader.expectEnd(`a record of type ${type}`);
  return record;
}

function decodeEntries(reader: BinaryReader, payloadLength: number): Entry[] {
  const firstIndex = reader.uint53();
  const count = reader.uint32();
  if (count === 0 || count > payloadLength / 13) throw new DecodeError(`an entries record claims ${count} entries`);
  const entries: Entry[] = [];
  for (let position = 0; position < count; position++) {
    const term = reader.uint53();
    const type = ENTRY_TYPES[reader.uint8()];
    if (type === undefined) throw new DecodeError('unknown entry type');
    entries.push({ index: firstIndex + position, term, type, data: reader.blob(payloadLength) });
  }
  return entries;
}

/** Holds the checksummed prefix (sequence, offset, length, type): reused, the checksum runs once per record. */
const CHECKSUM_PREFIX = new Uint8Array(21);
const CHECKSUM_PREFIX_VIEW = new DataView(CHECKSUM_PREFIX.buffer);
/** Format 2's header check input: salt, sequence, offset, length, type, payload checksum. */
const HEADER_FIELDS = new Uint8Array(SALT_BYTES + 25);
const HEADER_FIELDS_VIEW = new DataView(HEADER_FIELDS.buffer);
const TWO_POW_32 = 0x1_0000_0000;

function setUint64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_POW_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
}

function checksumV1(sequence: number, offset: number, typeByte: number, payload: Uint8Array): number {
  setUint64(CHECKSUM_PREFIX_VIEW, 0, sequence);
  setUint64(CHECKSUM_PREFIX_VIEW, 8, offset);
  CHECKSUM_PREFIX_VIEW.setUint32(16, payload.byteLength, true);
  CHECKSUM_PREFIX_VIEW.setUint8(20, typeByte);
  return crc32c(payload, crc32c(CHECKSUM_PREFIX));
}

interface SegmentSecrets {
  readonly maskKey: number;
  readonly payloadSeed: number;
}

/** Per identity object: a Wal keeps one per segment, so the hash runs once per segment. */
const SECRETS = new WeakMap<SegmentIdentity, SegmentSecrets>();

function secretsOf(segment: SegmentIdentity): SegmentSecrets {
  let secrets = SECRETS.get(segment);
  if (secrets === undefined) {
    const sequence = new DataView(new ArrayBuffer(8));
    setUint64(sequence, 0, segment.sequence);
    const digest = createHash('sha256').update(segment.salt!).update(new Uint8Array(sequence.buffer)).digest();
    secrets = { maskKey: digest.readUInt32LE(0), payloadSeed: digest.readUInt32LE(4) };
    SECRETS.set(segment, secrets);
  }
  return secrets;
}

/** MurmurHash3's finalizer: a bijective, non-linear mix of 32 bits. */
function fmix32(value: number): number {
  let mixed = value >>> 0;
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

function headerCheck(segment: SegmentIdentity, offset: number, payloadLength: number, typeByte: number, payloadCrc: number): number {
  HEADER_FIELDS.set(segment.salt!, 0);
  setUint64(HEADER_FIELDS_VIEW, SALT_BYTES, segment.sequence);
  setUint64(HEADER_FIELDS_VIEW, SALT_BYTES + 8, offset);
  HEADER_FIELDS_VIEW.setUint32(SALT_BYTES + 16, payloadLength, true);
  HEADER_FIELDS_VIEW.setUint8(SALT_BYTES + 20, typeByte);
  HEADER_FIELDS_VIEW.setUint32(SALT_BYTES + 21, payloadCrc, true);
  const offsetHash = fmix32((offset % TWO_POW_32) ^ Math.imul(Math.floor(offset / TWO_POW_32), 0x9e3779b1));
  return (crc32c(HEADER_FIELDS) ^ fmix32(secretsOf(segment).maskKey ^ offsetHash)) >>> 0;
}

function payloadChecksum(segment: SegmentIdentity, payload: Uint8Array): number {
  return crc32c(payload, secretsOf(segment).payloadSeed);
}

/** Marks the first record of a write in the type byte. */
const STARTS_WRITE_FLAG = 0x80;

export type RecordRead =
  | { readonly ok: true; readonly type: number; readonly startsWrite: boolean; readonly payload: Uint8Array; readonly nextOffset: number }
  /**
   * `claimedEnd` is set when the record's header verified (format 2) but its payload did not: a
   * record of this segment, cut short or damaged, claiming to end there.
   */
  | { readonly ok: false; readonly reason: string; readonly claimedEnd?: number };

const KNOWN_TYPES = new Set<number>(Object.values(RECORD_TYPE));

/** Whether a type byte (flags included) names a known record type: a cheap filter before the CRC. */
export function isKnownRecordType(typeByte: number): boolean {
  return KNOWN_TYPES.has(typeByte & ~STARTS_WRITE_FLAG);
}

/** Reads the framed record at `offset` of a segment's bytes and verifies it. Never throws. */
export function readRecord(bytes: Uint8Array, segment: SegmentIdentity, offset: number, maxRecordBytes: number): RecordRead {
  const headerBytes = recordHeaderBytes(segment);
  const remaining = bytes.byteLength - offset;
  if (remaining < headerBytes) return { ok: false, reason: `a partial record header (${remaining} bytes)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, headerBytes);
  const length = view.getUint32(0, true);
  const typeByte = view.getUint8(8);
  if (!isKnownRecordType(typeByte)) return { ok: false, reason: `an unknown record type ${typeByte}` };
  if (length === 0) return { ok: false, reason: 'a record length of 0' };
  if (length > maxRecordBytes) return { ok: false, reason: `a record length of ${length} bytes beyond the limit of ${maxRecordBytes}` };
  let claimedEnd: number | undefined;
  if (segment.salt !== undefined) {
    if (headerCheck(segment, offset, length, typeByte, view.getUint32(9, true)) !== view.getUint32(4, true)) {
      return { ok: false, reason: 'a record header that does not verify' };
    }
    claimedEnd = offset + headerBytes + length;
  }
  if (length > remaining - headerBytes) {
    return { ok: false, reason: `a record of ${length} bytes cut short at ${remaining - headerBytes}`, claimedEnd };
  }
  const payload = bytes.subarray(offset + headerBytes, offset + headerBytes + length);
  const verified = segment.salt === undefined
    ? checksumV1(segment.sequence, offset, typeByte, payload) === view.getUint32(4, true)
    : payloadChecksum(segment, payload) === view.getUint32(9, true);
  if (!verified) return { ok: false, reason: 'a checksum mismatch', claimedEnd };
  const startsWrite = (typeByte & STARTS_WRITE_FLAG) !== 0;
  return { ok: true, type: typeByte & ~STARTS_WRITE_FLAG, startsWrite, payload, nextOffset: offset + headerBytes + length };
}
