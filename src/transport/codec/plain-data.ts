// Request and response payloads are plain data (see PlainData). The sender checks before
// encoding, so a caller's mistake becomes an 'ENCODE_FAILED' rejection instead of a frame the
// receiver must refuse; the receiver checks again because the bytes came from the network.
import type { PlainData } from '../types.ts';

/** Nesting deeper than this is refused (it would also risk the stack of whoever walks it). */
export const MAX_PLAIN_DATA_DEPTH = 64;

/**
 * Returns undefined when `value` is plain data, else a description of the first problem.
 * `allowUndefined` (the sending side) accepts undefined, which msgpack carries as null.
 */
export function plainDataProblem(value: unknown, allowUndefined: boolean, depth = 0): string | undefined {
  if (value === null || (value === undefined && allowUndefined)) return undefined;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : 'a number that is not finite';
    case 'object':
      break;
    default:
      return `a value of type ${typeof value}`;
  }
  if (depth >= MAX_PLAIN_DATA_DEPTH) return `nesting deeper than ${MAX_PLAIN_DATA_DEPTH}`;
  if (value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (const element of value) {
      const problem = plainDataProblem(element, allowUndefined, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return `an object of class ${prototype?.constructor?.name ?? 'unknown'}`;
  for (const key of Object.keys(value)) {
    const problem = plainDataProblem((value as Record<string, unknown>)[key], allowUndefined, depth + 1);
    if (problem !== undefined) return `${problem} at key ${JSON.stringify(key).slice(0, 64)}`;
  }
  return undefined;
}

/** The receiving side's check: exactly PlainData. */
export function isPlainData(value: unknown): value is PlainData {
  return plainDataProblem(value, false) === undefined;
}
