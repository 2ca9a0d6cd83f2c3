// Byte layouts of the KV tables. Everything is ordered bytewise, so numbers are big-endian and
// user keys inside composite keys are escaped to stay order-preserving and prefix-free:
// 0x00 becomes 0x00 0xFF and the key ends with 0x00 0x01. Then esc(a) < esc(b) exactly when
// a < b, and no esc(a) is a prefix of esc(b), so (key, revision) composites sort by key, then
// revision.

const TERMINATOR = [0x00, 0x01] as const;
const MAX_SAFE_HIGH = 2 ** 21;

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export function writeUint64(target: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 2 ** 32);
  const low = value >>> 0;
  target[offset] = high >>> 24;
  target[offset + 1] = high >>> 16;
  target[offset + 2] = high >>> 8;
  target[offset + 3] = high;
  target[offset + 4] = low >>> 24;
  target[offset + 5] = low >>> 16;
  target[offset + 6] = low >>> 8;
  target[offset + 7] = low;
}

export function readUint64(source: Uint8Array, offset: number): number {
  if (offset + 8 > source.length) throw new RangeError(`uint64 at offset ${offset} is past the end (${source.length} bytes)`);
  const high = ((source[offset]! << 24) | (source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!) >>> 0;
  if (high >= MAX_SAFE_HIGH) throw new RangeError(`uint64 at offset ${offset} exceeds 2^53`);
  const low = ((source[offset + 4]! << 24) | (source[offset + 5]! << 16) | (source[offset + 6]! << 8) | source[offset + 7]!) >>> 0;
  return high * 2 ** 32 + low;
}

export function uint64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  writeUint64(bytes, 0, value);
  return bytes;
}

/** (revision, sub): the key of one history event; sorts by revision, then sub-revision. */
export function revisionKey(revision: number, sub: number): Uint8Array {
  const bytes = new Uint8Array(12);
  writeUint64(bytes, 0, revision);
  bytes[8] = sub >>> 24;
  bytes[9] = sub >>> 16;
  bytes[10] = sub >>> 8;
  bytes[11] = sub;
  return bytes;
}

export function parseRevisionKey(bytes: Uint8Array, offset = 0): { revision: number; sub: number } {
  const sub = ((bytes[offset + 8]! << 24) | (bytes[offset + 9]! << 16) | (bytes[offset + 10]! << 8) | bytes[offset + 11]!) >>> 0;
  return { revision: readUint64(bytes, offset), sub };
}

export function escapeKey(key: Uint8Array): Uint8Array {
  let zeros = 0;
  for (const byte of key) if (byte === 0) zeros++;
  const escaped = new Uint8Array(key.length + zeros + 2);
  let position = 0;
  for (const byte of key) {
    escaped[position++] = byte;
    if (byte === 0) escaped[position++] = 0xff;
  }
  escaped[position++] = TERMINATOR[0];
  escaped[position] = TERMINATOR[1];
  return escaped;
}

/** Decodes an escaped key at the start of `bytes`; returns the key and where the escape ends. */
export function unescapeKey(bytes: Uint8Array): { key: Uint8Array; length: number } {
  const key: number[] = [];
  let position = 0;
  for (;;) {
    const byte = bytes[position];
    if (byte === undefined) throw new RangeError('escaped key has no terminator');
    if (byte !== 0) {
      key.push(byte);
      position++;
      continue;
    }
    const next = bytes[position + 1];
    if (next === 0xff) {
      key.push(0);
      position += 2;
    } else if (next === TERMINATOR[1]) {
      return { key: Uint8Array.from(key), length: position + 2 };
    } else {
      throw new RangeError('escaped key has an invalid escape');
    }
  }
}

/** esc(key) ++ revision ++ sub: one entry of a key's history. */
export function keyRevisionKey(escapedKey: Uint8Array, revision: number, sub: number): Uint8Array {
  return concatBytes(escapedKey, revisionKey(revision, sub));
}

/** The smallest key greater than every key starting with `prefix`, or undefined (all 0xFF). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let index = prefix.length - 1; index >= 0; index--) {
    if (prefix[index]! < 0xff) {
      const end = prefix.slice(0, index + 1);
      end[index]!++;
      return end;
    }
  }
  return undefined;
}

/** The smallest key greater than `key`. */
export function successor(key: Uint8Array): Uint8Array {
  return concatBytes(key, new Uint8Array(1));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const result = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (bytes[index] !== prefix[index]) return false;
  return true;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, b);
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}
