// Outstanding requests of one peer link: bounded in number, each with a timeout, settled exactly
// once (answer, error, timeout or the link's failure, whichever comes first).
import type { NodeId } from '../core/raft/types.ts';
import { TransportError } from './types.ts';
import type { PlainData, TimerHandle, TransportClock } from './types.ts';

interface Pending {
  readonly resolve: (payload: PlainData) => void;
  readonly reject: (error: TransportError) => void;
  readonly timer: TimerHandle;
}

export class PendingRequests {
  readonly #peerId: NodeId;
  readonly #clock: TransportClock;
  readonly #maxOutstanding: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(peerId: NodeId, clock: TransportClock, maxOutstanding: number) {
    this.#peerId = peerId;
    this.#clock = clock;
    this.#maxOutstanding = maxOutstanding;
  }

  get size(): number {
    return this.#pending.size;
  }

  has(requestId: number): boolean {
    return this.#pending.has(requestId);
  }

  /** Registers a request; throws TransportError 'TOO_MANY_REQUESTS' when the bound is reached. */
  add(timeoutMs: number): { requestId: number; promise: Promise<PlainData> } {
    if (this.#pending.size >= this.#maxOutstanding) {
      throw new TransportError('TOO_MANY_REQUESTS', `${this.#pending.size} requests to node ${this.#peerId} are already waiting for an answer; retry later`, { peerId: this.#peerId });
    }
    const requestId = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<PlainData>();
    const timer = this.#clock.setTimer(() => {
      this.reject(requestId, new TransportError('REQUEST_TIMEOUT', `node ${this.#peerId} did not answer within ${timeoutMs} ms`, { peerId: this.#peerId }));
    }, timeoutMs);
    this.#pending.set(requestId, { resolve, reject, timer });
    return { requestId, promise };
  }

  resolve(requestId: number, payload: PlainData): boolean {
    const pending = this.#take(requestId);
    pending?.resolve(payload);
    return pending !== undefined;
  }

  reject(requestId: number, error: TransportError): boolean {
    const pending = this.#take(requestId);
    pending?.reject(error);
    return pending !== undefined;
  }

  rejectAll(makeError: () => TransportError): void {
    for (const requestId of [...this.#pending.keys()]) this.reject(requestId, makeError());
  }

  #take(requestId: number): Pending | undefined {
    const pending = this.#pending.get(requestId);
    if (pending === undefined) return undefined;
    this.#pending.delete(requestId);
    this.#clock.clearTimer(pending.timer);
    return pending;
  }
}
