// WAL records. On disk every record is
//
//   payloadLength u32 | crc u32 | flags+type u8 | payload
//
// The high bit of the type byte marks the first record of a write (one write call). The CRC-32C
// covers, in this order, the segment's sequence number (8 bytes), the record's byte offset in the
// segment (8 bytes), payloadLength, the type byte and the payload. Binding the position into the
// checksum means a copy of a record found anywhere else (in a payload holding WAL bytes, in a
// stale block) does not verify, which keeps the torn-tail / corruption distinction honest.
//
// Segments are preallocated with zeros, so zeros are what follows the last record. Zeros never
// read as a record: type 0 is no record type and a payload length of 0 is refused (every record
// type has a payload).
import { crc32c } from '../../util/crc32c.ts';
import type { Entry, EntryType, HardState } from '../../core/index.ts';
import { assert } from '../../core/index.ts';
import { BinaryReader, BinaryWriter, DecodeError } from '../binary.ts';

export const RECORD_HEADER_BYTES = 9;
export const WAL_MAGIC = 0x4c415743; // 'CWAL'
export const WAL_VERSION = 1;

/** Record type codes: stable on disk, never reuse one. */
export const RECORD_TYPE = {
  header: 1,
  entries: 2,
  hardState: 3,
  snapshotInstall: 4,
  compact: 5,
} as const;

export type WalRecord =
  /** First record of every segment. */
  | { readonly type: 'header'; readonly sequence: number; readonly firstIndex: number; readonly previousSegmentBytes: number }
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

function writePayload(writer: BinaryWriter, record: WalRecord): void {
  switch (record.type) {
    case 'header':
      writer.uint32(WAL_MAGIC).uint32(WAL_VERSION).uint53(record.sequence).uint53(record.firstIndex).uint53(record.previousSegmentBytes);
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

/** Bytes the records take framed (headers included). */
export function framedBytes(records: readonly WalRecord[]): number {
  let total = 0;
  for (const record of records) total += RECORD_HEADER_BYTES + payloadBytes(record);
  return total;
}

/**
 * Frames records into one buffer for one write whose first byte goes to `startOffset` of segment
 * `sequence`; the first record is marked as starting a write. Payloads are encoded in place, once.
 */
export function encodeWrite(records: readonly WalRecord[], sequence: number, startOffset: number): Uint8Array {
  const writer = new BinaryWriter(framedBytes(records));
  records.forEach((record, position) => {
    const start = writer.length;
    const payloadLength = payloadBytes(record);
    const typeByte = TYPE_CODES[record.type] | (position === 0 ? STARTS_WRITE_FLAG : 0);
    writer.uint32(payloadLength).uint32(0).uint8(typeByte);
    writePayload(writer, record);
    assert(writer.length === start + RECORD_HEADER_BYTES + payloadLength, `the ${record.type} record's payload is not ${payloadLength} bytes`);
    const payload = writer.finish().subarray(start + RECORD_HEADER_BYTES);
    writer.patchUint32(start + 4, checksum(sequence, startOffset + start, typeByte, payload));
  });
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
      if (version !== WAL_VERSION) throw new DecodeError(`WAL format version ${version} is not supported (expected ${WAL_VERSION})`);
      record = { type: 'header', sequence: reader.uint53(), firstIndex: reader.uint53(), previousSegmentBytes: reader.uint53() };
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
const TWO_POW_32 = 0x1_0000_0000;

function checksum(sequence: number, offset: number, typeByte: number, payload: Uint8Array): number {
  CHECKSUM_PREFIX_VIEW.setUint32(0, sequence % TWO_POW_32, true);
  CHECKSUM_PREFIX_VIEW.setUint32(4, Math.floor(sequence / TWO_POW_32), true);
  CHECKSUM_PREFIX_VIEW.setUint32(8, offset % TWO_POW_32, true);
  CHECKSUM_PREFIX_VIEW.setUint32(12, Math.floor(offset / TWO_POW_32), true);
  CHECKSUM_PREFIX_VIEW.setUint32(16, payload.byteLength, true);
  CHECKSUM_PREFIX_VIEW.setUint8(20, typeByte);
  return crc32c(payload, crc32c(CHECKSUM_PREFIX));
}

/** Marks the first record of a write in the type byte. */
const STARTS_WRITE_FLAG = 0x80;

export type RecordRead =
  | { readonly ok: true; readonly type: number; readonly startsWrite: boolean; readonly payload: Uint8Array; readonly nextOffset: number }
  | { readonly ok: false; readonly reason: string };

const KNOWN_TYPES = new Set<number>(Object.values(RECORD_TYPE));

/** Whether a type byte (flags included) names a known record type: a cheap filter before the CRC. */
export function isKnownRecordType(typeByte: number): boolean {
  return KNOWN_TYPES.has(typeByte & ~STARTS_WRITE_FLAG);
}

/** Reads the framed record at `offset` of a segment's bytes and verifies it. Never throws. */
export function readRecord(bytes: Uint8Array, sequence: number, offset: number, maxRecordBytes: number): RecordRead {
  const remaining = bytes.byteLength - offset;
  if (remaining < RECORD_HEADER_BYTES) return { ok: false, reason: `a partial record header (${remaining} bytes)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES);
  const length = view.getUint32(0, true);
  const typeByte = view.getUint8(8);
  if (!isKnownRecordType(typeByte)) return { ok: false, reason: `an unknown record type ${typeByte}` };
  if (length === 0) return { ok: false, reason: 'a record length of 0' };
  if (length > maxRecordBytes) return { ok: false, reason: `a record length of ${length} bytes beyond the limit of ${maxRecordBytes}` };
  if (length > remaining - RECORD_HEADER_BYTES) {
    return { ok: false, reason: `a record of ${length} bytes cut short at ${remaining - RECORD_HEADER_BYTES}` };
  }
  const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length);
  if (checksum(sequence, offset, typeByte, payload) !== view.getUint32(4, true)) return { ok: false, reason: 'a checksum mismatch' };
  const startsWrite = (typeByte & STARTS_WRITE_FLAG) !== 0;
  return { ok: true, type: typeByte & ~STARTS_WRITE_FLAG, startsWrite, payload, nextOffset: offset + RECORD_HEADER_BYTES + length };
}
