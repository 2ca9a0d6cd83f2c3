// Segment files: names, and reading one segment's records while telling a torn tail (a write cut
// short by a crash: only garbage or zeros follow) from corruption (valid records follow a bad one).
import { DecodeError } from '../binary.ts';
import type { WalRecord } from './records.ts';
import { decodePayload, isKnownRecordType, readRecord, RECORD_HEADER_BYTES } from './records.ts';

export const SEGMENT_SUFFIX = '.wal';

/** `<sequence, 16 hex>-<first index, 16 hex>.wal`: sorts by sequence, tells where entries start. */
export function segmentName(sequence: number, firstIndex: number): string {
  return `${hex16(sequence)}-${hex16(firstIndex)}${SEGMENT_SUFFIX}`;
}

export function parseSegmentName(name: string): { sequence: number; firstIndex: number } | undefined {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (match === null) return undefined;
  const sequence = Number.parseInt(match[1]!, 16);
  const firstIndex = Number.parseInt(match[2]!, 16);
  if (!Number.isSafeInteger(sequence) || !Number.isSafeInteger(firstIndex)) return undefined;
  return { sequence, firstIndex };
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
  /** Bytes up to the end of the last valid record. */
  readonly validBytes: number;
  /** The first bad spot, if any, and whether a later write left a valid record after it. */
  readonly defect:
    | { readonly offset: number; readonly reason: string; readonly laterWriteAt: number | undefined }
    | undefined;
}

/**
 * Reads every record of a segment until the end or the first record that does not verify. A
 * record whose checksum verifies but whose payload does not decode is reported as a defect that
 * cannot be a torn write (laterWriteAt is its own offset).
 */
export function scanSegment(bytes: Uint8Array, sequence: number, maxRecordBytes: number): SegmentScan {
  const records: LocatedRecord[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const read = readRecord(bytes, sequence, offset, maxRecordBytes);
    if (!read.ok) {
      const laterWriteAt = findLaterWrite(bytes, sequence, offset, maxRecordBytes);
      return { records, validBytes: offset, defect: { offset, reason: read.reason, laterWriteAt } };
    }
    try {
      records.push({ record: decodePayload(read.type, read.payload), offset });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      return { records, validBytes: offset, defect: { offset, reason: `an undecodable record: ${error.message}`, laterWriteAt: offset } };
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
 */
export function findLaterWrite(bytes: Uint8Array, sequence: number, badOffset: number, maxRecordBytes: number): number | undefined {
  const end = bytes.byteLength - RECORD_HEADER_BYTES;
  let candidate = badOffset + 1;
  while (candidate <= end) {
    if (!isKnownRecordType(bytes[candidate + 8]!)) {
      candidate++;
      continue;
    }
    const read = readRecord(bytes, sequence, candidate, maxRecordBytes);
    if (!read.ok) {
      candidate++;
    } else if (read.startsWrite) {
      return candidate;
    } else {
      candidate = read.nextOffset;
    }
  }
  return undefined;
}
