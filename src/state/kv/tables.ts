// The KV's tables in the shared store, and the small helpers both the write and read paths use.
import { RESERVED_END, RESERVED_PREFIX } from './commands.ts';
import { EMPTY_BYTES } from './encoding.ts';
import type { KeyRecord, KeyValue } from './records.ts';

export const KV_TABLES = {
  /** revision, compact revision, compaction cursor, lease count. */
  meta: 'kv.meta',
  /** user key -> KeyRecord: the live keys, for fast current reads. */
  current: 'kv.current',
  /** (revision, sub) -> HistoryRecord: every change, for watches and past reads, until compacted. */
  history: 'kv.history',
  /** esc(key) ++ (revision, sub) -> kind byte: one key's changes, to read it at a past revision. */
  keyRevisions: 'kv.key-revisions',
  /** lease id -> LeaseRecord. */
  leases: 'kv.leases',
  /** lease id ++ user key -> empty: the keys to delete when the lease goes. */
  leaseKeys: 'kv.lease-keys',
} as const;

export const KV_TABLE_NAMES: readonly string[] = Object.values(KV_TABLES);

export const META_REVISION = Uint8Array.of(1);
export const META_COMPACT_REVISION = Uint8Array.of(2);
export const META_COMPACT_CURSOR = Uint8Array.of(3);
export const META_LEASE_COUNT = Uint8Array.of(4);

export function toKeyValue(key: Uint8Array, record: KeyRecord, keysOnly = false): KeyValue {
  return {
    key: Uint8Array.from(key),
    value: keysOnly ? EMPTY_BYTES : Uint8Array.from(record.value),
    createRevision: record.createRevision,
    modRevision: record.modRevision,
    version: record.version,
    lease: record.lease,
  };
}

/**
 * [start, end) split around the reserved prefix when the reader is a client: clients never see
 * or touch `_cairn/` keys, but a range that merely spans them (a full scan) stays valid.
 */
export function visibleSegments(start: Uint8Array, end: Uint8Array | undefined, system: boolean): [Uint8Array, Uint8Array | undefined][] {
  if (system) return [[start, end]];
  const segments: [Uint8Array, Uint8Array | undefined][] = [];
  if (Buffer.compare(start, RESERVED_PREFIX) < 0) {
    segments.push([start, end !== undefined && Buffer.compare(end, RESERVED_PREFIX) < 0 ? end : RESERVED_PREFIX]);
  }
  const afterStart = Buffer.compare(start, RESERVED_END) > 0 ? start : RESERVED_END;
  if (end === undefined || Buffer.compare(end, afterStart) > 0) segments.push([afterStart, end]);
  return segments;
}
