// Per-second counters and latency histograms of one node, for the dashboard's charts: a ring of
// the last WINDOW_SECONDS seconds (fixed memory, whatever the load), plus the leader
// announcements this node saw. Seconds are wall-clock seconds, so the serving node can line up
// the seconds of every member (their clocks are assumed roughly in sync, as for any dashboard).
import { BUCKET_COUNT, bucketIndex } from './latency-buckets.ts';
import type { ActivityKind, WireKindSecond, WireLeadershipEvent, WireLocalStats, WireNodeSecond } from './wire-types.ts';

export const ACTIVITY_KINDS: readonly ActivityKind[] = ['kv', 'produce', 'fetch'];
/** Five minutes of history. */
export const WINDOW_SECONDS = 300;
/** The completed seconds of the window and the current one. */
const SLOTS = WINDOW_SECONDS + 1;
/** Leader announcements kept. */
export const LEADERSHIP_EVENTS_MAX = 200;

interface KindSlot {
  count: number;
  failed: number;
  bytes: number;
  /** Allocated on the first observation of the second. */
  buckets: Uint32Array | undefined;
}

interface SecondSlot {
  second: number;
  readonly kinds: Record<ActivityKind, KindSlot>;
}

function emptyKind(): KindSlot {
  return { count: 0, failed: 0, bytes: 0, buckets: undefined };
}

function resetKind(slot: KindSlot): void {
  slot.count = 0;
  slot.failed = 0;
  slot.bytes = 0;
  slot.buckets?.fill(0);
}

export class ActivityRecorder {
  readonly #nowMs: () => number;
  readonly #slots: SecondSlot[];
  readonly #leadership: WireLeadershipEvent[] = [];
  readonly #nodeId: () => number;

  constructor(options: { nowMs?: () => number; nodeId?: () => number } = {}) {
    this.#nowMs = options.nowMs ?? Date.now;
    this.#nodeId = options.nodeId ?? (() => 0);
    this.#slots = Array.from({ length: SLOTS }, () => ({ second: -1, kinds: { kv: emptyKind(), produce: emptyKind(), fetch: emptyKind() } }));
  }

  /** One served request: its kind, latency, whether it failed, and the record bytes it carried. */
  observe(kind: ActivityKind, seconds: number, failed: boolean, bytes = 0): void {
    const second = Math.floor(this.#nowMs() / 1000);
    const slot = this.#slotFor(second);
    const counts = slot.kinds[kind];
    counts.count++;
    if (failed) counts.failed++;
    if (bytes > 0) counts.bytes += bytes;
    counts.buckets ??= new Uint32Array(BUCKET_COUNT);
    counts.buckets[bucketIndex(seconds)]!++;
  }

  /** A role change of this node's Raft: kept when it names a leader different from the last one. */
  recordLeadership(change: { readonly leaderId: number; readonly term: number }): void {
    if (change.leaderId === 0) return;
    const last = this.#leadership[this.#leadership.length - 1];
    if (last !== undefined && last.leaderId === change.leaderId && last.term === change.term) return;
    this.#leadership.push({ timeMs: this.#nowMs(), term: change.term, leaderId: change.leaderId });
    if (this.#leadership.length > LEADERSHIP_EVENTS_MAX) this.#leadership.shift();
  }

  /** Completed seconds after `sinceSecond` (within the window) that had any activity. */
  localStats(sinceSecond: number): WireLocalStats {
    const nowMs = this.#nowMs();
    const current = Math.floor(nowMs / 1000);
    const from = Math.max(sinceSecond + 1, current - WINDOW_SECONDS);
    const seconds: WireNodeSecond[] = [];
    for (let second = from; second < current; second++) {
      const slot = this.#slots[second % SLOTS]!;
      if (slot.second !== second) continue;
      const kinds: Partial<Record<ActivityKind, WireKindSecond>> = {};
      for (const kind of ACTIVITY_KINDS) {
        const counts = slot.kinds[kind];
        if (counts.count > 0) kinds[kind] = { count: counts.count, failed: counts.failed, bytes: counts.bytes, buckets: sparse(counts.buckets) };
      }
      if (Object.keys(kinds).length > 0) seconds.push({ second, kinds });
    }
    const oldestMs = (current - WINDOW_SECONDS) * 1000;
    return { nodeId: this.#nodeId(), nowMs, windowSeconds: WINDOW_SECONDS, seconds, leadership: this.#leadership.filter((event) => event.timeMs >= oldestMs) };
  }

  #slotFor(second: number): SecondSlot {
    const slot = this.#slots[second % SLOTS]!;
    if (slot.second !== second) {
      // A clock that stepped back lands in an older slot: start it over rather than mix seconds.
      slot.second = second;
      for (const kind of ACTIVITY_KINDS) resetKind(slot.kinds[kind]);
    }
    return slot;
  }
}

function sparse(buckets: Uint32Array | undefined): number[] {
  const pairs: number[] = [];
  if (buckets === undefined) return pairs;
  for (let index = 0; index < buckets.length; index++) if (buckets[index]! > 0) pairs.push(index, buckets[index]!);
  return pairs;
}
