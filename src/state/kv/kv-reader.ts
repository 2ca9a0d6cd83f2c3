// Reads of the KV, shared by the public read API (called by the runtime after a ReadIndex round
// or directly for serializable reads) and by transactions inside apply (which then see their own
// earlier writes, because they read through the open write transaction).
import type { OrderedStore } from '../store.ts';
import { rangeBounds, validateLimit, validateRange, validateRevision } from './commands.ts';
import type { KvLimits, RangeOperation } from './commands.ts';
import { kvError } from './errors.ts';
import type { KvError } from './errors.ts';
import { EMPTY_BYTES, escapeKey, prefixEnd, keyRevisionKey, parseRevisionKey, revisionKey, successor } from './encoding.ts';
import { decodeHistoryRecord, decodeKeyRecord, KIND_PUT } from './records.ts';
import type { HistoryRecord, KeyValue } from './records.ts';
import { KV_TABLES, toKeyValue, visibleSegments } from './tables.ts';

export interface RangeResult {
  readonly type: 'range';
  /** The revision the read was made at. */
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  /** More keys are in the range after the last one returned. */
  readonly more: boolean;
  /** Present when `more`: pass it back for the next page (read at the same revision). */
  readonly continuation?: string;
  /** With countOnly: the number of keys in the range (kvs is then empty). */
  readonly count?: number;
}

export interface GetResult {
  readonly revision: number;
  readonly kv: KeyValue | undefined;
}

/** A change as watchers see it. A delete's kv has the key, modRevision = the delete, version 0. */
export interface KvEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface RevisionSource {
  currentRevision(): number;
  compactRevision(): number;
}

const KEY_REVISION_SUFFIX_BYTES = 12;

export class KvReader {
  readonly #store: OrderedStore;
  readonly #revisions: RevisionSource;
  readonly #limits: KvLimits;

  constructor(store: OrderedStore, revisions: RevisionSource, limits: KvLimits) {
    this.#store = store;
    this.#revisions = revisions;
    this.#limits = limits;
  }

  get(key: Uint8Array, revision: number, system: boolean): GetResult | KvError {
    const result = this.range({ type: 'range', range: { key }, revision, limit: 1 }, system);
    if ('code' in result) return result;
    return { revision: result.revision, kv: result.kvs[0] };
  }

  range(operation: RangeOperation, system: boolean): RangeResult | KvError {
    const problem = validateRange(operation.range, this.#limits, system) ?? validateLimit(operation.limit, this.#limits);
    if (problem !== undefined) return problem;
    let revision = operation.revision ?? 0;
    let { start, end } = rangeBounds(operation.range);
    if (operation.continuation !== undefined) {
      const token = parseContinuation(operation.continuation);
      if (token === undefined) return kvError('continuation-invalid', 'the continuation token is not one this server issued; restart the scan without it');
      revision = token.revision;
      if (Buffer.compare(token.after, start) >= 0) start = successor(token.after);
      if (end !== undefined && Buffer.compare(start, end) >= 0) return { type: 'range', revision, kvs: [], more: false };
    }
    const checked = this.#checkRevision(revision);
    if (typeof checked !== 'number') return checked;
    const limit = operation.limit ?? this.#limits.maxRangeLimit;
    const keysOnly = operation.keysOnly === true;
    if (operation.countOnly === true) return { type: 'range', revision: checked, kvs: [], more: false, count: this.#count(start, end, checked, system) };
    const kvs: KeyValue[] = [];
    let more = false;
    let bytes = 0;
    for (const kv of this.#visible(start, end, checked, keysOnly, system)) {
      const size = kv.key.length + kv.value.length;
      // Always at least one key, so a page can hold any single value.
      if (kvs.length === limit || (kvs.length > 0 && bytes + size > this.#limits.maxRangeBytes)) {
        more = true;
        break;
      }
      kvs.push(kv);
      bytes += size;
    }
    if (!more) return { type: 'range', revision: checked, kvs, more };
    return { type: 'range', revision: checked, kvs, more, continuation: continuationToken(checked, kvs[kvs.length - 1]!.key) };
  }

  /** 0 = current; errors for compacted and future revisions. */
  #checkRevision(revision: number): number | KvError {
    const current = this.#revisions.currentRevision();
    if (revision === 0) return current;
    const invalid = validateRevision(revision, 'read revision', false);
    if (invalid !== undefined) return invalid;
    const compacted = this.#revisions.compactRevision();
    if (revision < compacted) {
      return kvError('compacted', `revision ${revision} is compacted; the oldest readable revision is ${compacted}`, { compactRevision: compacted });
    }
    if (revision > current) {
      return kvError('future-revision', `revision ${revision} is newer than the current revision ${current}`, { currentRevision: current });
    }
    return revision;
  }

  *#visible(start: Uint8Array, end: Uint8Array | undefined, revision: number, keysOnly: boolean, system: boolean): Generator<KeyValue> {
    const current = revision === this.#revisions.currentRevision();
    for (const [segmentStart, segmentEnd] of visibleSegments(start, end, system)) {
      if (current) {
        for (const entry of this.#store.range(KV_TABLES.current, rangeOptions(segmentStart, segmentEnd))) {
          yield toKeyValue(entry.key, decodeKeyRecord(entry.value), keysOnly);
        }
      } else {
        for (const found of this.#pastKeys(segmentStart, segmentEnd, revision)) {
          const record = this.#historyAt(found.revision, found.sub);
          yield historyKeyValue(record, found.revision, keysOnly);
        }
      }
    }
  }

  #count(start: Uint8Array, end: Uint8Array | undefined, revision: number, system: boolean): number {
    const current = revision === this.#revisions.currentRevision();
    let count = 0;
    for (const [segmentStart, segmentEnd] of visibleSegments(start, end, system)) {
      const entries = current ? this.#store.range(KV_TABLES.current, rangeOptions(segmentStart, segmentEnd)) : this.#pastKeys(segmentStart, segmentEnd, revision);
      for (const _ of entries) count++;
    }
    return count;
  }

