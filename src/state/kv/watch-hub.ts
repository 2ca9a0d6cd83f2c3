// Watches: a key, a prefix or a range, from a revision, in revision order with no gap and no
// duplicate. A watcher first catches up from the stored history in bounded chunks (scheduled, so
// a long catch-up never blocks the event loop), then receives the live events that apply()
// publishes after each commit. The handover is seamless because both run on one thread: the
// chunk that reads history up to the current revision switches the watcher to live in the same
// synchronous step, and live delivery skips anything below the watcher's next revision.
//
// Flow control: a listener returns false when its consumer cannot take more (a full socket) and
// calls resume() later. While paused, catch-up simply stops; live events are buffered up to
// maxPendingEvents / maxPendingBytes, and a watcher that overflows is cancelled with
// 'watch-too-slow' and the revision to resume from, so memory stays bounded and the client can
// re-watch without a gap. A watcher whose history gets compacted before it catches up is
// cancelled with 'compacted' and the compact revision.
import { rangeBounds, validateRange, validateRevision, isReservedKey } from './commands.ts';
import type { KeyRange } from './commands.ts';
import { kvError } from './errors.ts';
import type { KvError } from './errors.ts';
import type { KvEvent } from './kv-reader.ts';
import type { KvCommitNotice, KvState } from './kv-state.ts';

export interface WatchRequest {
  readonly range: KeyRange;
  /** The first revision to deliver; omitted or 0 = the next one (live only). */
  readonly fromRevision?: number;
  /** Include each event's previous key state. */
  readonly prevKv?: boolean;
  /** May watch the reserved `_cairn/` keys. */
  readonly system?: boolean;
}

export type WatchNotice =
  /** `nextRevision`: where this watch stands after these events (resume from there). */
  | { readonly type: 'events'; readonly events: readonly KvEvent[]; readonly nextRevision: number }
  | { readonly type: 'cancelled'; readonly error: KvError };

/** Return false to pause delivery until Watch.resume(). */
export type WatchListener = (notice: WatchNotice) => boolean | void;

export interface Watch {
  readonly id: number;
  /** The next revision this watch will deliver (resume a new watch from here after a cancel). */
  nextRevision(): number;
  resume(): void;
  cancel(): void;
}

export interface WatchHubOptions {
  readonly maxWatchers?: number;
  readonly maxPendingEvents?: number;
  readonly maxPendingBytes?: number;
  /** Events read from history per catch-up step (a revision is never split). */
  readonly catchUpChunkEvents?: number;
  /** How catch-up steps are scheduled; default setImmediate. The simulator injects its own. */
  readonly schedule?: (step: () => void) => void;
}

const DEFAULTS = { maxWatchers: 10_000, maxPendingEvents: 10_000, maxPendingBytes: 16 * 1024 * 1024, catchUpChunkEvents: 1000 };

class Watcher implements Watch {
  readonly id: number;
  readonly #hub: WatchHub;
  readonly start: Uint8Array;
  readonly end: Uint8Array | undefined;
  readonly prevKv: boolean;
  readonly system: boolean;
  readonly listener: WatchListener;
  next: number;
  live = false;
  paused = false;
  cancelled = false;
  scheduled = false;
  pending: KvEvent[] = [];
  pendingBytes = 0;

  constructor(hub: WatchHub, id: number, request: WatchRequest, fromRevision: number, listener: WatchListener) {
    this.#hub = hub;
    this.id = id;
    const bounds = rangeBounds(request.range);
    this.start = bounds.start;
    this.end = bounds.end;
    this.prevKv = request.prevKv === true;
    this.system = request.system === true;
    this.listener = listener;
    this.next = fromRevision;
  }

  nextRevision(): number {
    return this.next;
  }

  resume(): void {
    this.#hub.resume(this);
  }

  cancel(): void {
    this.#hub.cancel(this, undefined);
  }

  matches(event: KvEvent): boolean {
    const key = event.kv.key;
    if (Buffer.compare(key, this.start) < 0) return false;
    if (this.end !== undefined && Buffer.compare(key, this.end) >= 0) return false;
    return this.system || !isReservedKey(key);
  }

  shape(event: KvEvent): KvEvent {
    return this.prevKv || event.prevKv === undefined ? event : { type: event.type, kv: event.kv };
  }
}

export class WatchHub {
  readonly #kv: KvState;
  readonly #options: typeof DEFAULTS;
  readonly #schedule: (step: () => void) => void;
  readonly #watchers = new Map<number, Watcher>();
  readonly #unsubscribe: () => void;
  #nextId = 1;

  constructor(kv: KvState, options: WatchHubOptions = {}) {
    this.#kv = kv;
    this.#options = { ...DEFAULTS, ...withoutUndefined(options) };
    this.#schedule = options.schedule ?? ((step) => void setImmediate(step));
    this.#unsubscribe = kv.subscribe((notice) => this.#onCommit(notice));
  }

  get size(): number {
    return this.#watchers.size;
  }

