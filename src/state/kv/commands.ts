// KV commands: what a client's write becomes in the Raft log. Encoded as one module tag byte
// (replicated-state.ts routes on it), one flags byte (bit 0: system, allowed to write the
// reserved `_cairn/` keys) and the command as msgpack. Decoding re-checks every field, so bytes
// that are not a valid command become a 'malformed-command' result on every replica alike.
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { kvError } from './errors.ts';
import type { KvError } from './errors.ts';
import { concatBytes, prefixEnd, startsWith, utf8 } from './encoding.ts';

export const KV_MODULE_TAG = 0x01;
const FLAG_SYSTEM = 0x01;

/** Keys under this prefix belong to the system (cluster metadata, counters); clients get 'reserved-key'. */
export const RESERVED_PREFIX: Uint8Array = utf8('_cairn/');
export const RESERVED_END: Uint8Array = prefixEnd(RESERVED_PREFIX)!;

export type Bytes = Uint8Array;

/** One key, every key with a prefix, or [start, end) (end omitted: to the last key). */
export type KeyRange = { readonly key: Bytes } | { readonly prefix: Bytes } | { readonly start: Bytes; readonly end?: Bytes };

export interface PutOperation {
  readonly type: 'put';
  readonly key: Bytes;
  readonly value: Bytes;
  /** Attach the key to this lease (0 or omitted: none; a put without lease detaches it). */
  readonly lease?: number;
  readonly prevKv?: boolean;
}

export interface DeleteOperation {
  readonly type: 'delete';
  readonly range: KeyRange;
  readonly prevKv?: boolean;
}

export interface RangeOperation {
  readonly type: 'range';
  readonly range: KeyRange;
  /** Read at this past revision (0 or omitted: the current one). */
  readonly revision?: number;
  readonly limit?: number;
  /** From a previous result's `continuation`: the next page, at the same revision. */
  readonly continuation?: string;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
}

export type CompareOperator = '=' | '!=' | '<' | '>';

export type Compare =
  | { readonly key: Bytes; readonly target: 'value'; readonly operator: CompareOperator; readonly value: Bytes }
  | {
      readonly key: Bytes;
      readonly target: 'version' | 'create-revision' | 'mod-revision' | 'lease';
      readonly operator: CompareOperator;
      readonly value: number;
    }
  | { readonly key: Bytes; readonly target: 'exists'; readonly operator: '=' | '!='; readonly value: boolean };

export type TxnOperation = PutOperation | DeleteOperation | RangeOperation;

export interface TxnCommand {
  readonly type: 'txn';
  /** All must hold for `success` to run; otherwise `failure` runs. */
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOperation[];
  readonly failure: readonly TxnOperation[];
}

export interface CompactCommand {
  readonly type: 'compact';
  /** History below this revision is dropped; reads and watches at or above it stay exact. */
  readonly revision: number;
}

export interface LeaseGrantCommand {
  readonly type: 'lease-grant';
  /** Omitted: derived from the entry's log index (deterministic on every replica). */
  readonly id?: number;
  readonly ttlSeconds: number;
}

export interface LeaseRevokeCommand {
  readonly type: 'lease-revoke';
  readonly id: number;
}

export interface LeaseCheckpointCommand {
  readonly type: 'lease-checkpoint';
  /** The leader's remaining TTLs, so a new leader does not give leases their full TTL again. */
  readonly checkpoints: readonly { readonly id: number; readonly remainingSeconds: number }[];
}

export type KvCommand =
  | PutOperation
  | DeleteOperation
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseCheckpointCommand;

export interface KvLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxTxnOperations: number;
  /** A delete of a range (or a txn delete) may remove at most this many keys. */
  readonly maxDeleteKeys: number;
  readonly maxRangeLimit: number;
  /** A range result stops (with `more` and a continuation) before its keys and values pass this. */
  readonly maxRangeBytes: number;
  readonly maxLeases: number;
  readonly maxLeaseTtlSeconds: number;
  readonly maxCheckpoints: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = {
  maxKeyBytes: 4096,
  maxValueBytes: 1024 * 1024,
  maxTxnOperations: 128,
  maxDeleteKeys: 10_000,
  maxRangeLimit: 10_000,
  maxRangeBytes: 8 * 1024 * 1024,
  maxLeases: 100_000,
  maxLeaseTtlSeconds: 365 * 24 * 3600,
  maxCheckpoints: 1000,
};

