// Errors as the HTTP API answers them: `{code, message}` JSON with a status chosen by code.
// Every operating error of the layers below (KV errors, NodeErrors) maps here; anything else
// is a bug and answers 500 'internal' (never for bad input: inputs are validated first).
import type { KvError } from '../../state/kv/errors.ts';
import { isNodeError } from '../../runtime/errors.ts';
import { CairnNodeError } from '../node/options.ts';
import type { WireError } from './api-types.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly details: Omit<WireError, 'code' | 'message'>;
  /** Extra response headers (Retry-After, Allow). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, details: Omit<WireError, 'code' | 'message'> = {}, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function badRequest(code: string, message: string): ApiError {
  return new ApiError(400, code, message);
}

/** Status for each KV error code (src/state/kv/errors.ts). */
const KV_STATUS: Readonly<Record<string, number>> = {
  'malformed-command': 400,
  'key-empty': 400,
  'key-too-large': 413,
  'value-too-large': 413,
  'reserved-key': 403,
  'range-invalid': 400,
  'limit-invalid': 400,
  'revision-invalid': 400,
  'too-many-operations': 400,
  'too-many-keys': 400,
  compacted: 410,
  'future-revision': 400,
  'continuation-invalid': 400,
  'lease-not-found': 404,
  'lease-exists': 409,
  'lease-ttl-invalid': 400,
  'lease-id-invalid': 400,
  'too-many-leases': 409,
  'not-leader': 421,
  'watch-too-slow': 503,
  'too-many-watchers': 503,
  'watch-cancelled': 503,
};

const RETRYABLE_KV: ReadonlySet<string> = new Set(['not-leader', 'too-many-watchers', 'watch-cancelled']);

export function fromKvError(error: KvError): ApiError {
  const details: Record<string, unknown> = { retryable: RETRYABLE_KV.has(error.code) };
  if (error.compactRevision !== undefined) details['compactRevision'] = error.compactRevision;
  if (error.currentRevision !== undefined) details['currentRevision'] = error.currentRevision;
  if (error.resumeRevision !== undefined) details['resumeRevision'] = error.resumeRevision;
  return new ApiError(KV_STATUS[error.code] ?? 400, error.code, error.message, details);
}

/** Status for each NodeError code (src/runtime/errors.ts). */
const NODE_STATUS: Readonly<Record<string, number>> = {
  'not-leader': 421,
  'no-leader': 503,
  timeout: 504,
  'proposal-lost': 503,
  'transfer-in-progress': 503,
  'conf-change-pending': 409,
  'invalid-conf-change': 400,
  overloaded: 429,
  'too-large': 413,
  stopped: 503,
};

/** Maps a thrown error to the answer; `leaderEndpoint` resolves a leader id to its HTTP address. */
export function toApiError(error: unknown, leaderEndpoint: (leaderId: number) => string | undefined): ApiError {
  if (error instanceof ApiError) return error;
  if (isNodeError(error)) {
    const details: Record<string, unknown> = { retryable: error.retryable };
    if (error.leaderId !== 0) {
      details['leaderId'] = error.leaderId;
      const endpoint = leaderEndpoint(error.leaderId);
      if (endpoint !== undefined) details['leaderEndpoint'] = endpoint;
    }
    const headers: Record<string, string> = error.code === 'overloaded' || error.code === 'no-leader' ? { 'retry-after': '1' } : {};
    const message = error.code === 'timeout' ? `${error.message} (a write's outcome is unknown: read before retrying)` : error.message;
    return new ApiError(NODE_STATUS[error.code] ?? 503, error.code, message, details, headers);
  }
  if (error instanceof CairnNodeError) {
    const status = error.code === 'invalid-option' ? 400 : error.code === 'already-initialized' || error.code === 'cluster-id-mismatch' ? 409 : 500;
    return new ApiError(status, error.code, error.message, { retryable: false });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(500, 'internal', `internal error: ${message}`, { retryable: false });
}

export function notInitialized(): ApiError {
  return new ApiError(503, 'not-initialized', 'this node is not part of a cluster yet: initialize it (POST /v1/cluster/init) or start it with --join', { retryable: true }, { 'retry-after': '1' });
}

export function shuttingDown(): ApiError {
  return new ApiError(503, 'stopped', 'the node is shutting down; use another node', { retryable: true });
}
