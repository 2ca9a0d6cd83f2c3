import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POOL_AFTER_SLOW_WRITE_MS, SLOW_SYNCHRONOUS_WRITE_MS, SYNCHRONOUS_WRITE_MAX_BYTES, WriteModeGovernor } from './write-mode.ts';

test('small writes run synchronously until one is slow, then through the pool for a while', () => {
  let now = 1_000;
  const governor = new WriteModeGovernor(() => now);
  assert.equal(governor.synchronous(4096), true);
  assert.equal(governor.synchronous(SYNCHRONOUS_WRITE_MAX_BYTES + 1), false, 'large writes never');
  governor.tookMs(SLOW_SYNCHRONOUS_WRITE_MS);
  assert.equal(governor.synchronous(4096), true, 'a write at the threshold is not slow');
  governor.tookMs(SLOW_SYNCHRONOUS_WRITE_MS + 50);
  assert.equal(governor.slowWrites, 1);
  assert.equal(governor.synchronous(4096), false);
  now += POOL_AFTER_SLOW_WRITE_MS - 1;
  assert.equal(governor.synchronous(4096), false);
  now += 1;
  assert.equal(governor.synchronous(4096), true, 'back on the event loop once the period is over');
});
