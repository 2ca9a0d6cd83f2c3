// The TypeScript client of Cairn's HTTP API, used by the CLI, the benchmarks and the chaos suite.
//
// - Endpoints: a list of host:port (or a ticket). Requests go to the current endpoint; after a
//   connection failure or an "unavailable" answer the client rotates to the next one, and a 421
//   sends it straight to the leader the server named.
// - Retries: with exponential backoff and full jitter, bounded by maxAttempts and by timeoutMs
//   (the deadline of the whole call). Reads are retried on any transient failure. Writes are
//   retried only when they certainly did not take effect (connection refused, or the server
//   says `retryable`); a write whose outcome is unknown (timeout, connection lost after sending)
//   fails with `outcome: 'unknown'` unless retryUnknownWrites is set.
// - One keep-alive HTTP agent per client, so a benchmark reuses connections.
import { Agent } from 'node:http';
import type {
  WireClusterStatus, WireDeleteResponse, WireGetResponse, WireHealth, WireInitResponse, WireLease, WireLeaseGrantResponse,
  WireLeaseKeepAliveResponse, WireLeaseList, WireLeaseRevokeResponse, WireMemberChange, WireMembershipResponse, WirePutResponse,
  WireRangeResponse, WireReady, WireTxnResponse, WireTxnResult,
} from '../server/http/api-types.ts';
import { CairnClientError } from './errors.ts';
import type { ClientOutcome } from './errors.ts';
import { AttemptFailure, attempt } from './http-attempt.ts';
import type { AttemptAnswer } from './http-attempt.ts';
import { decodeTicket } from './ticket.ts';
import { compareToWire, fromWireKeyValue, keyPath, keyQuery, operationToWire, toWireBytes } from './types.ts';
import type { BytesLike, CasResult, Consistency, KeyValue, ScanOptions, ScanResult, Txn, TxnOperationResult, TxnResult } from './types.ts';
import { CairnWatch } from './watch.ts';
import type { WatchOptions } from './watch.ts';

export interface CairnClientOptions {
  /** host:port of one or more nodes' HTTP API. */
  readonly endpoints?: readonly string[];
  /** A cluster ticket (cairn1....): its endpoints are added to `endpoints`. */
  readonly ticket?: string;
  /** Deadline of one call, retries included. Default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts per call at most. Default 8. */
  readonly maxAttempts?: number;
  /** Backoff: first ceiling and cap (full jitter below it). Defaults 25 ms and 1 s. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Retry writes whose outcome is unknown (only for idempotent workloads). Default false. */
  readonly retryUnknownWrites?: boolean;
  /** Sockets per endpoint at most. Default 256. */
  readonly maxSockets?: number;
  /** A watch gives up after failing to reconnect for this long. Default 30 s. */
  readonly watchReconnectTimeoutMs?: number;
  readonly random?: () => number;
}

interface CallOptions {
  readonly body?: unknown;
  /** Safe to repeat (reads, keep-alives): retried on any transient failure. */
  readonly idempotent: boolean;
  /** Only this endpoint (health, ready, metrics, init of one node): no rotation. */
  readonly endpoint?: string;
  /** Statuses that are answers, not errors (e.g. 404 for a missing key). */
  readonly accept?: readonly number[];
  readonly timeoutMs?: number;
}

const ENDPOINT_PATTERN = /^(?:\[[^\]]+\]|[^:[\]/]+):\d{1,5}$/;

export class CairnClient {
  readonly endpoints: readonly string[];
  readonly clusterId: string | undefined;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #retryUnknownWrites: boolean;
  readonly #watchReconnectTimeoutMs: number;
  readonly #random: () => number;
  #current = 0;
  /** A leader named by a 421 answer that is not among `endpoints`. */
  #leaderHint: string | undefined;

