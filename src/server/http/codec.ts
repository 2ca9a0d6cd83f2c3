// Bytes in and out of the JSON API. Keys in URL paths and query strings are percent-encoded
// bytes (decoded here byte by byte, so any key, valid UTF-8 or not, can be named); keys and
// values inside JSON are UTF-8 text, or base64 with ?encoding=base64.
import type { KeyValue } from '../../state/kv/records.ts';
import type { WireEncoding, WireKeyValue } from './api-types.ts';
import { badRequest } from './errors.ts';
import type { ApiError } from './errors.ts';

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Decodes percent-encoding into bytes (`+` stays `+`; in query strings pass plusIsSpace). Returns
 * an ApiError for a malformed escape.
 */
export function percentDecode(text: string, plusIsSpace = false): Uint8Array | ApiError {
  const raw = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let position = 0; position < raw.length; position++) {
    const byte = raw[position]!;
    if (byte === 0x25) {
      const high = hexValue(raw[position + 1] ?? -1);
      const low = hexValue(raw[position + 2] ?? -1);
      if (high < 0 || low < 0) return badRequest('bad-encoding', `malformed percent-escape at byte ${position} of ${JSON.stringify(text.slice(0, 80))}`);
      out[length++] = high * 16 + low;
      position += 2;
    } else {
      out[length++] = plusIsSpace && byte === 0x2b ? 0x20 : byte;
    }
  }
  return new Uint8Array(out.subarray(0, length));
}

/** A query string as name -> raw (still percent-encoded) value; repeated names keep the last. */
export function parseQuery(search: string): Map<string, string> {
  const query = new Map<string, string>();
  const text = search.startsWith('?') ? search.slice(1) : search;
  if (text.length === 0) return query;
  for (const part of text.split('&')) {
    if (part.length === 0) continue;
    const equals = part.indexOf('=');
    const name = equals < 0 ? part : part.slice(0, equals);
    query.set(name, equals < 0 ? '' : part.slice(equals + 1));
  }
  return query;
}

export function parseEncoding(value: string | undefined): WireEncoding | ApiError {
  if (value === undefined || value === '' || value === 'utf8' || value === 'utf-8' || value === 'text') return 'utf8';
  if (value === 'base64') return 'base64';
  return badRequest('bad-encoding', `encoding must be "utf8" or "base64", not ${JSON.stringify(value.slice(0, 40))}`);
}

/** Bytes of a key or value given as a JSON string in `encoding`. */
export function bytesFromWire(text: unknown, encoding: WireEncoding, field: string): Uint8Array | ApiError {
  if (typeof text !== 'string') return badRequest('bad-request', `${field} must be a string`);
  if (encoding === 'utf8') return encoder.encode(text);
  if (!BASE64_PATTERN.test(text)) return badRequest('bad-encoding', `${field} is not valid base64`);
  return new Uint8Array(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
}

/** A query parameter holding key bytes: percent-encoded bytes, or base64 in base64 mode. */
export function bytesFromQuery(raw: string, encoding: WireEncoding, field: string): Uint8Array | ApiError {
  const decoded = percentDecode(raw, true);
  if (!(decoded instanceof Uint8Array) || encoding === 'utf8') return decoded;
  return bytesFromWire(Buffer.from(decoded).toString('latin1'), 'base64', field);
}

function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function keyValueToWire(kv: KeyValue, encoding: WireEncoding, keysOnly = false): WireKeyValue {
  const meta = { createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease };
  if (encoding === 'utf8') {
    const key = utf8OrUndefined(kv.key);
    const value = keysOnly ? '' : utf8OrUndefined(kv.value);
    if (key !== undefined && value !== undefined) return keysOnly ? { key, ...meta } : { key, value, ...meta };
  }
  const key = base64(kv.key);
  const fallback = encoding === 'utf8' ? { encoding: 'base64' as const } : {};
  return keysOnly ? { key, ...meta, ...fallback } : { key, value: base64(kv.value), ...meta, ...fallback };
}

/** Key bytes as text for messages and key lists: UTF-8 when valid, else base64 (per `encoding`). */
export function keyToWire(key: Uint8Array, encoding: WireEncoding): string {
  if (encoding === 'utf8') {
    const text = utf8OrUndefined(key);
    if (text !== undefined) return text;
  }
  return base64(key);
}