/** The largest lease id and revision: safe integers, so JSON clients see them exactly. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encodeKvCommand(command: KvCommand, options: { system?: boolean } = {}): Uint8Array {
  // Packed after two reserved bytes for the tag and flags: no second copy of the command. A plain
  // Uint8Array view, not msgpackr's Buffer: its binaries then decode as Uint8Array, whose slice()
  // copies (Buffer's shares memory, and prefixEnd() would write into the entry).
  const packed = packr.pack(command, RESERVE_START_SPACE | 2);
  const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
  bytes[0] = KV_MODULE_TAG;
  bytes[1] = options.system === true ? FLAG_SYSTEM : 0;
  return bytes;
}

export interface DecodedKvCommand {
  readonly command: KvCommand;
  readonly system: boolean;
}

/** The command in `data` (tag byte included), or 'malformed-command'. */
export function decodeKvCommand(data: Uint8Array): DecodedKvCommand | KvError {
  if (data.length < 2 || data[0] !== KV_MODULE_TAG) return malformed('the entry is not a KV command');
  let decoded: unknown;
  try {
    decoded = packr.unpack(data.subarray(2));
  } catch (error) {
    return malformed(`the command bytes are not valid msgpack (${(error as Error).message})`);
  }
  const problem = checkCommandShape(decoded);
  if (problem !== undefined) return malformed(problem);
  return { command: decoded as KvCommand, system: (data[1]! & FLAG_SYSTEM) !== 0 };
}

function malformed(why: string): KvError {
  return kvError('malformed-command', `malformed KV command: ${why}`);
}

/** [start, end) of a range; end undefined = to the last key. */
export function rangeBounds(range: KeyRange): { start: Bytes; end: Bytes | undefined; single: boolean } {
  if ('key' in range) return { start: range.key, end: concatBytes(range.key, new Uint8Array(1)), single: true };
  if ('prefix' in range) return { start: range.prefix, end: prefixEnd(range.prefix), single: false };
  return { start: range.start, end: range.end, single: false };
}

export function isReservedKey(key: Bytes): boolean {
  return startsWith(key, RESERVED_PREFIX);
}

/** Checks sizes and the reserved prefix; the state-dependent checks happen in apply. */
export function validateKvCommand(command: KvCommand, limits: KvLimits, system: boolean): KvError | undefined {
  switch (command.type) {
    case 'put':
    case 'delete':
      return validateOperation(command, limits, system);
    case 'txn':
      return validateTxn(command, limits, system);
    case 'compact':
      return validateRevision(command.revision, 'compact revision', false);
    case 'lease-grant':
      if (command.id !== undefined && !validId(command.id)) return leaseIdInvalid(command.id);
      return validateTtl(command.ttlSeconds, limits);
    case 'lease-revoke':
      return validId(command.id) ? undefined : leaseIdInvalid(command.id);
    case 'lease-checkpoint':
      if (command.checkpoints.length > limits.maxCheckpoints) {
        return kvError('too-many-operations', `a checkpoint carries ${command.checkpoints.length} leases; the limit is ${limits.maxCheckpoints}`);
      }
      for (const checkpoint of command.checkpoints) {
        if (!validId(checkpoint.id)) return leaseIdInvalid(checkpoint.id);
        if (!Number.isInteger(checkpoint.remainingSeconds) || checkpoint.remainingSeconds < 0) {
          return kvError('lease-ttl-invalid', `remaining TTL ${checkpoint.remainingSeconds} must be a whole number of seconds >= 0`);
        }
      }
      return undefined;
  }
}

