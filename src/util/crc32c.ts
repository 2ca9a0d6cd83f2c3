// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), used by the WAL and by Kafka record
// batches. Node's zlib.crc32 is the IEEE polynomial, so it cannot be used. Slicing-by-8 tables
// keep it at several hundred MB/s in plain JavaScript.

const POLYNOMIAL = 0x82f63b78;
const TABLES: Uint32Array[] = buildTables();

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
