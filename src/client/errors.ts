// Errors of the client: the server's `{code, message}` (or a local code for network failures),
// the HTTP status (0 when no answer came), the endpoint that failed, and — for writes — whether
// the outcome is known. A write that timed out or lost its connection after being sent may or
// may not have taken effect: its outcome is 'unknown', and it is never retried blindly.
export type ClientOutcome = 'failed' | 'unknown';

export class CairnClientError extends Error {
  override name = 'CairnClientError';
  /** The server's error code, or 'unavailable' (no answer), 'timeout', 'bad-answer', 'closed'. */
  readonly code: string;
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** host:port of the node that answered (or failed to). */
  readonly endpoint: string;
  /** 'unknown': a write may or may not have been applied (read before retrying it). */
  readonly outcome: ClientOutcome;
  /** Other fields of the server's error answer (leaderId, compactRevision, kv, ...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, fields: { status?: number; endpoint?: string; outcome?: ClientOutcome; details?: Record<string, unknown> } = {}) {
    super(message);
    this.code = code;
    this.status = fields.status ?? 0;
    this.endpoint = fields.endpoint ?? '';
    this.outcome = fields.outcome ?? 'failed';
    this.details = fields.details ?? {};
  }
}

export function isCairnClientError(error: unknown, code?: string): error is CairnClientError {
  return error instanceof CairnClientError && (code === undefined || error.code === code);
}
