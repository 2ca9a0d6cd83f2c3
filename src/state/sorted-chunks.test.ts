// SortedChunks against a plain sorted model, with tiny chunks so splits and empty chunks happen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SortedChunks } from './sorted-chunks.ts';

const keyOf = (n: number): Buffer => Buffer.from(n.toString(16).padStart(3, '0'));

test('sorted chunks: gets and ranges (both directions) match a sorted model through inserts and deletes', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 300 })), { maxLength: 400 }),
      fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 310 }), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 310 }), { nil: undefined }), fc.boolean()), { minLength: 1, maxLength: 8 }),
      (chunkKeys, operations, ranges) => {
        const chunks = new SortedChunks(chunkKeys);
        const model = new Map<number, string>();
        operations.forEach(([insert, n], step) => {
          if (insert) {
            chunks.set(keyOf(n), Buffer.from(String(step)));
            model.set(n, String(step));
          } else {
            chunks.delete(keyOf(n));
            model.delete(n);
          }
        });
        assert.equal(chunks.size, model.size);
        for (let n = 0; n <= 300; n += 7) assert.equal(chunks.get(keyOf(n))?.toString(), model.get(n));
        for (const [start, end, reverse] of ranges) {
          const expected = [...model.keys()].filter((n) => (start === undefined || n >= start) && (end === undefined || n < end)).sort((a, b) => a - b);
          if (reverse) expected.reverse();
          const actual = [...chunks.range(start === undefined ? undefined : keyOf(start), end === undefined ? undefined : keyOf(end), reverse)].map(({ key }) => parseInt(key.toString(), 16));
          assert.deepEqual(actual, expected);
        }
      },
    ),
    { numRuns: 300 },
  );
});
