// Operating errors of the fault primitives: a stable code and a message that says what to do.
// Programmer errors (bad arguments) are FaultError too, with code 'invalid-argument', so a scenario
// that builds a toxic from user input can report it instead of crashing.

export type FaultErrorCode =
  | 'invalid-argument'
  /** The primitive needs root (network namespaces, iptables, loop devices, mount). */
  | 'not-root'
  /** A required tool or library is not installed (the message names the Debian package). */
  | 'tool-missing'
  /** An external command exited non-zero or timed out; the message carries its stderr. */
  | 'command-failed'
  /** The primitive was already stopped or cleaned up. */
  | 'stopped'
  /** A pid no longer belongs to the process it was captured from (exited, or pid reused). */
  | 'process-mismatch'
  /** A signal was sent but its effect (exit, stop, continue) was not seen in time. */
  | 'signal-timeout'
  /** e2fsck could not repair a power-cut image. */
  | 'fsck-failed'
  /** A limit was reached (connections, namespaces, buffered bytes). */
  | 'limit-reached';

export class FaultError extends Error {
  override name = 'FaultError';
  readonly code: FaultErrorCode;

  constructor(code: FaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function invalidArgument(message: string): FaultError {
  return new FaultError('invalid-argument', message);
}

/** Checks that `value` is a finite number in [min, max]; `name` is used in the message. */
export function requireNumberInRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

export function requireIntegerInRange(name: string, value: unknown, min: number, max: number): number {
  requireNumberInRange(name, value, min, max);
  if (!Number.isInteger(value)) throw invalidArgument(`${name} must be an integer, got ${String(value)}`);
  return value as number;
}
