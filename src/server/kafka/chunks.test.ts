import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chunkItems } from './chunks.ts';

test('chunks keep every item in order, within the item and byte bounds (an oversize item alone)', () => {
  fc.assert(fc.property(fc.array(fc.nat(50)), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 60 }), (sizes, itemsMax, bytesMax) => {
    const chunks = chunkItems(sizes, (size) => size, itemsMax, bytesMax);
    assert.deepEqual(chunks.flat(), sizes);
    for (const chunk of chunks) {
      assert.ok(chunk.length >= 1 && chunk.length <= itemsMax);
      const bytes = chunk.reduce((sum, size) => sum + size, 0);
      assert.ok(bytes <= bytesMax || chunk.length === 1, `${JSON.stringify(chunk)} within ${bytesMax}`);
    }
  }));
});
