// Operating errors of a node, as clients see them: a stable code, a message that says what to do,
// and whether retrying (possibly elsewhere) can help.

export type NodeErrorCode =
  /** This node is not the leader and could not forward the request; `leaderId` may say who is. */
  | 'not-leader'
  /** No leader is known (election in progress, or no quorum reachable). */
  | 'no-leader'
  /** The request did not complete in time; a write may or may not have taken effect. */
  | 'timeout'
  /** The proposal's log entry was replaced after a leader change: it definitely did not take effect. */
  | 'proposal-lost'
  | 'transfer-in-progress'
  | 'conf-change-pending'
  | 'invalid-conf-change'
  /** Too many requests are waiting; retry with backoff. */
  | 'overloaded'
  | 'too-large'
  | 'stopped';

const RETRYABLE: ReadonlySet<NodeErrorCode> = new Set(['not-leader', 'no-leader', 'proposal-lost', 'transfer-in-progress', 'conf-change-pending', 'overloaded']);

export class NodeError extends Error {
  override name = 'NodeError';
  readonly code: NodeErrorCode;
  readonly leaderId: number;

  constructor(code: NodeErrorCode, message: string, leaderId = 0) {
    super(message);
    this.code = code;
    this.leaderId = leaderId;
  }

  /** Whether the same request may simply be retried (a timeout may have taken effect: not retryable blindly). */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export function isNodeError(error: unknown, code?: NodeErrorCode): error is NodeError {
  return error instanceof NodeError && (code === undefined || error.code === code);
}

const CODES: ReadonlySet<string> = new Set<NodeErrorCode>([
  'not-leader', 'no-leader', 'timeout', 'proposal-lost', 'transfer-in-progress', 'conf-change-pending',
  'invalid-conf-change', 'overloaded', 'too-large', 'stopped',
]);

export function isNodeErrorCode(value: unknown): value is NodeErrorCode {
  return typeof value === 'string' && CODES.has(value);
}
