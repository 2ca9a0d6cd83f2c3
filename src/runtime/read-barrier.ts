// Linearizable reads (ReadIndex). Reads that arrive while a round is in flight wait for the next
// round, because a round confirms only what was committed before it started; all reads of one
// round share its heartbeat exchange. A confirmed read proceeds once the local state machine
// has applied up to the round's index. A round that goes unanswered (the leader changed) is
// simply started again for the same reads.
import { NodeError } from './errors.ts';
import type { Waiter } from './proposals.ts';

export interface ReadRound {
  readonly context: Uint8Array;
  waiters: Waiter<void>[];
  readonly startedAt: number;
}

export class ReadBarrier {
  private waiting: Waiter<void>[] = [];
  private round: ReadRound | undefined;
  private confirmed: { index: number; waiters: Waiter<void>[] }[] = [];
  private counter = 0;
  private readonly nodeId: number;
  private readonly pendingMax: number;

  constructor(nodeId: number, pendingMax: number) {
    this.nodeId = nodeId;
    this.pendingMax = pendingMax;
  }

  get pending(): number {
    return this.waiting.length + (this.round?.waiters.length ?? 0) + this.confirmed.reduce((sum, item) => sum + item.waiters.length, 0);
  }

  add(waiter: Waiter<void>): void {
    if (this.pending >= this.pendingMax) {
      waiter.reject(new NodeError('overloaded', `${this.pending} reads are already waiting; retry with backoff`));
      return;
    }
    this.waiting.push(waiter);
  }

  /** The next round to start, if reads wait and none is in flight. */
  nextRound(now: number): ReadRound | undefined {
    if (this.round !== undefined || this.waiting.length === 0) return undefined;
    const context = new TextEncoder().encode(`${this.nodeId}:${++this.counter}`);
    this.round = { context, waiters: this.waiting, startedAt: now };
    this.waiting = [];
    return this.round;
  }

  /** The round could not start (no leader): its reads wait again. */
  roundRefused(): void {
    if (this.round === undefined) return;
    this.waiting = this.round.waiters.concat(this.waiting);
    this.round = undefined;
  }

  /** A ReadState arrived. Returns true if it was our round's. */
  confirmedAt(context: Uint8Array, index: number): boolean {
    const round = this.round;
    if (round === undefined || !sameBytes(round.context, context)) return false;
    this.confirmed.push({ index, waiters: round.waiters });
    this.round = undefined;
    return true;
  }

  /** Releases every confirmed read whose index is applied. */
  appliedThrough(applied: number): void {
    if (this.confirmed.length === 0) return;
    const ready = this.confirmed.filter((item) => item.index <= applied);
    if (ready.length === 0) return;
    this.confirmed = this.confirmed.filter((item) => item.index > applied);
    for (const item of ready) for (const waiter of item.waiters) waiter.resolve();
  }

  /** A round unanswered for `roundTimeoutMs` is abandoned so a new one can start; expired reads fail. */
  expire(now: number, roundTimeoutMs: number): void {
    if (this.round !== undefined && now - this.round.startedAt >= roundTimeoutMs) this.roundRefused();
    const timeout = (waiters: Waiter<void>[]): Waiter<void>[] => {
      const kept: Waiter<void>[] = [];
      for (const waiter of waiters) {
        if (waiter.deadline > now) kept.push(waiter);
        else waiter.reject(new NodeError('timeout', 'the linearizable read could not be confirmed in time (no leader or no quorum?); retry'));
      }
      return kept;
    };
    this.waiting = timeout(this.waiting);
    if (this.round !== undefined) this.round.waiters = timeout(this.round.waiters);
    for (const item of this.confirmed) item.waiters = timeout(item.waiters);
    this.confirmed = this.confirmed.filter((item) => item.waiters.length > 0);
  }

  failAll(error: NodeError): void {
    for (const waiter of [...this.waiting, ...(this.round?.waiters ?? []), ...this.confirmed.flatMap((item) => item.waiters)]) waiter.reject(error);
    this.waiting = [];
    this.round = undefined;
    this.confirmed = [];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, position) => byte === b[position]);
}
