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
  /** The first bad spot, if any, and whether a valid record exists after it. */
  readonly defect:
    | { readonly offset: number; readonly reason: string; readonly validRecordAt: number | undefined }
    | undefined;
}

/**
 * Reads every record of a segment until the end or the first record that does not verify. A
 * record whose checksum verifies but whose payload does not decode is reported as a defect too
 * (it cannot be a torn write), with validRecordAt set to its own offset.
 */
export function scanSegment(bytes: Uint8Array, sequence: number, maxRecordBytes: number): SegmentScan {
  const records: LocatedRecord[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    const read = readRecord(bytes, sequence, offset, maxRecordBytes);
    if (!read.ok) {
      const validRecordAt = findValidRecordAfter(bytes, sequence, offset, maxRecordBytes);
      return { records, validBytes: offset, defect: { offset, reason: read.reason, validRecordAt } };
    }
    try {
      records.push({ record: decodePayload(read.type, read.payload), offset });
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      return { records, validBytes: offset, defect: { offset, reason: `an undecodable record: ${error.message}`, validRecordAt: offset } };
    }
    offset = read.nextOffset;
  }
  return { records, validBytes: offset, defect: undefined };
}

/**
 * Looks for any verifying record starting after `badOffset`. Records bind their offset into their
 * checksum, so a hit is a genuine record written at that position: the damage is not a torn tail.
 */
export function findValidRecordAfter(bytes: Uint8Array, sequence: number, badOffset: number, maxRecordBytes: number): number | undefined {
  const end = bytes.byteLength - RECORD_HEADER_BYTES;
  for (let candidate = badOffset + 1; candidate <= end; candidate++) {
    // Cheap filters before the checksum: a known type byte and a length that fits.
    if (!isKnownRecordType(bytes[candidate + 8]!)) continue;
    if (readRecord(bytes, sequence, candidate, maxRecordBytes).ok) return candidate;
  }
  return undefined;
}
