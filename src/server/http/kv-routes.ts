// /v1/kv/<key> (get, put, delete, and scans with ?prefix or ?end), /v1/kv (scan), /v1/txn and
// /v1/compact. Keys in the path are percent-encoded bytes; values in bodies are UTF-8 text or
// base64 (?encoding=base64).
import type { Compare, KeyRange, TxnCommand } from '../../state/kv/commands.ts';
import type { DeleteResult, PutResult, TxnResult } from '../../state/kv/kv-state.ts';
import type { WireDeleteResponse, WireEncoding, WireGetResponse, WirePutResponse } from './api-types.ts';
import { allowFields, allowQuery, optionalBoolean, optionalInteger, queryFlag, queryInteger, readJsonObject, requiredInteger } from './body.ts';
import type { JsonObject } from './body.ts';
import { bytesFromQuery, bytesFromWire, keyValueToWire, percentDecode } from './codec.ts';
import { ApiError, badRequest, fromKvError } from './errors.ts';
import type { RunningParts } from './host.ts';
import { encodingOf, ok, orThrow, proposeKv, rangeToWire, readPoint, requireRunning } from './route-helpers.ts';
import type { JsonReply, RequestContext, Route } from './router.ts';
import { optionalKvToWire, txnFromWire, txnResultToWire } from './txn-codec.ts';

const READ_QUERY = ['consistency', 'revision', 'encoding', 'prefix', 'end', 'limit', 'continuation', 'keysOnly', 'countOnly'];
const SCAN_QUERY = [...READ_QUERY, 'start'];

export function kvRoutes(): Route[] {
  return [
    { method: 'GET', path: '/v1/kv', handler: scanAll },
    { method: 'GET', path: '/v1/kv/*', handler: getKey },
    { method: 'PUT', path: '/v1/kv/*', handler: putKey },
    { method: 'DELETE', path: '/v1/kv/*', handler: deleteKey },
    { method: 'POST', path: '/v1/txn', handler: txn },
    { method: 'POST', path: '/v1/compact', handler: compact },
  ];
}

function pathKey(context: RequestContext): Uint8Array {
  return orThrow(percentDecode(context.rest));
}

/** ?prefix (flag: the path key is the prefix) or ?end (the path key starts [key, end)); else undefined. */
function pathRange(context: RequestContext, key: Uint8Array, encoding: WireEncoding): KeyRange | undefined {
  const prefix = queryFlag(context.query, 'prefix');
  const end = context.query.get('end');
  if (prefix && end !== undefined) throw badRequest('bad-request', 'use either ?prefix or ?end, not both');
  if (prefix) return { prefix: key };
  if (end === undefined) return undefined;
  return end === '' ? { start: key } : { start: key, end: orThrow(bytesFromQuery(end, encoding, 'end')) };
}

async function getKey(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, READ_QUERY);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const key = pathKey(context);
  const range = pathRange(context, key, encoding);
  if (range !== undefined) return scan(context, parts, range, encoding);
  const revision = queryInteger(context.query, 'revision', 0);
  await readPoint(context, parts);
  const result = parts.kv.get(key, { revision: revision ?? 0 });
  if ('code' in result) throw fromKvError(result);
  if (result.kv === undefined) {
    throw new ApiError(404, 'key-not-found', `no key ${JSON.stringify(Buffer.from(key.subarray(0, 200)).toString('utf8'))} at revision ${result.revision}`, { revision: result.revision });
  }
  const body: WireGetResponse = { revision: result.revision, kv: keyValueToWire(result.kv, encoding) };
  return ok(body);
}

async function scanAll(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, SCAN_QUERY);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const { query } = context;
  const prefix = query.get('prefix');
  const start = query.get('start');
  const end = query.get('end');
  if (prefix !== undefined && (start !== undefined || end !== undefined)) throw badRequest('bad-request', 'use either ?prefix or ?start (with ?end), not both');
  let range: KeyRange;
  if (start !== undefined) {
    const startKey = orThrow(bytesFromQuery(start, encoding, 'start'));
    range = end === undefined || end === '' ? { start: startKey } : { start: startKey, end: orThrow(bytesFromQuery(end, encoding, 'end')) };
  } else {
    if (end !== undefined) throw badRequest('bad-request', '?end needs ?start');
    range = { prefix: orThrow(bytesFromQuery(prefix ?? '', encoding, 'prefix')) };
  }
  return scan(context, parts, range, encoding);
}