function validateTxn(command: TxnCommand, limits: KvLimits, system: boolean): KvError | undefined {
  const count = command.compare.length + command.success.length + command.failure.length;
  if (count > limits.maxTxnOperations) {
    return kvError('too-many-operations', `the transaction has ${count} compares and operations; the limit is ${limits.maxTxnOperations}`);
  }
  for (const compare of command.compare) {
    const problem = validateKey(compare.key, limits, system);
    if (problem !== undefined) return problem;
    if (compare.target === 'value' && compare.value.length > limits.maxValueBytes) return valueTooLarge(compare.value.length, limits);
  }
  for (const operation of [...command.success, ...command.failure]) {
    const problem = validateOperation(operation, limits, system);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

export function validateOperation(operation: TxnOperation, limits: KvLimits, system: boolean): KvError | undefined {
  if (operation.type === 'put') {
    const problem = validateKey(operation.key, limits, system);
    if (problem !== undefined) return problem;
    if (operation.value.length > limits.maxValueBytes) return valueTooLarge(operation.value.length, limits);
    if (operation.lease !== undefined && operation.lease !== 0 && !validId(operation.lease)) return leaseIdInvalid(operation.lease);
    return undefined;
  }
  const problem = validateRange(operation.range, limits, system);
  if (problem !== undefined || operation.type === 'delete') return problem;
  if (operation.revision !== undefined && operation.revision !== 0) {
    const revisionProblem = validateRevision(operation.revision, 'read revision', false);
    if (revisionProblem !== undefined) return revisionProblem;
  }
  return validateLimit(operation.limit, limits);
}

export function validateLimit(limit: number | undefined, limits: KvLimits): KvError | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.maxRangeLimit) {
    return kvError('limit-invalid', `limit ${limit} must be a whole number from 1 to ${limits.maxRangeLimit}; page with the continuation token for more`);
  }
  return undefined;
}

export function validateRange(range: KeyRange, limits: KvLimits, system: boolean): KvError | undefined {
  if ('key' in range) return validateKey(range.key, limits, system);
  if ('prefix' in range) {
    if (range.prefix.length > limits.maxKeyBytes) return keyTooLarge(range.prefix.length, limits);
    if (!system && isReservedKey(range.prefix)) return reservedKey(range.prefix);
    return undefined;
  }
  for (const bound of [range.start, range.end]) {
    if (bound !== undefined && bound.length > limits.maxKeyBytes + 1) return keyTooLarge(bound.length, limits);
  }
  if (range.end !== undefined && Buffer.compare(range.start, range.end) >= 0) {
    return kvError('range-invalid', 'the range start must be below its end (end is exclusive; omit it to read to the last key)');
  }
  if (!system && startsWith(range.start, RESERVED_PREFIX) && range.end !== undefined && Buffer.compare(range.end, RESERVED_END) <= 0) {
    return reservedKey(range.start);
  }
  return undefined;
}

export function validateKey(key: Bytes, limits: KvLimits, system: boolean): KvError | undefined {
  if (key.length === 0) return kvError('key-empty', 'the key is empty; give at least one byte');
  if (key.length > limits.maxKeyBytes) return keyTooLarge(key.length, limits);
  if (!system && isReservedKey(key)) return reservedKey(key);
  return undefined;
}

export function validateRevision(revision: number, what: string, allowZero: boolean): KvError | undefined {
  if (!Number.isSafeInteger(revision) || revision < (allowZero ? 0 : 1)) {
    return kvError('revision-invalid', `${what} ${revision} must be a whole number >= ${allowZero ? 0 : 1}`);
  }
  return undefined;
}

function validateTtl(ttlSeconds: number, limits: KvLimits): KvError | undefined {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > limits.maxLeaseTtlSeconds) {
    return kvError('lease-ttl-invalid', `lease TTL ${ttlSeconds} must be a whole number of seconds from 1 to ${limits.maxLeaseTtlSeconds}`);
  }
  return undefined;
}

function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1 && id <= MAX_ID;
}

function leaseIdInvalid(id: number): KvError {
  return kvError('lease-id-invalid', `lease id ${id} must be a whole number from 1 to ${MAX_ID}`);
}

function keyTooLarge(length: number, limits: KvLimits): KvError {
  return kvError('key-too-large', `the key is ${length} bytes; the limit is ${limits.maxKeyBytes}`);
}

function valueTooLarge(length: number, limits: KvLimits): KvError {
  return kvError('value-too-large', `the value is ${length} bytes; the limit is ${limits.maxValueBytes} (set --max-value-bytes)`);
}

function reservedKey(key: Bytes): KvError {
  const shown = Buffer.from(key.subarray(0, 64)).toString('utf8');
  return kvError('reserved-key', `keys under "_cairn/" are reserved for the system ("${shown}"); choose another prefix`);
}

