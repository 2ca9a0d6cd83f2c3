// Long-polling Fetch requests waiting for new data: each waits on the partitions it asked for and
// is woken by the log's commit notices (or everything at once when topics change, a snapshot is
// restored or leadership moves), or by its own timer. The number of waiters is bounded by the
// broker's in-flight request limits.
import type { Clock } from '../../util/clock.ts';

export function partitionKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}

export class PartitionWaiters {
  readonly #clock: Clock;
  readonly #byPartition = new Map<string, Set<() => void>>();
  readonly #all = new Set<() => void>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#all.size;
  }

  /** Resolves when one of `keys` changes, wakeAll() is called, or after `timeoutMs`. */
  wait(keys: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#clock.clearTimer(timer);
        this.#all.delete(wake);
        for (const key of keys) {
          const set = this.#byPartition.get(key);
          set?.delete(wake);
          if (set?.size === 0) this.#byPartition.delete(key);
        }
        resolve();
      };
      const timer = this.#clock.setTimer(wake, Math.max(0, timeoutMs));
      this.#all.add(wake);
      for (const key of keys) {
        let set = this.#byPartition.get(key);
        if (set === undefined) this.#byPartition.set(key, (set = new Set()));
        set.add(wake);
      }
    });
  }

  wake(keys: Iterable<string>): void {
    const woken = new Set<() => void>();
    for (const key of keys) for (const wake of this.#byPartition.get(key) ?? []) woken.add(wake);
    for (const wake of woken) wake();
  }

  wakeAll(): void {
    for (const wake of [...this.#all]) wake();
  }
}
