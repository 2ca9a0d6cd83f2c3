// "Log once per peer and reason": a peer with the wrong secret retries forever, and one line per
// attempt would bury everything else. A key (a peer) is logged again only when its reason changes,
// when it was cleared (the peer recovered), or after a long quiet period as a reminder.
import type { TransportClock } from './types.ts';

/** Keys come from the network on the listening side; this bounds what they can make us remember. */
const MAX_KEYS = 1024;

export class RepeatFilter {
  readonly #clock: TransportClock;
  readonly #quietMs: number;
  readonly #last = new Map<string, { reason: string; atMs: number }>();

  constructor(clock: TransportClock, quietMs: number) {
    this.#clock = clock;
    this.#quietMs = quietMs;
  }

  /** True when (key, reason) should be logged now; remembers it. */
  shouldLog(key: string, reason: string): boolean {
    const now = this.#clock.now();
    const last = this.#last.get(key);
    if (last !== undefined && last.reason === reason && now - last.atMs < this.#quietMs) return false;
    this.#last.delete(key); // re-insert so the map's order is least recently logged first
    if (this.#last.size >= MAX_KEYS) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(key, { reason, atMs: now });
    return true;
  }

  /** Forgets the key's reason (the condition ended), so a recurrence is logged again. Returns whether one was remembered. */
  clear(key: string): boolean {
    return this.#last.delete(key);
  }
}