async function scan(context: RequestContext, parts: RunningParts, range: KeyRange, encoding: WireEncoding): Promise<JsonReply> {
  const { query } = context;
  const keysOnly = queryFlag(query, 'keysOnly');
  const countOnly = queryFlag(query, 'countOnly');
  const limit = queryInteger(query, 'limit', 1);
  const revision = queryInteger(query, 'revision', 0);
  const continuation = query.get('continuation');
  if (continuation !== undefined && continuation.length > 20_000) throw badRequest('continuation-invalid', 'the continuation token is too long');
  await readPoint(context, parts);
  const result = parts.kv.range({
    range, keysOnly, countOnly,
    ...(limit === undefined ? {} : { limit }), ...(revision === undefined ? {} : { revision }),
    ...(continuation === undefined ? {} : { continuation: decodeURIComponentSafe(continuation) }),
  });
  if ('code' in result) throw fromKvError(result);
  return ok(rangeToWire(result, encoding, keysOnly));
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badRequest('continuation-invalid', 'the continuation token is not validly percent-encoded');
  }
}

const PUT_FIELDS = ['value', 'lease', 'prevKv', 'expectValue', 'expectModRevision', 'expectVersion', 'expectAbsent'];

async function putKey(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['encoding']);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const key = pathKey(context);
  const body = await readJsonObject(context.request, context.host.settings.maxRequestBodyBytes);
  allowFields(body, PUT_FIELDS, 'put');
  if (body['value'] === undefined) throw badRequest('bad-request', 'put needs "value" (a string; base64 with ?encoding=base64)');
  const value = orThrow(bytesFromWire(body['value'], encoding, 'value'));
  const lease = optionalInteger(body, 'lease', 0);
  const prevKv = optionalBoolean(body, 'prevKv');
  const put = { type: 'put' as const, key, value, ...(lease === undefined || lease === 0 ? {} : { lease }), ...(prevKv === undefined ? {} : { prevKv }) };
  const compares = expectationCompares(key, bodyExpectations(body, encoding));
  if (compares.length === 0) {
    const result = await proposeKv(context.host, parts, put) as PutResult;
    const previous = optionalKvToWire(result.prevKv, encoding);
    const reply: WirePutResponse = previous === undefined ? { revision: result.revision } : { revision: result.revision, prevKv: previous };
    return ok(reply);
  }
  const command: TxnCommand = { type: 'txn', compare: compares, success: [{ ...put, prevKv: true }], failure: [{ type: 'range', range: { key } }] };
  const result = await proposeKv(context.host, parts, command) as TxnResult;
  if (!result.succeeded) throw compareFailed(result, encoding);
  const previous = optionalKvToWire((result.results[0] as PutResult | undefined)?.prevKv, encoding);
  return ok({ revision: result.revision, succeeded: true, ...(previous === undefined ? {} : { prevKv: previous }) } satisfies WirePutResponse);
}

interface Expectations {
  value?: Uint8Array;
  modRevision?: number;
  version?: number;
  absent?: boolean;
}

/** The compares of a conditional put (body fields) or delete (query parameters). */
function expectationCompares(key: Uint8Array, expected: Expectations): Compare[] {
  const compares: Compare[] = [];
  if (expected.value !== undefined) compares.push({ key, target: 'value', operator: '=', value: expected.value });
  if (expected.modRevision !== undefined) compares.push({ key, target: 'mod-revision', operator: '=', value: expected.modRevision });
  if (expected.version !== undefined) compares.push({ key, target: 'version', operator: '=', value: expected.version });
  if (expected.absent !== undefined) compares.push({ key, target: 'exists', operator: '=', value: !expected.absent });
  return compares;
}