// ---- Structural check of decoded commands (the bytes come from the log, so trust nothing). ----

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isNumber = (value: unknown): value is number => typeof value === 'number';
const isOptional = (value: unknown, check: (v: unknown) => boolean): boolean => value === undefined || check(value);
const isBoolean = (value: unknown): boolean => typeof value === 'boolean';
const isString = (value: unknown): boolean => typeof value === 'string';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function isRange(value: unknown): boolean {
  if (!isObject(value)) return false;
  if ('key' in value) return isBytes(value.key);
  if ('prefix' in value) return isBytes(value.prefix);
  return isBytes(value.start) && isOptional(value.end, isBytes);
}

const COMPARE_OPERATORS = new Set(['=', '!=', '<', '>']);
const NUMBER_TARGETS = new Set(['version', 'create-revision', 'mod-revision', 'lease']);

function isCompare(value: unknown): boolean {
  if (!isObject(value) || !isBytes(value.key) || !COMPARE_OPERATORS.has(value.operator as string)) return false;
  if (value.target === 'value') return isBytes(value.value);
  if (value.target === 'exists') return isBoolean(value.value) && (value.operator === '=' || value.operator === '!=');
  return NUMBER_TARGETS.has(value.target as string) && isNumber(value.value);
}

function isOperation(value: unknown): boolean {
  if (!isObject(value)) return false;
  switch (value.type) {
    case 'put':
      return isBytes(value.key) && isBytes(value.value) && isOptional(value.lease, isNumber) && isOptional(value.prevKv, isBoolean);
    case 'delete':
      return isRange(value.range) && isOptional(value.prevKv, isBoolean);
    case 'range':
      return isRange(value.range) && isOptional(value.revision, isNumber) && isOptional(value.limit, isNumber)
        && isOptional(value.continuation, isString) && isOptional(value.keysOnly, isBoolean) && isOptional(value.countOnly, isBoolean);
    default:
      return false;
  }
}

function isList(value: unknown, check: (v: unknown) => boolean): boolean {
  return Array.isArray(value) && value.every(check);
}

/** A description of what is wrong with `value` as a KvCommand, or undefined if it is one. */
function checkCommandShape(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  const ok = ((): boolean => {
    switch (value.type) {
      case 'put':
      case 'delete':
        return isOperation(value);
      case 'txn':
        return isList(value.compare, isCompare) && isList(value.success, isOperation) && isList(value.failure, isOperation);
      case 'compact':
        return isNumber(value.revision);
      case 'lease-grant':
        return isOptional(value.id, isNumber) && isNumber(value.ttlSeconds);
      case 'lease-revoke':
        return isNumber(value.id);
      case 'lease-checkpoint':
        return isList(value.checkpoints, (c) => isObject(c) && isNumber(c.id) && isNumber(c.remainingSeconds));
      default:
        return false;
    }
  })();
  return ok ? undefined : `a "${String(value.type)}" command with missing or mistyped fields`;
}

// ---- Builders for the common shapes (all are transactions underneath, like etcd). ----

/** Put `value` at `key` only if the key's current value is `expected` (undefined: only if absent). */
export function compareAndSwap(key: Bytes, expected: Bytes | undefined, value: Bytes, options: { lease?: number } = {}): TxnCommand {
  const compare: Compare = expected === undefined
    ? { key, target: 'exists', operator: '=', value: false }
    : { key, target: 'value', operator: '=', value: expected };
  const put: PutOperation = options.lease === undefined ? { type: 'put', key, value, prevKv: true } : { type: 'put', key, value, lease: options.lease, prevKv: true };
  return { type: 'txn', compare: [compare], success: [put], failure: [{ type: 'range', range: { key } }] };
}

/** Put only if the key's mod revision is `modRevision` (0: only if absent). */
export function compareRevisionAndSwap(key: Bytes, modRevision: number, value: Bytes): TxnCommand {
  return {
    type: 'txn',
    compare: [{ key, target: 'mod-revision', operator: '=', value: modRevision }],
    success: [{ type: 'put', key, value, prevKv: true }],
    failure: [{ type: 'range', range: { key } }],
  };
}

/** Delete `key` only if its current value is `expected`. */
export function compareAndDelete(key: Bytes, expected: Bytes): TxnCommand {
  return {
    type: 'txn',
    compare: [{ key, target: 'value', operator: '=', value: expected }],
    success: [{ type: 'delete', range: { key }, prevKv: true }],
    failure: [{ type: 'range', range: { key } }],
  };
}