  /**
   * The keys of [start, end) alive at `revision`, with the (revision, sub) of their state then:
   * per key, the last change at or before `revision`, if it is a put. Two seeks per key (the
   * key's first entry, then its last entry at or before `revision`), however long its history.
   */
  *#pastKeys(start: Uint8Array, end: Uint8Array | undefined, revision: number): Generator<{ revision: number; sub: number }> {
    const upper = end === undefined ? undefined : escapeKey(end);
    let cursor: Uint8Array | undefined = escapeKey(start);
    while (cursor !== undefined) {
      let escaped: Uint8Array | undefined;
      for (const entry of this.#store.range(KV_TABLES.keyRevisions, rangeOptions(cursor, upper, 1))) {
        escaped = Uint8Array.from(entry.key.subarray(0, entry.key.length - KEY_REVISION_SUFFIX_BYTES));
      }
      if (escaped === undefined) return;
      const latest = { start: escaped, end: keyRevisionKey(escaped, revision + 1, 0), reverse: true, limit: 1 };
      for (const entry of this.#store.range(KV_TABLES.keyRevisions, latest)) {
        if (entry.value[0] === KIND_PUT) yield parseRevisionKey(entry.key, escaped.length);
      }
      // Every entry of this key starts with `escaped`; the next key's start right after them.
      cursor = prefixEnd(escaped);
    }
  }

  #historyAt(revision: number, sub: number): HistoryRecord {
    const bytes = this.#store.get(KV_TABLES.history, revisionKey(revision, sub));
    if (bytes === undefined) throw new Error(`kv: history entry ${revision}.${sub} is missing (corrupt store)`);
    return decodeHistoryRecord(bytes);
  }

  /**
   * Up to about `maxEvents` changes from `fromRevision` on, never splitting a revision (so a
   * watcher resuming from the next revision neither misses nor repeats an event).
   */
  history(fromRevision: number, maxEvents: number, withPrevKv: boolean): { events: KvEvent[]; nextRevision: number } {
    const events: KvEvent[] = [];
    let lastRevision = -1;
    for (const entry of this.#store.range(KV_TABLES.history, { start: revisionKey(fromRevision, 0) })) {
      const at = parseRevisionKey(entry.key);
      if (at.revision !== lastRevision && events.length >= maxEvents) return { events, nextRevision: lastRevision + 1 };
      lastRevision = at.revision;
      const record = decodeHistoryRecord(entry.value);
      const event = historyEvent(record, at.revision);
      events.push(withPrevKv ? { ...event, ...this.#previous(record.key, at.revision, at.sub) } : event);
    }
    return { events, nextRevision: Math.max(fromRevision, this.#revisions.currentRevision() + 1) };
  }

  /** The key's state just before (revision, sub), as { prevKv } or {}. */
  #previous(key: Uint8Array, revision: number, sub: number): { prevKv?: KeyValue } {
    const escaped = escapeKey(key);
    for (const entry of this.#store.range(KV_TABLES.keyRevisions, { start: escaped, end: keyRevisionKey(escaped, revision, sub), reverse: true, limit: 1 })) {
      if (entry.value[0] !== KIND_PUT) return {};
      const at = parseRevisionKey(entry.key, escaped.length);
      return { prevKv: historyKeyValue(this.#historyAt(at.revision, at.sub), at.revision, false) };
    }
    return {};
  }
}

export function historyKeyValue(record: HistoryRecord, modRevision: number, keysOnly: boolean): KeyValue {
  return {
    key: Uint8Array.from(record.key),
    value: keysOnly ? EMPTY_BYTES : Uint8Array.from(record.value),
    createRevision: record.createRevision,
    modRevision,
    version: record.version,
    lease: record.lease,
  };
}

export function historyEvent(record: HistoryRecord, modRevision: number): KvEvent {
  return { type: record.kind, kv: historyKeyValue(record, modRevision, false) };
}

function rangeOptions(start: Uint8Array, end: Uint8Array | undefined, limit?: number): { start: Uint8Array; end?: Uint8Array; limit?: number } {
  const options: { start: Uint8Array; end?: Uint8Array; limit?: number } = end === undefined ? { start } : { start, end };
  if (limit !== undefined) options.limit = limit;
  return options;
}

/** `<revision>.<base64url of the last key returned>`: the next page starts after that key. */
export function continuationToken(revision: number, lastKey: Uint8Array): string {
  return `${revision}.${Buffer.from(lastKey).toString('base64url')}`;
}

function parseContinuation(token: string): { revision: number; after: Uint8Array } | undefined {
  const match = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]*)$/.exec(token);
  if (match === null) return undefined;
  const revision = Number(match[1]);
  const after = Buffer.from(match[2]!, 'base64url');
  if (!Number.isSafeInteger(revision) || after.length === 0) return undefined;
  return { revision, after };
}

