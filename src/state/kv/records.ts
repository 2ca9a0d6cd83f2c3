// Fixed binary layouts of the values in the KV tables: small, fast, and identical on every
// replica (no encoder options or object key order to drift), which snapshot equality relies on.
import { readUint64, writeUint64 } from './encoding.ts';

/** A key's state as clients see it. lease 0 = none; a deleted key has version 0. */
export interface KeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Revision of the put that created the key (since its last delete). */
  readonly createRevision: number;
  /** Revision of the last change. */
  readonly modRevision: number;
  /** Number of puts since the key was created (1 after creation). */
  readonly version: number;
  readonly lease: number;
}

export interface KeyRecord {
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
  readonly value: Uint8Array;
}

const KEY_RECORD_HEADER_BYTES = 32;

export function encodeKeyRecord(record: KeyRecord): Uint8Array {
  const bytes = new Uint8Array(KEY_RECORD_HEADER_BYTES + record.value.length);
  writeUint64(bytes, 0, record.createRevision);
  writeUint64(bytes, 8, record.modRevision);
  writeUint64(bytes, 16, record.version);
  writeUint64(bytes, 24, record.lease);
  bytes.set(record.value, KEY_RECORD_HEADER_BYTES);
  return bytes;
}

export function decodeKeyRecord(bytes: Uint8Array): KeyRecord {
  return {
    createRevision: readUint64(bytes, 0),
    modRevision: readUint64(bytes, 8),
    version: readUint64(bytes, 16),
    lease: readUint64(bytes, 24),
    value: bytes.subarray(KEY_RECORD_HEADER_BYTES),
  };
}

export type EventKind = 'put' | 'delete';

/** One change in the revision-ordered history; its table key is (modRevision, sub). */
export interface HistoryRecord {
  readonly kind: EventKind;
  readonly key: Uint8Array;
  /** For 'put': the key's state after the put. For 'delete': version 0, empty value. */
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
  readonly value: Uint8Array;
}

const HISTORY_HEADER_BYTES = 29;
export const KIND_PUT = 1;
export const KIND_DELETE = 2;

export function encodeHistoryRecord(record: HistoryRecord): Uint8Array {
  const bytes = new Uint8Array(HISTORY_HEADER_BYTES + record.key.length + record.value.length);
  bytes[0] = record.kind === 'put' ? KIND_PUT : KIND_DELETE;
  writeUint64(bytes, 1, record.createRevision);
  writeUint64(bytes, 9, record.version);
  writeUint64(bytes, 17, record.lease);
  new DataView(bytes.buffer).setUint32(25, record.key.length);
  bytes.set(record.key, HISTORY_HEADER_BYTES);
  bytes.set(record.value, HISTORY_HEADER_BYTES + record.key.length);
  return bytes;
}

export function decodeHistoryRecord(bytes: Uint8Array): HistoryRecord {
  const keyLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(25);
  return {
    kind: bytes[0] === KIND_PUT ? 'put' : 'delete',
    createRevision: readUint64(bytes, 1),
    version: readUint64(bytes, 9),
    lease: readUint64(bytes, 17),
    key: bytes.subarray(HISTORY_HEADER_BYTES, HISTORY_HEADER_BYTES + keyLength),
    value: bytes.subarray(HISTORY_HEADER_BYTES + keyLength),
  };
}

export interface LeaseRecord {
  readonly ttlSeconds: number;
  /** The last checkpointed remaining TTL (0: none; a new leader then uses the full TTL). */
  readonly remainingSeconds: number;
}

export function encodeLeaseRecord(record: LeaseRecord): Uint8Array {
  const bytes = new Uint8Array(16);
  writeUint64(bytes, 0, record.ttlSeconds);
  writeUint64(bytes, 8, record.remainingSeconds);
  return bytes;
}

export function decodeLeaseRecord(bytes: Uint8Array): LeaseRecord {
  return { ttlSeconds: readUint64(bytes, 0), remainingSeconds: readUint64(bytes, 8) };
}