  constructor(options: CairnClientOptions) {
    const ticket = options.ticket === undefined ? undefined : decodeTicket(options.ticket);
    const endpoints = [...new Set([...(options.endpoints ?? []), ...(ticket?.endpoints ?? [])])];
    if (endpoints.length === 0) throw new TypeError('CairnClient needs at least one endpoint (host:port) or a ticket');
    for (const endpoint of endpoints) if (!ENDPOINT_PATTERN.test(endpoint)) throw new TypeError(`endpoint ${JSON.stringify(endpoint)} is not host:port`);
    this.endpoints = endpoints;
    this.clusterId = ticket?.clusterId;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxAttempts = options.maxAttempts ?? 8;
    this.#retryBaseMs = options.retryBaseMs ?? 25;
    this.#retryMaxMs = options.retryMaxMs ?? 1000;
    this.#retryUnknownWrites = options.retryUnknownWrites ?? false;
    this.#watchReconnectTimeoutMs = options.watchReconnectTimeoutMs ?? 30_000;
    this.#random = options.random ?? Math.random;
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256, timeout: 30_000 });
  }

  /** Closes pooled connections. Calls after close fail. */
  close(): void {
    this.#agent.destroy();
  }

  // ---- plumbing ----

  #endpoint(): string {
    return this.#leaderHint ?? this.endpoints[this.#current % this.endpoints.length]!;
  }

  #rotate(failed: string): void {
    if (this.#leaderHint === failed) this.#leaderHint = undefined;
    else if (this.endpoints[this.#current % this.endpoints.length] === failed) this.#current = (this.#current + 1) % this.endpoints.length;
  }

  #backoffMs(attemptNumber: number): number {
    return this.#random() * Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** attemptNumber);
  }

  async #call<T>(method: string, path: string, options: CallOptions): Promise<{ status: number; body: T }> {
    const deadline = performance.now() + (options.timeoutMs ?? this.#timeoutMs);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    let last: CairnClientError | undefined;
    let outcome: ClientOutcome = 'failed';
    for (let attemptNumber = 0; attemptNumber < this.#maxAttempts; attemptNumber++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      const endpoint = options.endpoint ?? this.#endpoint();
      let answer: AttemptAnswer;
      try {
        answer = await attempt({ agent: this.#agent, endpoint, method, path, body: payload, timeoutMs: remaining });
      } catch (error) {
        const failure = error as AttemptFailure;
        const unknown = failure.kind !== 'connect' && !options.idempotent;
        if (unknown) outcome = 'unknown';
        last = new CairnClientError(failure.kind === 'timeout' ? 'timeout' : 'unavailable', failure.message, { endpoint, outcome });
        if (unknown && !this.#retryUnknownWrites) throw last;
        if (options.endpoint === undefined) this.#rotate(endpoint);
        await this.#pause(attemptNumber, deadline);
        continue;
      }
      if ((answer.status >= 200 && answer.status < 300) || options.accept?.includes(answer.status)) return { status: answer.status, body: answer.body as T };
      const decision = this.#judge(answer, endpoint, options, outcome);
      last = decision.error;
      if (decision.error.outcome === 'unknown') outcome = 'unknown';
      if (!decision.retry) throw decision.error;
      if (decision.leader !== undefined && options.endpoint === undefined) this.#leaderHint = decision.leader;
      else if (options.endpoint === undefined) this.#rotate(endpoint);
      if (decision.leader === undefined) await this.#pause(attemptNumber, deadline);
    }
    throw last === undefined
      ? new CairnClientError('timeout', `no attempt completed within ${options.timeoutMs ?? this.#timeoutMs} ms`, { outcome })
      : new CairnClientError(last.code, `${last.message} (gave up after retries)`, { status: last.status, endpoint: last.endpoint, outcome, details: last.details });
  }

  async #pause(attemptNumber: number, deadline: number): Promise<void> {
    const delay = Math.min(this.#backoffMs(attemptNumber), Math.max(0, deadline - performance.now()));
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  }

  /** What an error answer means: retry (where), or fail with which outcome. */
  #judge(answer: AttemptAnswer, endpoint: string, options: CallOptions, outcomeSoFar: ClientOutcome): { error: CairnClientError; retry: boolean; leader?: string } {
    const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as Record<string, unknown>;
    const code = typeof body['code'] === 'string' ? body['code'] : `http-${answer.status}`;
    const message = typeof body['message'] === 'string' ? body['message'] : `HTTP ${answer.status} from ${endpoint}`;
    // A timeout, a stop while in flight or an internal error may have applied a write.
    const unknown = !options.idempotent && (code === 'timeout' || answer.status === 500 || (code === 'stopped' && body['retryable'] !== true));
    const error = new CairnClientError(code, message, { status: answer.status, endpoint, outcome: unknown ? 'unknown' : outcomeSoFar, details: body });
    const leader = typeof body['leaderEndpoint'] === 'string' && ENDPOINT_PATTERN.test(body['leaderEndpoint']) ? body['leaderEndpoint'] : undefined;
    if (answer.status === 421) return { error, retry: true, ...(leader === undefined || leader === endpoint ? {} : { leader }) };
    if (body['retryable'] === true) return { error, retry: true };
    const transient = answer.status >= 500 || answer.status === 429 || answer.status === 408;
    if (options.idempotent && transient) return { error, retry: true };
    if (unknown && this.#retryUnknownWrites) return { error, retry: true };
    return { error, retry: false };
  }

  // ---- KV ----

  /** The key's current state (or at `revision`), undefined when absent. */
  async get(key: BytesLike, options: { consistency?: Consistency; revision?: number } = {}): Promise<KeyValue | undefined> {
    const query = ['encoding=base64', ...(options.consistency === undefined ? [] : [`consistency=${options.consistency}`]), ...(options.revision === undefined ? [] : [`revision=${options.revision}`])];
    const answer = await this.#call<WireGetResponse>('GET', `/v1/kv/${keyPath(key)}?${query.join('&')}`, { idempotent: true, accept: [404] });
    if (answer.status === 404) {
      if ((answer.body as unknown as { code?: string }).code === 'key-not-found') return undefined;
      throw new CairnClientError('not-found', 'the server has no such route (is this a Cairn node?)', { status: 404 });
    }
    return fromWireKeyValue(answer.body.kv);
  }

  async put(key: BytesLike, value: BytesLike, options: { lease?: number; prevKv?: boolean } = {}): Promise<{ revision: number; prevKv?: KeyValue }> {
    const body = { value: toWireBytes(value), ...(options.lease === undefined ? {} : { lease: options.lease }), ...(options.prevKv === true ? { prevKv: true } : {}) };
    const answer = await this.#call<WirePutResponse>('PUT', `/v1/kv/${keyPath(key)}?encoding=base64`, { body, idempotent: false });
    return { revision: answer.body.revision, ...(answer.body.prevKv === undefined ? {} : { prevKv: fromWireKeyValue(answer.body.prevKv) }) };
  }

  /** Deletes a key, every key with a prefix (`prefix: true`), or [key, end). */
  async delete(key: BytesLike, options: { prefix?: boolean; end?: BytesLike; prevKv?: boolean } = {}): Promise<{ revision: number; deleted: number; prevKvs?: KeyValue[] }> {
    const query = ['encoding=base64', ...(options.prefix === true ? ['prefix=true'] : []), ...(options.end === undefined ? [] : [`end=${keyQuery(options.end)}`]), ...(options.prevKv === true ? ['prevKv=true'] : [])];
    const answer = await this.#call<WireDeleteResponse>('DELETE', `/v1/kv/${keyPath(key)}?${query.join('&')}`, { idempotent: false });
    return { revision: answer.body.revision, deleted: answer.body.deleted, ...(answer.body.prevKvs === undefined ? {} : { prevKvs: answer.body.prevKvs.map(fromWireKeyValue) }) };
  }

  /** One page of a prefix or range scan (all keys when neither is given). */
  async scan(options: ScanOptions = {}): Promise<ScanResult> {
    const query = ['encoding=base64'];
    if (options.key !== undefined) throw new TypeError('scan takes prefix or start/end; use get() for one key');
    if (options.prefix !== undefined) query.push(`prefix=${keyQuery(options.prefix)}`);
    if (options.start !== undefined) query.push(`start=${keyQuery(options.start)}`);
    if (options.end !== undefined) query.push(`end=${keyQuery(options.end)}`);
    if (options.limit !== undefined) query.push(`limit=${options.limit}`);
    if (options.continuation !== undefined) query.push(`continuation=${encodeURIComponent(options.continuation)}`);
    if (options.keysOnly === true) query.push('keysOnly=true');
    if (options.countOnly === true) query.push('countOnly=true');
    if (options.revision !== undefined) query.push(`revision=${options.revision}`);
    if (options.consistency !== undefined) query.push(`consistency=${options.consistency}`);
    const answer = await this.#call<WireRangeResponse>('GET', `/v1/kv?${query.join('&')}`, { idempotent: true });
    return rangeFromWire(answer.body);
  }

  /** Every key of the scan, page by page (all pages read at the first page's revision). */
  async *scanAll(options: Omit<ScanOptions, 'continuation' | 'countOnly'> = {}): AsyncGenerator<KeyValue> {
    let continuation: string | undefined;
    do {
      const page = await this.scan({ ...options, ...(continuation === undefined ? {} : { continuation }) });
      yield* page.kvs;
      continuation = page.more ? page.continuation : undefined;
    } while (continuation !== undefined);
  }

  async txn(txn: Txn): Promise<TxnResult> {
    const body = {
      compare: (txn.compare ?? []).map(compareToWire), success: (txn.success ?? []).map(operationToWire), failure: (txn.failure ?? []).map(operationToWire),
    };
    const answer = await this.#call<WireTxnResponse>('POST', '/v1/txn?encoding=base64', { body, idempotent: false });
    return { succeeded: answer.body.succeeded, revision: answer.body.revision, results: answer.body.results.map(txnResultFromWire) };
  }

  /** Puts `value` if the key's value is `expected` (undefined: only if the key is absent). */
  cas(key: BytesLike, expected: BytesLike | undefined, value: BytesLike, options: { lease?: number } = {}): Promise<CasResult> {
    const condition = expected === undefined ? { expectAbsent: true } : { expectValue: toWireBytes(expected) };
    return this.#conditionalPut(key, value, condition, options.lease);
  }

  /** Puts `value` if the key's mod revision is `modRevision` (0: only if absent). */
  casRevision(key: BytesLike, modRevision: number, value: BytesLike, options: { lease?: number } = {}): Promise<CasResult> {
    return this.#conditionalPut(key, value, { expectModRevision: modRevision }, options.lease);
  }

  async #conditionalPut(key: BytesLike, value: BytesLike, condition: Record<string, unknown>, lease: number | undefined): Promise<CasResult> {
    const body = { value: toWireBytes(value), ...condition, ...(lease === undefined ? {} : { lease }) };
    const answer = await this.#call<WirePutResponse & { code?: string; kv?: unknown }>('PUT', `/v1/kv/${keyPath(key)}?encoding=base64`, { body, idempotent: false, accept: [409] });
    return casResult(answer);
  }

  /** Deletes the key if its value is `expected`. */
  async compareAndDelete(key: BytesLike, expected: BytesLike): Promise<CasResult> {
    const answer = await this.#call<WireDeleteResponse & { code?: string; kv?: unknown }>('DELETE', `/v1/kv/${keyPath(key)}?encoding=base64&expectValue=${keyQuery(expected)}&prevKv=true`, { idempotent: false, accept: [409] });
    if (answer.status === 409) return casResult(answer);
    const previous = answer.body.prevKvs?.[0];
    return { succeeded: true, revision: answer.body.revision, ...(previous === undefined ? {} : { prevKv: fromWireKeyValue(previous) }) };
  }

  async compact(revision: number): Promise<{ revision: number; compactRevision: number }> {
    return (await this.#call<{ revision: number; compactRevision: number }>('POST', '/v1/compact', { body: { revision }, idempotent: true })).body;
  }

  /** Changes as an async iterator; see CairnWatch (resumes across reconnects, `ready`, `close()`). */
  watch(options: WatchOptions): CairnWatch {
    const given = ['key', 'prefix', 'start'].filter((name) => options[name as 'key' | 'prefix' | 'start'] !== undefined);
    if (given.length !== 1) throw new TypeError('watch needs exactly one of key, prefix or start');
    return new CairnWatch({
      agent: this.#agent, connectTimeoutMs: this.#timeoutMs, reconnectTimeoutMs: this.#watchReconnectTimeoutMs,
      endpoint: () => this.endpoints[this.#current % this.endpoints.length]!,
      rotate: (failed) => this.#rotate(failed),
      backoffMs: (attemptNumber) => this.#backoffMs(attemptNumber),
    }, options);
  }

  // ---- leases ----

  async grantLease(ttlSeconds: number, options: { id?: number } = {}): Promise<WireLeaseGrantResponse> {
    return (await this.#call<WireLeaseGrantResponse>('POST', '/v1/leases', { body: { ttlSeconds, ...options }, idempotent: false })).body;
  }

  async keepAliveLease(id: number): Promise<WireLeaseKeepAliveResponse> {
    return (await this.#call<WireLeaseKeepAliveResponse>('POST', `/v1/leases/${id}/keep-alive`, { idempotent: true })).body;
  }

  async revokeLease(id: number): Promise<WireLeaseRevokeResponse> {
    return (await this.#call<WireLeaseRevokeResponse>('DELETE', `/v1/leases/${id}`, { idempotent: false })).body;
  }

  /** The lease's TTL and remaining time (undefined when it does not exist). */
  async lease(id: number, options: { keys?: boolean } = {}): Promise<(WireLease & { keyBytes?: Buffer[] }) | undefined> {
    const answer = await this.#call<WireLease & { code?: string }>('GET', `/v1/leases/${id}?encoding=base64${options.keys === true ? '&keys=true' : ''}`, { idempotent: true, accept: [404] });
    if (answer.status === 404) return undefined;
    const { keys, ...lease } = answer.body;
    return keys === undefined ? lease : { ...lease, keyBytes: keys.map((key) => Buffer.from(key, 'base64')) };
  }

  async leases(): Promise<WireLeaseList['leases']> {
    return (await this.#call<WireLeaseList>('GET', '/v1/leases', { idempotent: true })).body.leases;
  }

  // ---- cluster ----

  /** The cluster as the answering node sees it; scope 'cluster' (default) asks every member too. */
  async status(options: { scope?: 'cluster' | 'local'; endpoint?: string } = {}): Promise<WireClusterStatus> {
    const path = `/v1/cluster${options.scope === 'local' ? '?scope=local' : ''}`;
    return (await this.#call<WireClusterStatus>('GET', path, { idempotent: true, ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }) })).body;
  }

  /** Creates a cluster on one empty node (`endpoint`, default the first endpoint). */
  async init(options: { endpoint?: string; clusterId?: string } = {}): Promise<WireInitResponse> {
    const body = options.clusterId === undefined ? {} : { clusterId: options.clusterId };
    return (await this.#call<WireInitResponse>('POST', '/v1/cluster/init', { body, idempotent: false, endpoint: options.endpoint ?? this.endpoints[0]! })).body;
  }

  async addLearner(member: { nodeId: number; peer: string; client: string; kafka?: string; name?: string; autoPromote?: boolean }): Promise<WireMembershipResponse> {
    return (await this.#call<WireMembershipResponse>('POST', '/v1/cluster/learners', { body: member, idempotent: false })).body;
  }

  async promote(nodeId: number): Promise<WireMembershipResponse> {
    return (await this.#call<WireMembershipResponse>('POST', `/v1/cluster/members/${nodeId}/promote`, { idempotent: false })).body;
  }

  /** Several changes at once (a joint configuration); [] leaves a joint configuration. */
  async changeMembership(changes: readonly WireMemberChange[], options: { transition?: 'auto' | 'explicit' } = {}): Promise<WireMembershipResponse> {
    return (await this.#call<WireMembershipResponse>('POST', '/v1/cluster/membership', { body: { changes, ...options }, idempotent: false })).body;
  }

  async removeMember(nodeId: number): Promise<WireMembershipResponse> {
    return (await this.#call<WireMembershipResponse>('DELETE', `/v1/cluster/members/${nodeId}`, { idempotent: false })).body;
  }

  /** Moves leadership to `nodeId` (omitted: the most caught-up other voter). */
  async transferLeader(nodeId?: number): Promise<{ leaderId: number }> {
    return (await this.#call<{ leaderId: number }>('POST', '/v1/cluster/transfer-leader', { body: nodeId === undefined ? {} : { nodeId }, idempotent: true })).body;
  }

  // ---- one node ----

  async health(endpoint: string = this.endpoints[0]!): Promise<WireHealth> {
    return (await this.#call<WireHealth>('GET', '/v1/health', { idempotent: true, endpoint, accept: [503] })).body;
  }

  /** Whether the node is ready (never throws for "not ready": see `ready` and `reason`). */
  async ready(endpoint: string = this.endpoints[0]!): Promise<WireReady> {
    return (await this.#call<WireReady>('GET', '/v1/ready', { idempotent: true, endpoint, accept: [503], timeoutMs: this.#timeoutMs })).body;
  }

  async metrics(endpoint: string = this.endpoints[0]!): Promise<string> {
    return (await this.#call<string>('GET', '/metrics', { idempotent: true, endpoint })).body;
  }
}

function rangeFromWire(body: WireRangeResponse): ScanResult {
  return {
    revision: body.revision, kvs: body.kvs.map(fromWireKeyValue), more: body.more,
    ...(body.continuation === undefined ? {} : { continuation: body.continuation }), ...(body.count === undefined ? {} : { count: body.count }),
  };
}

function txnResultFromWire(result: WireTxnResult): TxnOperationResult {
  switch (result.type) {
    case 'put':
      return { type: 'put', revision: result.revision, ...(result.prevKv === undefined ? {} : { prevKv: fromWireKeyValue(result.prevKv) }) };
    case 'delete':
      return { type: 'delete', revision: result.revision, deleted: result.deleted, ...(result.prevKvs === undefined ? {} : { prevKvs: result.prevKvs.map(fromWireKeyValue) }) };
    case 'range':
      return { type: 'range', ...rangeFromWire(result) };
    case 'error':
      return result;
  }
}

function casResult(answer: { status: number; body: { revision: number; prevKv?: unknown; kv?: unknown } }): CasResult {
  const body = answer.body as { code?: string; message?: string; revision: number; prevKv?: Parameters<typeof fromWireKeyValue>[0]; kv?: Parameters<typeof fromWireKeyValue>[0] | null };
  if (answer.status === 409 && body.code !== 'compare-failed') throw new CairnClientError(body.code ?? 'http-409', body.message ?? 'conflict', { status: 409 });
  if (answer.status === 409) return { succeeded: false, revision: body.revision, ...(body.kv == null ? {} : { kv: fromWireKeyValue(body.kv) }) };
  return { succeeded: true, revision: body.revision, ...(body.prevKv === undefined ? {} : { prevKv: fromWireKeyValue(body.prevKv) }) };
}
