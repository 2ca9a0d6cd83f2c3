// When a small file write may run synchronously on the event loop. Copying a few KiB into the page
// cache usually takes microseconds, less than the thread-pool round trip of an asynchronous write
// (measured: about 15 µs per save; a node's single-worker KV puts ran 8-15% faster with it on a
// busy 2-core machine). But while another process makes the kernel write back GBs, a 59 KiB pwrite
// took 57-73 ms on a follower's event loop (strace -T), time in which the node sends no heartbeats
// (a leader stalled that long for a few hundred ms more loses its followers). So one slow
// synchronous write sends the following ones through the pool for a while.

/** Writes larger than this always go through the pool (copying megabytes would stall the loop). */
export const SYNCHRONOUS_WRITE_MAX_BYTES = 64 * 1024;
/** A synchronous write slower than this means the disk is congested. */
export const SLOW_SYNCHRONOUS_WRITE_MS = 5;
/** How long writes stay off the event loop after a slow one. */
export const POOL_AFTER_SLOW_WRITE_MS = 10_000;

export class WriteModeGovernor {
  readonly #now: () => number;
  #poolUntil = Number.NEGATIVE_INFINITY;
  #slowWrites = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Whether a write of `bytes` may run synchronously now. */
  synchronous(bytes: number): boolean {
    return bytes <= SYNCHRONOUS_WRITE_MAX_BYTES && this.#now() >= this.#poolUntil;
  }

  /** Reports how long a synchronous write took. */
  tookMs(elapsedMs: number): void {
    if (elapsedMs <= SLOW_SYNCHRONOUS_WRITE_MS) return;
    this.#slowWrites++;
    this.#poolUntil = this.#now() + POOL_AFTER_SLOW_WRITE_MS;
  }

  /** Synchronous writes found slow so far (each started a period of pool writes). */
  get slowWrites(): number {
    return this.#slowWrites;
  }
}

/** One per process: every file of a node shares its disks. */
export const WRITE_MODE = new WriteModeGovernor();
