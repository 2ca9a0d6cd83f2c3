import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CRC32C_IMPLEMENTATION, crc32c, crc32cJavaScript } from './crc32c.ts';

function naiveCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('crc32c matches the published check values', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(4096).fill(0x5a)), crc32cJavaScript(new Uint8Array(4096).fill(0x5a)));
});

test('both implementations equal a bitwise one and can be continued over chunks, across the native threshold', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1200 }), fc.nat(1200), (bytes, cut) => {
      const split = Math.min(cut, bytes.length);
      const expected = naiveCrc32c(bytes);
      assert.equal(crc32c(bytes), expected);
      assert.equal(crc32cJavaScript(bytes), expected);
      assert.equal(crc32c(bytes.subarray(split), crc32c(bytes.subarray(0, split))), expected);
      assert.equal(crc32c(bytes.subarray(split), crc32cJavaScript(bytes.subarray(0, split))), expected);
    }),
    { numRuns: 300 },
  );
});

test('the native implementation loads where its prebuilt binary is installed (required in CI)', () => {
  if (process.env['CI'] === 'true') assert.equal(CRC32C_IMPLEMENTATION, 'native');
  assert.ok(CRC32C_IMPLEMENTATION === 'native' || CRC32C_IMPLEMENTATION === 'javascript');
});
