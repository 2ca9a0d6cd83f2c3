// Notices when this process's event loop was blocked. Everything a node does runs on it: Raft
// ticks, heartbeats, answers to peers and clients. A stall longer than the election timeout costs
// a leader change, and without this line in the log nothing tells that the node itself stood
// still (a benchmark saw a leader go 4.5 s without processing messages, cause unknown).
import type { NodeLogger } from '../../runtime/logger.ts';

export interface StallWatchOptions {
  /** How late a check may run before it counts as a stall. */
  readonly thresholdMs?: number;
  /** How often to check. */
  readonly intervalMs?: number;
}

export class EventLoopStallWatch {
  readonly #logger: NodeLogger;
  readonly #thresholdMs: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #expectedAt = 0;
  /** Stalls seen since start(). */
  stalls = 0;

  constructor(logger: NodeLogger, options: StallWatchOptions = {}) {
    this.#logger = logger;
    this.#thresholdMs = options.thresholdMs ?? 300;
    this.#intervalMs = options.intervalMs ?? 100;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#expectedAt = performance.now() + this.#intervalMs;
    this.#timer = setInterval(() => this.#check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const now = performance.now();
    const lateMs = now - this.#expectedAt;
    this.#expectedAt = now + this.#intervalMs;
    if (lateMs < this.#thresholdMs) return;
    this.stalls++;
    this.#logger.warn({ blockedMs: Math.round(lateMs) },
      'this node\'s event loop was blocked: no Raft ticks, heartbeats or answers meanwhile (CPU starvation, swapping, a long GC, or a synchronous call stuck on the disk)');
  }
}