function bodyExpectations(body: JsonObject, encoding: WireEncoding): Expectations {
  const expected: Expectations = {};
  if (body['expectValue'] !== undefined && body['expectValue'] !== null) expected.value = orThrow(bytesFromWire(body['expectValue'], encoding, 'expectValue'));
  const modRevision = optionalInteger(body, 'expectModRevision', 0);
  if (modRevision !== undefined) expected.modRevision = modRevision;
  const version = optionalInteger(body, 'expectVersion', 0);
  if (version !== undefined) expected.version = version;
  const absent = optionalBoolean(body, 'expectAbsent');
  if (absent !== undefined) expected.absent = absent;
  return expected;
}

function compareFailed(result: TxnResult, encoding: WireEncoding): ApiError {
  const current = result.results[0];
  const kv = current !== undefined && current.type === 'range' && current.kvs.length > 0 ? keyValueToWire(current.kvs[0]!, encoding) : null;
  return new ApiError(409, 'compare-failed', 'the key did not match the expected state; nothing was written', { revision: result.revision, kv, retryable: false });
}

async function deleteKey(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['encoding', 'prefix', 'end', 'prevKv', 'expectValue', 'expectModRevision']);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const key = pathKey(context);
  const range = pathRange(context, key, encoding) ?? { key };
  const prevKv = queryFlag(context.query, 'prevKv');
  const remove = { type: 'delete' as const, range, ...(prevKv ? { prevKv } : {}) };
  const expected: Expectations = {};
  const expectValue = context.query.get('expectValue');
  if (expectValue !== undefined) expected.value = orThrow(bytesFromQuery(expectValue, encoding, 'expectValue'));
  const expectModRevision = queryInteger(context.query, 'expectModRevision', 0);
  if (expectModRevision !== undefined) expected.modRevision = expectModRevision;
  const compares = expectationCompares(key, expected);
  if (compares.length === 0) return ok(deleteToWire(await proposeKv(context.host, parts, remove) as DeleteResult, encoding));
  if (!('key' in range)) throw badRequest('bad-request', 'conditional deletes apply to one key (no ?prefix or ?end)');
  const command: TxnCommand = { type: 'txn', compare: compares, success: [{ ...remove, prevKv: true }], failure: [{ type: 'range', range: { key } }] };
  const result = await proposeKv(context.host, parts, command) as TxnResult;
  if (!result.succeeded) throw compareFailed(result, encoding);
  return ok({ ...deleteToWire(result.results[0] as DeleteResult, encoding), revision: result.revision, succeeded: true });
}

function deleteToWire(result: DeleteResult, encoding: WireEncoding): WireDeleteResponse {
  const base = { revision: result.revision, deleted: result.deleted };
  return result.prevKvs == null ? base : { ...base, prevKvs: result.prevKvs.map((kv) => keyValueToWire(kv, encoding)) };
}

async function txn(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['encoding']);
  const parts = requireRunning(context.host);
  const encoding = encodingOf(context);
  const body = await readJsonObject(context.request, context.host.settings.maxRequestBodyBytes);
  const command = txnFromWire(body, encoding, parts.kv.limits.maxTxnOperations);
  const result = await proposeKv(context.host, parts, command) as TxnResult;
  return ok(txnResultToWire(result, command, encoding));
}

async function compact(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 4096);
  allowFields(body, ['revision'], 'compact');
  const revision = requiredInteger(body, 'revision', 1);
  if (revision > parts.kv.currentRevision()) {
    await parts.raft.readBarrier(context.host.settings.requestTimeoutMs);
    if (revision > parts.kv.currentRevision()) {
      throw fromKvError({ code: 'future-revision', message: `revision ${revision} is newer than the current revision ${parts.kv.currentRevision()}`, currentRevision: parts.kv.currentRevision() });
    }
  }
  const result = await proposeKv(context.host, parts, { type: 'compact', revision });
  if (result.type !== 'compact') throw badRequest('bad-request', 'unexpected compact result');
  return ok({ revision: result.revision, compactRevision: result.compactRevision });
}
