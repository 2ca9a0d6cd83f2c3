// Client proposals from submission to answer. A proposal waits in a queue until the next turn
// of the node loop proposes the whole queue as one batch (one append message per follower, one
// fsync); then it waits for its entry to be applied. Its entry being applied with another term
// means it was replaced after a leader change: it definitely did not take effect.
import { NodeError } from './errors.ts';

export interface Waiter<T> {
  readonly deadline: number;
  resolve(value: T): void;
  reject(error: Error): void;
}

export interface QueuedProposal extends Waiter<unknown> {
  readonly data: Uint8Array;
}

interface ProposedEntry extends Waiter<unknown> {
  readonly term: number;
}

export interface ProposalLimits {
  /** Proposals waiting to be proposed or applied, at most. */
  readonly pendingMax: number;
  /** Bytes proposed in one batch, at most (the rest waits for the next turn). */
  readonly batchBytesMax: number;
}

export class ProposalTracker {
  private queue: QueuedProposal[] = [];
  private readonly proposed = new Map<number, ProposedEntry>();
  private readonly limits: ProposalLimits;

  constructor(limits: ProposalLimits) {
    this.limits = limits;
  }

  get queued(): number {
    return this.queue.length;
  }

  get pending(): number {
    return this.queue.length + this.proposed.size;
  }

  enqueue(proposal: QueuedProposal): void {
    if (this.pending >= this.limits.pendingMax) {
      proposal.reject(new NodeError('overloaded', `${this.pending} proposals are already waiting; retry with backoff`));
      return;
    }
    this.queue.push(proposal);
  }

  /** Removes and returns the next batch to propose, bounded by bytes (at least one proposal). */
  takeBatch(): QueuedProposal[] {
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length) {
      bytes += this.queue[count]!.data.byteLength;
      if (count > 0 && bytes > this.limits.batchBytesMax) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  /** Puts a batch back at the front (it could not be proposed now). */
  requeue(batch: QueuedProposal[]): void {
    this.queue = batch.concat(this.queue);
  }

  /** The batch was appended at [firstIndex, firstIndex + batch.length) in `term`. */
  proposedAt(batch: readonly QueuedProposal[], firstIndex: number, term: number): void {
    batch.forEach((proposal, offset) => this.proposed.set(firstIndex + offset, { ...proposal, term }));
  }

  /** An entry was applied: answer the proposal that wrote it, or tell it that it lost its slot. */
  applied(index: number, term: number, result: unknown): void {
    const entry = this.proposed.get(index);
    if (entry === undefined) return;
    this.proposed.delete(index);
    if (entry.term === term) entry.resolve(result);
    else entry.reject(new NodeError('proposal-lost', `the entry at index ${index} was replaced after a leader change; retry`));
  }

  /**
   * A snapshot replaced the state up to `index`: proposals at or below it cannot be told apart
   * from the snapshot, so their outcome is unknown.
   */
  coveredBySnapshot(index: number): void {
    for (const [entryIndex, entry] of this.proposed) {
      if (entryIndex > index) continue;
      this.proposed.delete(entryIndex);
      entry.reject(new NodeError('timeout', `the outcome of the proposal at index ${entryIndex} is unknown: a snapshot replaced the log there`));
    }
  }

  /** Rejects everything past its deadline. Timeouts of proposed entries are 'timeout' (unknown outcome). */
  expire(now: number): void {
    const expiredQueued = this.queue.filter((proposal) => proposal.deadline <= now);
    if (expiredQueued.length > 0) {
      this.queue = this.queue.filter((proposal) => proposal.deadline > now);
      for (const proposal of expiredQueued) proposal.reject(new NodeError('timeout', 'the proposal was not accepted in time (no leader?); it did not take effect'));
    }
    for (const [index, entry] of this.proposed) {
      if (entry.deadline > now) continue;
      this.proposed.delete(index);
      entry.reject(new NodeError('timeout', `the proposal at index ${index} was not applied in time; it may or may not take effect`));
    }
  }

  /** Fails every proposal not yet proposed (e.g. the node lost leadership before proposing them). */
  failQueued(error: NodeError): void {
    const queued = this.queue;
    this.queue = [];
    for (const proposal of queued) proposal.reject(error);
  }

  failAll(error: NodeError): void {
    this.failQueued(error);
    for (const entry of this.proposed.values()) entry.reject(error);
    this.proposed.clear();
  }
}
