// Segment files: names, and reading one segment's records while telling a torn tail (a write cut
// short by a crash: only garbage or zeros follow) from corruption (valid records follow a bad one).
import { DecodeError } from '../binary.ts';
import type { SegmentIdentity, WalRecord } from './records.ts';
import { decodePayload, isKnownRecordType, readRecord, recordHeaderBytes, SALT_BYTES } from './records.ts';

export const SEGMENT_SUFFIX = '.wal';

/**
 * `<sequence, 16 hex>-<first index, 16 hex>-<salt, 16 hex>.wal` (format 2; format 1 names have no
 * salt): sorts by sequence, tells where entries start, and holds what the records' checksums bind,
 * so that the format is known before a byte of the file is trusted.
 */
export function segmentName(sequence: number, firstIndex: number, salt: Uint8Array): string {
  return `${hex16(sequence)}-${hex16(firstIndex)}-${Buffer.from(salt).toString('hex')}${SEGMENT_SUFFIX}`;
}

export interface ParsedSegmentName extends SegmentIdentity {
  readonly firstIndex: number;
}

export function parseSegmentName(name: string): ParsedSegmentName | undefined {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})(?:-([0-9a-f]{16}))?\.wal$/.exec(name);
  if (match === null) return undefined;
  const sequence = Number.parseInt(match[1]!, 16);
  const firstIndex = Number.parseInt(match[2]!, 16);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(firstIndex)) return undefined;
  const salt = match[3] === undefined ? undefined : new Uint8Array(Buffer.from(match[3], 'hex'));
  if (salt !== undefined && salt.byteLength !== SALT_BYTES) return undefined;
  return { sequence, firstIndex, salt };
}

function hex16(value: number): string {
  return value.toString(16).padStart(16, '0');
}

export interface LocatedRecord {
  readonly record: WalRecord;
  readonly offset: number;
}

export interface SegmentScan {
  readonly records: LocatedRecord[];
  /** Bytes up to the end of the last valid record: where the next write goes. */
  readonly validBytes: number;
  /**
   * The first non-zero bytes after the valid records that are not a record, if any (zeros are the
   * normal end of a preallocated segment; other bytes are a torn write, damage, or a recycled
   * file's old records): where they start, whether a later write left a valid record after them,
   * and `oursEnd`, the end of what a torn write of this segment may have left there that could
   * verify, to be wiped before writing there again.
   */
  readonly defect:
    | { readonly offset: number; readonly reason: string; readonly laterWriteAt: number | undefined; readonly oursEnd: number }
    | undefined;
}

/**
 * Reads every record of a segment until the end, the zeros that follow the last record, or the
 * first record that does not verify. A record whose checksum verifies but whose payload does not
 * decode is reported as a defect that cannot be a torn write (laterWriteAt is its own offset).
 */
export function scanSegment(bytes: Uint8Array, segment: SegmentIdentity, maxRecordBytes: number): SegmentScan {
  const records: LocatedRecord[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const read = readRecord(bytes, segment, offset, maxRecordBytes);
    if (!read.ok) {
      const contentEnd = endOfContent(bytes, offset);
      // Only zeros from here: the preallocated space after the last record, not damage.
      if (contentEnd === offset) return { records, validBytes: offset, defect: undefined };
      const after = inspectAfterDefect(bytes, segment, offset, maxRecordBytes, contentEnd);
      return { records, validBytes: offset, defect: { offset, reason: read.reason, ...after } };
    }
    try {
      records.push({ record: decodePayload(read.type, read.payload), offset });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      const oursEnd = Math.max(read.nextOffset, endOfContent(bytes, offset));
      return { records, validBytes: offset, defect: { offset, reason: `an undecodable record: ${error.message}`, laterWriteAt: offset, oursEnd } };
    }
    offset = read.nextOffset;
  }
  return { records, validBytes: offset, defect: undefined };
}

/**
 * Looks, after a bad spot, for a verifying record that starts a write. Records bind their offset
 * into their checksum, so a hit is genuine: a later write was made after the damaged bytes, which
 * are therefore not a torn final write but corruption. Valid records that do not start a write
 * may follow a torn spot legitimately: the pages of one write can reach the disk out of order.
 * Candidates end a header's length before `contentEnd`: a record's header and payload are never
 * all zeros (its type byte is not zero, and neither is its length).
 *
 * Also finds `oursEnd`, the end of what after the bad spot may be this segment's own records: in
 * format 2, the furthest end claimed by a record whose header verifies (stale records of a
 * recycled file's previous life do not); in format 1 (never recycled), all the content.
 */
export function inspectAfterDefect(bytes: Uint8Array, segment: SegmentIdentity, badOffset: number, maxRecordBytes: number, contentEnd = bytes.byteLength): { laterWriteAt: number | undefined; oursEnd: number } {
  const isFormat1 = segment.salt === undefined;
  const atBadSpot = readRecord(bytes, segment, badOffset, maxRecordBytes);
  let oursEnd = isFormat1 ? contentEnd : Math.max(badOffset, atBadSpot.ok ? atBadSpot.nextOffset : atBadSpot.claimedEnd ?? badOffset);
  const end = Math.min(bytes.byteLength, contentEnd) - recordHeaderBytes(segment);
  let candidate = badOffset + 1;
  while (candidate <= end) {
    if (!isKnownRecordType(bytes[candidate + 8]!)) {
      candidate++;
      continue;
    }
    const read = readRecord(bytes, segment, candidate, maxRecordBytes);
    if (!read.ok) {
      if (read.claimedEnd !== undefined) oursEnd = Math.max(oursEnd, read.claimedEnd);
      candidate++;
    } else if (read.startsWrite) {
      return { laterWriteAt: candidate, oursEnd: Math.max(oursEnd, read.nextOffset) };
    } else {
      oursEnd = Math.max(oursEnd, read.nextOffset);
      candidate = read.nextOffset;
    }
  }
  return { laterWriteAt: undefined, oursEnd: Math.min(oursEnd, bytes.byteLength) };
}

/** The position after the last non-zero byte at or after `from` (`from` when there is none). */
export function endOfContent(bytes: Uint8Array, from: number): number {
  let end = bytes.byteLength;
  // Byte by byte down to a 4-byte boundary of the underlying buffer, then word by word: a
  // preallocated segment is mostly zeros and recovery reads all of it.
  while (end > from && (bytes.byteOffset + end) % 4 !== 0) {
    if (bytes[end - 1] !== 0) return end;
    end--;
  }
  const firstWord = Math.ceil((bytes.byteOffset + from) / 4);
  const lastWord = (bytes.byteOffset + end) / 4;
  if (lastWord > firstWord) {
    const words = new Uint32Array(bytes.buffer, firstWord * 4, lastWord - firstWord);
    let word = words.length - 1;
    while (word >= 0 && words[word] === 0) word--;
    end = (firstWord + word + 1) * 4 - bytes.byteOffset;
  }
  while (end > from) {
    if (bytes[end - 1] !== 0) return end;
    end--;
  }
  return from;
}
