// Transactions between their JSON form (docs/http-api.md) and the KV's TxnCommand / TxnResult.
import type { Compare, KeyRange, TxnCommand, TxnOperation } from '../../state/kv/commands.ts';
import type { KeyValue } from '../../state/kv/records.ts';
import type { TxnOperationResult, TxnResult } from '../../state/kv/kv-state.ts';
import type { WireEncoding, WireKeyValue, WireTxnResponse, WireTxnResult } from './api-types.ts';
import { allowFields, optionalBoolean, optionalInteger } from './body.ts';
import type { JsonObject } from './body.ts';
import { bytesFromWire, keyValueToWire } from './codec.ts';
import { badRequest } from './errors.ts';
import { orThrow, rangeToWire } from './route-helpers.ts';

const TARGETS: Readonly<Record<string, Compare['target']>> = {
  value: 'value', version: 'version', createRevision: 'create-revision', modRevision: 'mod-revision', lease: 'lease', exists: 'exists',
};
const OPERATORS = new Set(['=', '!=', '<', '>']);

function asObject(value: unknown, where: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('bad-request', `${where} must be a JSON object`);
  return value as JsonObject;
}

function asList(value: unknown, where: string, max: number): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('bad-request', `${where} must be an array`);
  if (value.length > max) throw badRequest('too-many-operations', `${where} has ${value.length} items; a transaction may hold ${max} compares and operations in all`);
  return value;
}

/** One of key / prefix / start (+ end) of a JSON object, as a KeyRange. */
export function rangeFromWire(object: JsonObject, encoding: WireEncoding, where: string): KeyRange {
  const given = ['key', 'prefix', 'start'].filter((name) => object[name] !== undefined && object[name] !== null);
  if (given.length !== 1) throw badRequest('bad-request', `${where} needs exactly one of key, prefix or start (with an optional end)`);
  if (object['end'] !== undefined && given[0] !== 'start') throw badRequest('bad-request', `${where}: end goes with start`);
  const bytes = (name: string): Uint8Array => orThrow(bytesFromWire(object[name], encoding, `${where}.${name}`));
  if (given[0] === 'key') return { key: bytes('key') };
  if (given[0] === 'prefix') return { prefix: bytes('prefix') };
  return object['end'] === undefined || object['end'] === null ? { start: bytes('start') } : { start: bytes('start'), end: bytes('end') };
}

function compareFromWire(value: unknown, encoding: WireEncoding, where: string): Compare {
  const object = asObject(value, where);
  allowFields(object, ['key', 'target', 'operator', 'value'], where);
  const key = orThrow(bytesFromWire(object['key'], encoding, `${where}.key`));
  const target = TARGETS[String(object['target'])];
  if (target === undefined) throw badRequest('bad-request', `${where}.target must be one of ${Object.keys(TARGETS).join(', ')}`);
  const operator = object['operator'] ?? '=';
  if (typeof operator !== 'string' || !OPERATORS.has(operator)) throw badRequest('bad-request', `${where}.operator must be one of =, !=, <, >`);
  const op = operator as Compare['operator'];
  if (target === 'value') return { key, target, operator: op, value: orThrow(bytesFromWire(object['value'], encoding, `${where}.value`)) };
  if (target === 'exists') {
    if (typeof object['value'] !== 'boolean' || (op !== '=' && op !== '!=')) throw badRequest('bad-request', `${where}: exists compares a boolean value with = or !=`);
    return { key, target, operator: op, value: object['value'] };
  }
  const number = optionalInteger(object, 'value', 0);
  if (number === undefined) throw badRequest('bad-request', `${where}.value must be a whole number >= 0`);
  return { key, target, operator: op, value: number };
}

export function operationFromWire(value: unknown, encoding: WireEncoding, where: string): TxnOperation {
  const object = asObject(value, where);
  const type = object['type'];
  if (type === 'put') {
    allowFields(object, ['type', 'key', 'value', 'lease', 'prevKv'], where);
    const lease = optionalInteger(object, 'lease', 0);
    const prevKv = optionalBoolean(object, 'prevKv');
    return {
      type: 'put', key: orThrow(bytesFromWire(object['key'], encoding, `${where}.key`)), value: orThrow(bytesFromWire(object['value'], encoding, `${where}.value`)),
      ...(lease === undefined || lease === 0 ? {} : { lease }), ...(prevKv === undefined ? {} : { prevKv }),
    };
  }
  if (type === 'delete') {
    allowFields(object, ['type', 'key', 'prefix', 'start', 'end', 'prevKv'], where);
    const prevKv = optionalBoolean(object, 'prevKv');
    return { type: 'delete', range: rangeFromWire(object, encoding, where), ...(prevKv === undefined ? {} : { prevKv }) };
  }
  if (type === 'range' || type === 'get') {
    allowFields(object, ['type', 'key', 'prefix', 'start', 'end', 'limit', 'revision', 'keysOnly', 'countOnly'], where);
    const fields = {
      limit: optionalInteger(object, 'limit', 1), revision: optionalInteger(object, 'revision', 0),
      keysOnly: optionalBoolean(object, 'keysOnly'), countOnly: optionalBoolean(object, 'countOnly'),
    };
    const defined = Object.fromEntries(Object.entries(fields).filter(([, field]) => field !== undefined));
    return { type: 'range', range: rangeFromWire(object, encoding, where), ...defined };
  }
  throw badRequest('bad-request', `${where}.type must be put, delete or range`);
}

export function txnFromWire(body: JsonObject, encoding: WireEncoding, maxOperations: number): TxnCommand {
  allowFields(body, ['compare', 'success', 'failure'], 'txn');
  const compare = asList(body['compare'], 'compare', maxOperations).map((item, index) => compareFromWire(item, encoding, `compare[${index}]`));
  const success = asList(body['success'], 'success', maxOperations).map((item, index) => operationFromWire(item, encoding, `success[${index}]`));
  const failure = asList(body['failure'], 'failure', maxOperations).map((item, index) => operationFromWire(item, encoding, `failure[${index}]`));
  return { type: 'txn', compare, success, failure };
}

export function optionalKvToWire(kv: KeyValue | null | undefined, encoding: WireEncoding): WireKeyValue | undefined {
  return kv == null ? undefined : keyValueToWire(kv, encoding);
}

function resultToWire(result: TxnOperationResult, operation: TxnOperation | undefined, encoding: WireEncoding): WireTxnResult {
  switch (result.type) {
    case 'put': {
      const prevKv = optionalKvToWire(result.prevKv, encoding);
      return prevKv === undefined ? { type: 'put', revision: result.revision } : { type: 'put', revision: result.revision, prevKv };
    }
    case 'delete':
      return result.prevKvs == null
        ? { type: 'delete', revision: result.revision, deleted: result.deleted }
        : { type: 'delete', revision: result.revision, deleted: result.deleted, prevKvs: result.prevKvs.map((kv) => keyValueToWire(kv, encoding)) };
    case 'range':
      return { type: 'range', ...rangeToWire(result, encoding, operation?.type === 'range' && operation.keysOnly === true) };
    case 'error':
      return { type: 'error', revision: result.revision, error: { code: result.error.code, message: result.error.message } };
  }
}

export function txnResultToWire(result: TxnResult, command: TxnCommand, encoding: WireEncoding): WireTxnResponse {
  const operations = result.succeeded ? command.success : command.failure;
  return {
    succeeded: result.succeeded,
    revision: result.revision,
    results: result.results.map((item, index) => resultToWire(item, operations[index], encoding)),
  };
}
