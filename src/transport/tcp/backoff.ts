// Reconnect delays: exponential, capped, with jitter so that nodes that lost a peer at the same
// moment do not all knock at the same instant ("equal jitter": half fixed, half random).

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** The delay before attempt number `failures` (1 = after the first failure). `random` returns [0, 1). */
export function backoffDelayMs(failures: number, options: BackoffOptions, random: () => number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return ceiling / 2 + (ceiling / 2) * random();
}
