import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLoopStallWatch } from './stall-watch.ts';

function busyWait(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until) {
    // block the event loop on purpose
  }
}

test('a blocked event loop is logged once per stall, with how long it stood still', async () => {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const ignore = (): void => {};
  const logger = { debug: ignore, info: ignore, error: ignore, warn: (fields: object, message: string) => void warnings.push({ fields: fields as Record<string, unknown>, message }) };
  const watch = new EventLoopStallWatch(logger, { thresholdMs: 150, intervalMs: 20 });
  watch.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A busy CI machine may starve this process on its own now and then: count from here.
    const before = warnings.length;
    busyWait(400);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stall = warnings[before];
    assert.ok(stall !== undefined, 'the stall was logged');
    assert.ok((stall.fields['blockedMs'] as number) >= 300, `blockedMs ${String(stall.fields['blockedMs'])}`);
    assert.match(stall.message, /event loop was blocked/);
    assert.equal(watch.stalls, warnings.length);
  } finally {
    watch.stop();
  }
});
