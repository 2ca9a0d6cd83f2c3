// Physical compaction, in bounded steps. The compact command only moves the compact revision
// (reads and watches below it are refused from then on) and sets a cursor; every applied entry
// then walks at most COMPACTION_STEP_ENTRIES history entries below the compact revision and
// drops what no read at or above it can need: deletes, and puts superseded by a later change
// still below it. The latest put of each key below it stays (a read at the compact revision
// returns it). The work is a function of the applied entries only, so replicas stay identical;
// the step size must therefore be the same on every member (default COMPACTION_STEP_ENTRIES).
//
// "Superseded" was one range read of the key's revisions per history entry, over the overlay and
// lmdb. While a compaction runs every put pays for 8 entries on every node: after the first
// compact command of a fresh 3-node cluster (60 s in, some 60,000 entries below it) its puts at
// c=64 fell from about 4,800 to 1,500 a second for that 8-s round. A LatestBelowMemo now
// remembers, per key, its newest revision below the compact revision: one reverse range read
// per key per compaction, then a comparison per entry; and the walk copies keys, not values.
// `node src/state/kv/bench-compaction.ts` (apply CPU per put, 1,000 keys, averaged over 150,000
// puts during which 200,000 entries are walked): 59-60 us against 25 without compaction before,
// 42 against 20-22 after. Cluster A/B rounds (c=64) showed no difference beyond their noise.
// The memo is derived from the store and never changes what is dropped (see LatestBelowMemo),
// so replicas with and without it stay identical.
import { compareBytes } from '../store.ts';
import type { OrderedStore } from '../store.ts';
import { escapeKey, keyRevisionKey, parseRevisionKey, revisionKey, successor } from './encoding.ts';
import { decodeHistoryRecord } from './records.ts';
import { KV_TABLES, META_COMPACT_CURSOR } from './tables.ts';

// Each applied entry walks this many: a batch of N applied entries then does N times this work
// in one apply. At 1,000 (25 us each over lmdb) one batch of 30 puts walked 30,000 entries and
// stood every node still for 0.7-7 s at once, so leaders were lost under load. At 8 a batch of
// 300 walks 2,400 (about 60 ms); each put adds one history entry and walks 8, so compaction
// gains 7 per entry under load, and what it leaves to do when writes stop is bounded by what the
// last compact command added (the leader compacts in steps of a tenth of the retention).
export const COMPACTION_STEP_ENTRIES = 8;

/**
 * Per key, the newest entry of the key-revisions table below the compact revision (or none), for
 * one compact revision at a time. Why it stays true while compaction runs: nothing new lands
 * below the compact revision (new writes get later revisions), and compaction removes only
 * entries older than that newest one, or that newest one itself when it is a deletion, after
 * which no entry of the key is left below it to ask about (the walk goes in revision order).
 * So a memo built at any moment gives the answers the store itself would give. Cleared whenever
 * the state is reloaded (a restore, an aborted batch); bounded in size.
 */
export class LatestBelowMemo {
  static readonly KEYS_MAX = 65_536;
  #compactRevision = -1;
  readonly #latest = new Map<string, Uint8Array | null>();

  clear(): void {
    this.#latest.clear();
    this.#compactRevision = -1;
  }

  /** The key-revisions key of the newest revision of `escaped` below `compactRevision`, or null. */
  latest(store: OrderedStore, escaped: Uint8Array, compactRevision: number): Uint8Array | null {
    if (compactRevision !== this.#compactRevision || this.#latest.size >= LatestBelowMemo.KEYS_MAX) {
      this.#latest.clear();
      this.#compactRevision = compactRevision;
    }
    const name = Buffer.from(escaped.buffer, escaped.byteOffset, escaped.length).toString('latin1');
    let latest = this.#latest.get(name);
    if (latest === undefined) {
      latest = newestBelow(store, escaped, compactRevision);
      this.#latest.set(name, latest);
    }
    return latest;
  }
}

/** Returns the number of history entries examined (0 when no compaction is pending). */
export function compactStep(store: OrderedStore, compactRevision: number, stepEntries = COMPACTION_STEP_ENTRIES, memo = new LatestBelowMemo()): number {
  const cursor = store.get(KV_TABLES.meta, META_COMPACT_CURSOR);
  if (cursor === undefined) return 0;
  const end = revisionKey(compactRevision, 0);
  const options = cursor.length === 0 ? { end, limit: stepEntries } : { start: cursor, end, limit: stepEntries };
  // Only what the checks need is taken out of the range (its arrays may be reused as it moves
  // on), not the values; the deletions come after it, never while it is open.
  const batch: { historyKey: Uint8Array; isDelete: boolean; escaped: Uint8Array }[] = [];
  for (const entry of store.range(KV_TABLES.history, options)) {
    const record = decodeHistoryRecord(entry.value);
    batch.push({ historyKey: Uint8Array.from(entry.key), isDelete: record.kind === 'delete', escaped: escapeKey(record.key) });
  }
  for (const { historyKey, isDelete, escaped } of batch) {
    const at = parseRevisionKey(historyKey);
    const ownKey = keyRevisionKey(escaped, at.revision, at.sub);
    if (isDelete || supersededBelow(store, escaped, ownKey, compactRevision, memo)) {
      store.delete(KV_TABLES.history, historyKey);
      store.delete(KV_TABLES.keyRevisions, ownKey);
    }
  }
  if (batch.length < stepEntries) store.delete(KV_TABLES.meta, META_COMPACT_CURSOR);
  else store.put(KV_TABLES.meta, META_COMPACT_CURSOR, successor(batch[batch.length - 1]!.historyKey));
  return batch.length;
}

/** Whether the key changed again after `ownKey` and before `compactRevision`. */
function supersededBelow(store: OrderedStore, escaped: Uint8Array, ownKey: Uint8Array, compactRevision: number, memo: LatestBelowMemo): boolean {
  const latest = memo.latest(store, escaped, compactRevision);
  return latest !== null && compareBytes(ownKey, latest) < 0;
}

function newestBelow(store: OrderedStore, escaped: Uint8Array, compactRevision: number): Uint8Array | null {
  const options = { start: keyRevisionKey(escaped, 0, 0), end: keyRevisionKey(escaped, compactRevision, 0), reverse: true, limit: 1 };
  for (const entry of store.range(KV_TABLES.keyRevisions, options)) return Uint8Array.from(entry.key);
  return null;
}
