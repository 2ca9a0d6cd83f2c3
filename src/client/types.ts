// What the client gives and takes. Keys and values go in as strings (UTF-8) or bytes, and come
// back as Buffers (bytes with `.toString()` for text). On the wire the client always uses
// ?encoding=base64, so any bytes round-trip exactly.
import type { WireCompare, WireKeyValue, WireTxnOperation } from '../server/http/api-types.ts';

export type BytesLike = string | Uint8Array;

export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** 0 = no lease. */
  readonly lease: number;
}

export type Consistency = 'linearizable' | 'serializable';

export interface RangeSelector {
  /** Exactly one of key, prefix, start (start with an optional exclusive end). */
  readonly key?: BytesLike;
  readonly prefix?: BytesLike;
  readonly start?: BytesLike;
  readonly end?: BytesLike;
}

export interface ScanOptions extends RangeSelector {
  readonly limit?: number;
  readonly continuation?: string;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly revision?: number;
  readonly consistency?: Consistency;
}

export interface ScanResult {
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  readonly continuation?: string;
  readonly count?: number;
}

export type CompareTarget = WireCompare['target'];

export interface Compare {
  readonly key: BytesLike;
  readonly target: CompareTarget;
  readonly operator?: '=' | '!=' | '<' | '>';
  /** Bytes for 'value', a number for version/revisions/lease, a boolean for 'exists'. */
  readonly value: BytesLike | number | boolean;
}

export type TxnOperation =
  | { readonly type: 'put'; readonly key: BytesLike; readonly value: BytesLike; readonly lease?: number; readonly prevKv?: boolean }
  | (RangeSelector & { readonly type: 'delete'; readonly prevKv?: boolean })
  | (RangeSelector & { readonly type: 'range'; readonly limit?: number; readonly revision?: number; readonly keysOnly?: boolean; readonly countOnly?: boolean });

export interface Txn {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOperation[];
  readonly failure?: readonly TxnOperation[];
}

export type TxnOperationResult =
  | { readonly type: 'put'; readonly revision: number; readonly prevKv?: KeyValue }
  | { readonly type: 'delete'; readonly revision: number; readonly deleted: number; readonly prevKvs?: readonly KeyValue[] }
  | ({ readonly type: 'range' } & ScanResult)
  | { readonly type: 'error'; readonly revision: number; readonly error: { readonly code: string; readonly message: string } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly results: readonly TxnOperationResult[];
}

export interface CasResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** On success: the value replaced (absent if the key was new). */
  readonly prevKv?: KeyValue;
  /** On failure: the key's current state (undefined: absent). */
  readonly kv?: KeyValue;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
  /** The event's revision (kv.modRevision). */
  readonly revision: number;
}

export function toBytes(value: BytesLike): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function toWireBytes(value: BytesLike): string {
  return toBytes(value).toString('base64');
}

export function fromWireKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: Buffer.from(kv.key, 'base64'), value: Buffer.from(kv.value ?? '', 'base64'),
    createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease,
  };
}

function selectorToWire(selector: RangeSelector): Record<string, string> {
  const wire: Record<string, string> = {};
  for (const name of ['key', 'prefix', 'start', 'end'] as const) {
    const value = selector[name];
    if (value !== undefined) wire[name] = toWireBytes(value);
  }
  return wire;
}

export function compareToWire(compare: Compare): WireCompare {
  const value = compare.target === 'value' ? toWireBytes(compare.value as BytesLike) : compare.value as number | boolean;
  return { key: toWireBytes(compare.key), target: compare.target, operator: compare.operator ?? '=', value };
}

export function operationToWire(operation: TxnOperation): WireTxnOperation {
  if (operation.type === 'put') {
    return {
      type: 'put', key: toWireBytes(operation.key), value: toWireBytes(operation.value),
      ...(operation.lease === undefined ? {} : { lease: operation.lease }), ...(operation.prevKv === undefined ? {} : { prevKv: operation.prevKv }),
    };
  }
  const { type, key: _key, prefix: _prefix, start: _start, end: _end, ...rest } = operation;
  return { type, ...selectorToWire(operation), ...rest } as WireTxnOperation;
}

/** Percent-encodes key bytes for a URL path (slashes kept, so keys stay readable in logs). */
export function keyPath(key: BytesLike): string {
  let path = '';
  for (const byte of toBytes(key)) {
    const unreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte === 0x2d || byte === 0x5f || byte === 0x7e || byte === 0x2f;
    path += unreserved ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return path;
}

/** Key bytes as a query value (base64url; the client always asks for encoding=base64). */
export function keyQuery(key: BytesLike): string {
  return toBytes(key).toString('base64url');
}
