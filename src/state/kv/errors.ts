// The KV's operating errors: values, never exceptions. `code` is stable (programs and the HTTP
// API map it to a status); `message` says what was wrong and what to do about it.
import type { StateError } from '../types.ts';

export type KvErrorCode =
  | 'malformed-command'
  | 'key-empty'
  | 'key-too-large'
  | 'value-too-large'
  | 'reserved-key'
  | 'range-invalid'
  | 'limit-invalid'
  | 'revision-invalid'
  | 'too-many-operations'
  | 'too-many-keys'
  | 'compacted'
  | 'future-revision'
  | 'continuation-invalid'
  | 'lease-not-found'
  | 'lease-exists'
  | 'lease-ttl-invalid'
  | 'lease-id-invalid'
  | 'too-many-leases'
  | 'not-leader'
  | 'watch-too-slow'
  | 'too-many-watchers'
  | 'watch-cancelled';

export interface KvError extends StateError<KvErrorCode> {
  /** For 'compacted': the oldest revision still readable / watchable. */
  readonly compactRevision?: number;
  /** For 'future-revision' and 'watch-too-slow': the store's current revision. */
  readonly currentRevision?: number;
  /** For 'watch-too-slow' and 'watch-cancelled': where to resume the watch without a gap. */
  readonly resumeRevision?: number;
}

export function kvError(code: KvErrorCode, message: string, details: Omit<KvError, 'code' | 'message'> = {}): KvError {
  return { code, message, ...details };
}

export function isKvError(value: unknown): value is KvError {
  return typeof value === 'object' && value !== null && typeof (value as KvError).code === 'string' && typeof (value as KvError).message === 'string';
}