  watch(request: WatchRequest, listener: WatchListener): Watch | KvError {
    const problem = validateRange(request.range, this.#kv.limits, request.system === true);
    if (problem !== undefined) return problem;
    if (this.#watchers.size >= this.#options.maxWatchers) {
      return kvError('too-many-watchers', `this node serves ${this.#watchers.size} watches, the limit; cancel unused watches or use another node`);
    }
    const current = this.#kv.currentRevision();
    const fromRevision = request.fromRevision === undefined || request.fromRevision === 0 ? current + 1 : request.fromRevision;
    const invalid = validateRevision(fromRevision, 'watch start revision', false);
    if (invalid !== undefined) return invalid;
    const compacted = this.#compactedError(fromRevision);
    if (compacted !== undefined) return compacted;
    const watcher = new Watcher(this, this.#nextId++, request, fromRevision, listener);
    this.#watchers.set(watcher.id, watcher);
    if (fromRevision > current) watcher.live = true;
    else this.#scheduleCatchUp(watcher);
    return watcher;
  }

  /** Cancels every watch (node shutting down) and stops listening to the KV. */
  close(): void {
    this.#unsubscribe();
    for (const watcher of [...this.#watchers.values()]) {
      this.cancel(watcher, kvError('watch-cancelled', `the node is shutting down; resume the watch from revision ${watcher.next} on another node`, { resumeRevision: watcher.next }));
    }
  }

  resume(watcher: Watcher): void {
    if (watcher.cancelled || !watcher.paused) return;
    watcher.paused = false;
    if (!watcher.live) {
      this.#scheduleCatchUp(watcher);
      return;
    }
    if (watcher.pending.length === 0) return;
    const events = watcher.pending;
    watcher.pending = [];
    watcher.pendingBytes = 0;
    this.#deliver(watcher, { type: 'events', events, nextRevision: watcher.next });
  }

  cancel(watcher: Watcher, error: KvError | undefined): void {
    if (watcher.cancelled) return;
    watcher.cancelled = true;
    watcher.pending = [];
    this.#watchers.delete(watcher.id);
    if (error !== undefined) this.#call(watcher, { type: 'cancelled', error });
  }

  #compactedError(fromRevision: number): KvError | undefined {
    const compactRevision = this.#kv.compactRevision();
    if (fromRevision >= compactRevision) return undefined;
    return kvError('compacted', `revision ${fromRevision} is compacted; watch from revision ${compactRevision} or later (and re-read the current state first)`, { compactRevision });
  }

  #scheduleCatchUp(watcher: Watcher): void {
    if (watcher.scheduled || watcher.cancelled) return;
    watcher.scheduled = true;
    this.#schedule(() => {
      watcher.scheduled = false;
      this.#catchUpStep(watcher);
    });
  }

  #catchUpStep(watcher: Watcher): void {
    if (watcher.cancelled || watcher.paused || watcher.live) return;
    const compacted = this.#compactedError(watcher.next);
    if (compacted !== undefined) return this.cancel(watcher, compacted);
    const chunk = this.#kv.history(watcher.next, this.#options.catchUpChunkEvents, watcher.prevKv);
    const events = chunk.events.filter((event) => watcher.matches(event)).map((event) => watcher.shape(event));
    watcher.next = chunk.nextRevision;
    // Synchronously with the read above: no commit can slip in between, so nothing is lost.
    if (watcher.next > this.#kv.currentRevision()) watcher.live = true;
    if (events.length > 0) this.#deliver(watcher, { type: 'events', events, nextRevision: watcher.next });
    if (!watcher.live) this.#scheduleCatchUp(watcher);
  }

  #onCommit(notice: KvCommitNotice): void {
    for (const watcher of [...this.#watchers.values()]) {
      if (notice.restored) this.#afterRestore(watcher);
      else if (watcher.live) this.#liveEvents(watcher, notice);
    }
  }

  /** The state jumped to a snapshot: what happened in between is in its history (or compacted). */
  #afterRestore(watcher: Watcher): void {
    if (watcher.pending.length > 0) watcher.next = watcher.pending[0]!.kv.modRevision;
    watcher.pending = [];
    watcher.pendingBytes = 0;
    if (watcher.next > this.#kv.currentRevision()) return;
    watcher.live = false;
    this.#scheduleCatchUp(watcher);
  }

  #liveEvents(watcher: Watcher, notice: KvCommitNotice): void {
    const events = notice.events.filter((event) => event.kv.modRevision >= watcher.next && watcher.matches(event)).map((event) => watcher.shape(event));
    const resumeRevision = watcher.pending.length > 0 ? watcher.pending[0]!.kv.modRevision : watcher.next;
    watcher.next = Math.max(watcher.next, notice.currentRevision + 1);
    if (events.length === 0) return;
    if (!watcher.paused) return this.#deliver(watcher, { type: 'events', events, nextRevision: watcher.next });
    for (const event of events) {
      watcher.pending.push(event);
      watcher.pendingBytes += eventBytes(event);
    }
    if (watcher.pending.length > this.#options.maxPendingEvents || watcher.pendingBytes > this.#options.maxPendingBytes) {
      const message = `the watcher fell behind by more than ${this.#options.maxPendingEvents} events or ${this.#options.maxPendingBytes} bytes; read faster, narrow the watch, or re-watch from revision ${resumeRevision}`;
      this.cancel(watcher, kvError('watch-too-slow', message, { resumeRevision, currentRevision: notice.currentRevision }));
    }
  }

  #deliver(watcher: Watcher, notice: WatchNotice): void {
    if (this.#call(watcher, notice) === false) watcher.paused = true;
  }

  /** A listener that throws is a bug in the caller: cancel that watch, keep the others running. */
  #call(watcher: Watcher, notice: WatchNotice): boolean | void {
    try {
      return watcher.listener(notice);
    } catch (error) {
      if (notice.type === 'events') {
        const resumeRevision = notice.events[0]!.kv.modRevision;
        this.cancel(watcher, kvError('watch-cancelled', `the watch listener threw (${(error as Error).message}); resume from revision ${resumeRevision}`, { resumeRevision }));
      }
      return undefined;
    }
  }
}

function eventBytes(event: KvEvent): number {
  return 64 + event.kv.key.length + event.kv.value.length + (event.prevKv === undefined ? 0 : event.prevKv.key.length + event.prevKv.value.length);
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
