// Lazy commit propagation (RaftConfig.lazyCommitPropagation), the runtime's half. While the
// leader keeps proposing, each append tells the followers the commit index and nothing extra is
// sent. Once it has proposed nothing for `delayMs`, followers that acknowledged everything but
// were not told the last commit index get an append of their own (RawNode.propagateCommit), so
// that they apply the end of a burst soon rather than at the next heartbeat.
import type { Clock, TimerHandle } from '../util/clock.ts';

export interface CommitPropagationOptions {
  readonly clock: Clock;
  /** 0 turns the timer off (the core then propagates eagerly). */
  readonly delayMs: number;
  /** RawNode.commitUnpropagated: whether some idle follower was not told the commit index. */
  readonly unpropagated: () => boolean;
  /** Runs RawNode.propagateCommit through the node loop. */
  readonly propagate: () => void;
}

export class CommitPropagation {
  readonly #options: CommitPropagationOptions;
  #timer: TimerHandle | undefined;
  #lastProposedAt = Number.NEGATIVE_INFINITY;

  constructor(options: CommitPropagationOptions) {
    this.#options = options;
  }

  /** The leader proposed entries: their appends carry the commit index. */
  proposed(): void {
    this.#lastProposedAt = this.#options.clock.now();
  }

  /** Arms the timer if a follower waits to be told the commit index and none is armed. */
  schedule(delayMs = this.#options.delayMs): void {
    const { clock, unpropagated, propagate } = this.#options;
    if (this.#timer !== undefined || delayMs === 0 || !unpropagated()) return;
    this.#timer = clock.setTimer(() => {
      this.#timer = undefined;
      const quietMs = clock.now() - this.#lastProposedAt;
      if (quietMs < this.#options.delayMs) this.schedule(this.#options.delayMs - quietMs);
      else propagate();
    }, delayMs);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }
}
