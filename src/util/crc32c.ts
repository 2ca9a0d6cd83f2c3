// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), used by the WAL, snapshots and Kafka
// record batches. Node's zlib.crc32 is the IEEE polynomial, so it cannot be used.
//
// Two implementations: slicing-by-8 tables in plain JavaScript (~400 MB/s here), and the SSE4.2
// instruction through @node-rs/crc32 (~4 GB/s) when its prebuilt binary loads. The native call
// costs about as much as the JavaScript loop on tiny inputs, so short inputs stay in JavaScript.
// On the produce path CRC-32C was the largest single CPU cost; hence the dependency.
import { createRequire } from 'node:module';

const POLYNOMIAL = 0x82f63b78;
const TABLES: Uint32Array[] = buildTables();
/** Below this many bytes the JavaScript loop is as fast as the native call. */
const NATIVE_MIN_BYTES = 256;

type NativeCrc32c = (input: Uint8Array, initial?: number) => number;

function loadNative(): NativeCrc32c | undefined {
  try {
    const binding = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (input: Buffer, initial?: number) => number };
    const native = (input: Uint8Array, initial?: number): number =>
      binding.crc32c(Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength), initial);
    // Trust it only if it agrees with the published check value.
    return native(new TextEncoder().encode('123456789')) === 0xe3069283 ? native : undefined;
  } catch {
    return undefined;
  }
}

const NATIVE: NativeCrc32c | undefined = process.env['CAIRN_CRC32C'] === 'js' ? undefined : loadNative();

/** Which implementation serves long inputs (for diagnostics and tests). */
export const CRC32C_IMPLEMENTATION: 'native' | 'javascript' = NATIVE === undefined ? 'javascript' : 'native';

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    first[byte] = crc >>> 0;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = first[byte]!;
    for (let table = 1; table < 8; table++) {
      crc = first[crc & 0xff]! ^ (crc >>> 8);
      tables[table]![byte] = crc >>> 0;
    }
  }
  return tables;
}

/**
 * CRC-32C of `bytes`. Pass the previous result as `crc` to continue a checksum over several
 * chunks: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  if (NATIVE !== undefined && bytes.byteLength >= NATIVE_MIN_BYTES) return NATIVE(bytes, crc) >>> 0;
  return crc32cJavaScript(bytes, crc);
}

/** The table-driven implementation (always available; the reference for the native one). */
export function crc32cJavaScript(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let value = ~crc >>> 0;
  let position = 0;
  const length = bytes.length;
  const fastEnd = length - (length % 8);
  while (position < fastEnd) {
    const low = (value ^ (bytes[position]! | (bytes[position + 1]! << 8) | (bytes[position + 2]! << 16) | (bytes[position + 3]! << 24))) >>> 0;
    value =
      t7[low & 0xff]! ^ t6[(low >>> 8) & 0xff]! ^ t5[(low >>> 16) & 0xff]! ^ t4[low >>> 24]! ^
      t3[bytes[position + 4]!]! ^ t2[bytes[position + 5]!]! ^ t1[bytes[position + 6]!]! ^ t0[bytes[position + 7]!]!;
    position += 8;
  }
  while (position < length) {
    value = t0[(value ^ bytes[position]!) & 0xff]! ^ (value >>> 8);
    position++;
  }
  return ~value >>> 0;
}
