// Physical compaction, in bounded steps. The compact command only moves the compact revision
// (reads and watches below it are refused from then on) and sets a cursor; every applied entry
// then walks at most COMPACTION_STEP_ENTRIES history entries below the compact revision and
// drops what no read at or above it can need: deletes, and puts superseded by a later change
// still below it. The latest put of each key below it stays (a read at the compact revision
// returns it). The work is a function of the applied entries only, so replicas stay identical;
// the step size must therefore be the same on every member (default COMPACTION_STEP_ENTRIES).
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

/** Returns the number of history entries examined (0 when no compaction is pending). */
export function compactStep(store: OrderedStore, compactRevision: number, stepEntries = COMPACTION_STEP_ENTRIES): number {
  const cursor = store.get(KV_TABLES.meta, META_COMPACT_CURSOR);
  if (cursor === undefined) return 0;
  const end = revisionKey(compactRevision, 0);
  const options = cursor.length === 0 ? { end, limit: stepEntries } : { start: cursor, end, limit: stepEntries };
  const batch = [...store.range(KV_TABLES.history, options)].map((entry) => ({ key: Uint8Array.from(entry.key), value: Uint8Array.from(entry.value) }));
  for (const entry of batch) {
    const at = parseRevisionKey(entry.key);
    const record = decodeHistoryRecord(entry.value);
    const escaped = escapeKey(record.key);
    const ownKey = keyRevisionKey(escaped, at.revision, at.sub);
    if (record.kind === 'delete' || supersededBelow(store, escaped, ownKey, compactRevision)) {
      store.delete(KV_TABLES.history, entry.key);
      store.delete(KV_TABLES.keyRevisions, ownKey);
    }
  }
  if (batch.length < stepEntries) store.delete(KV_TABLES.meta, META_COMPACT_CURSOR);
  else store.put(KV_TABLES.meta, META_COMPACT_CURSOR, successor(batch[batch.length - 1]!.key));
  return batch.length;
}

/** Whether the key changed again after `ownKey` and before `compactRevision`. */
function supersededBelow(store: OrderedStore, escaped: Uint8Array, ownKey: Uint8Array, compactRevision: number): boolean {
  const options = { start: successor(ownKey), end: keyRevisionKey(escaped, compactRevision, 0), limit: 1 };
  for (const _ of store.range(KV_TABLES.keyRevisions, options)) return true;
  return false;
}
