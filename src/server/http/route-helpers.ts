// What most routes share: the running node or a clear 503, proposing a KV command (validated
// first, so bad input never reaches the log), read consistency, and result conversion.
import { encodeKvCommand, validateKvCommand } from '../../state/kv/commands.ts';
import type { KvCommand } from '../../state/kv/commands.ts';
import type { KvResult } from '../../state/kv/kv-state.ts';
import type { RangeResult } from '../../state/kv/kv-reader.ts';
import type { WireEncoding, WireRangeResponse } from './api-types.ts';
import { keyValueToWire, parseEncoding } from './codec.ts';
import { ApiError, badRequest, fromKvError, notInitialized, shuttingDown } from './errors.ts';
import type { ApiHost, RunningParts } from './host.ts';
import type { RequestContext } from './router.ts';

export function requireRunning(host: ApiHost): RunningParts {
  const phase = host.phase();
  if (phase === 'stopping') throw shuttingDown();
  if (phase === 'failed') throw new ApiError(503, 'node-failed', `this node stopped after a fatal error (${host.localStatus().failure ?? 'see its log'}); use another node`, { retryable: true });
  const parts = host.running();
  if (parts === undefined) throw notInitialized();
  return parts;
}

export function encodingOf(context: RequestContext): WireEncoding {
  const encoding = parseEncoding(context.query.get('encoding'));
  if (encoding instanceof ApiError) throw encoding;
  return encoding;
}

/** Throws the ApiError when `value` is one, else returns it (for codec results). */
export function orThrow<T>(value: T | ApiError): T {
  if (value instanceof ApiError) throw value;
  return value;
}

/** Proposes a client KV command and returns its result, or throws its error. */
export async function proposeKv(host: ApiHost, parts: RunningParts, command: KvCommand): Promise<KvResult> {
  const problem = validateKvCommand(command, parts.kv.limits, false);
  if (problem !== undefined) throw fromKvError(problem);
  let result: KvResult | null;
  try {
    result = await parts.raft.propose(encodeKvCommand(command), host.settings.requestTimeoutMs) as KvResult | null;
  } catch (error) {
    host.observeProposal(false);
    throw error;
  }
  host.observeProposal(true);
  if (result === null || typeof result !== 'object') throw new ApiError(500, 'internal', 'the command produced no result');
  if (result.type === 'error') throw fromKvError(result.error);
  return result;
}

/** Waits for a linearizable read point unless ?consistency=serializable. */
export async function readPoint(context: RequestContext, parts: RunningParts): Promise<void> {
  const consistency = context.query.get('consistency');
  if (consistency === 'serializable') return;
  if (consistency !== undefined && consistency !== 'linearizable') {
    throw badRequest('bad-request', 'consistency must be "linearizable" (default) or "serializable"');
  }
  await parts.raft.readBarrier(context.host.settings.requestTimeoutMs);
}

export function rangeToWire(result: RangeResult, encoding: WireEncoding, keysOnly: boolean): WireRangeResponse {
  const base = { revision: result.revision, kvs: result.kvs.map((kv) => keyValueToWire(kv, encoding, keysOnly)), more: result.more };
  return {
    ...base,
    // == null: results forwarded from the leader carry absent fields as null (msgpack).
    ...(result.continuation == null ? {} : { continuation: result.continuation }),
    ...(result.count == null ? {} : { count: result.count }),
  };
}

export function ok(body: unknown, status = 200): { status: number; body: unknown } {
  return { status, body };
}
