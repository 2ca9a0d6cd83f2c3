// Checked reads of decoded msgpack values. Everything that comes off the network goes through
// these before the runtime sees it: wrong types, unsafe integers, oversized arrays and strings
// all become a WireError (a clean rejection), never an exception of another kind.
import type { TransportErrorCode } from '../types.ts';

export class WireError extends Error {
  override name = 'WireError';
  readonly code: TransportErrorCode;
  constructor(code: TransportErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function reject(code: TransportErrorCode, message: string): never {
  throw new WireError(code, message);
}

export function readArray(value: unknown, field: string, minLength: number, maxLength: number): unknown[] {
  if (!Array.isArray(value)) reject('MESSAGE_INVALID', `${field}: expected an array`);
  if (value.length < minLength || value.length > maxLength) {
    reject('MESSAGE_INVALID', `${field}: ${value.length} elements, expected ${minLength}..${maxLength}`);
  }
  return value;
}

export function readCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    reject('MESSAGE_INVALID', `${field}: expected a non-negative safe integer`);
  }
  return value;
}

export function readNodeId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    reject('MESSAGE_INVALID', `${field}: expected a node id (positive safe integer)`);
  }
  return value;
}

export function readBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') reject('MESSAGE_INVALID', `${field}: expected a boolean`);
  return value;
}

export function readBytes(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) reject('MESSAGE_INVALID', `${field}: expected binary data`);
  return value;
}

export function readOptionalBytes(value: unknown, field: string): Uint8Array | undefined {
  return value === null ? undefined : readBytes(value, field);
}

export function readString(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') reject('MESSAGE_INVALID', `${field}: expected a string`);
  if (value.length > maxLength) reject('MESSAGE_INVALID', `${field}: longer than ${maxLength} characters`);
  return value;
}

export function readNodeIds(value: unknown, field: string, maxLength: number): number[] {
  const array = readArray(value, field, 0, maxLength);
  const ids = new Array<number>(array.length);
  for (let i = 0; i < array.length; i++) ids[i] = readNodeId(array[i], field);
  return ids;
}
