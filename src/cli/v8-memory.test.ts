// The V8 flag of `--buffer-memory-in-heap-limit` does what v8-memory.ts says: Buffer churn no
// longer forces a full collection every 64 MiB. Each case runs in a child process, since V8
// flags are process-wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolveSettings } from './settings/resolve.ts';
import { serveConfiguration } from './settings/node-options.ts';
import { setHeapGrowthPercent } from './v8-memory.ts';

/** Allocates 1 GiB of 1 MiB Buffers (at most 8 alive) and prints how many full collections ran. */
const CHURN = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { countBufferMemoryInHeapLimit } from ${JSON.stringify(new URL('./v8-memory.ts', import.meta.url).href)};
if (process.argv[1] === 'flag') countBufferMemoryInHeapLimit();
let full = 0;
new PerformanceObserver((list) => { for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
const alive = [];
for (let i = 0; i < 1024; i++) {
  alive.push(Buffer.allocUnsafeSlow(1 << 20));
  if (alive.length > 8) alive.shift();
  if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(String(full));
`;

function fullCollections(mode: 'default' | 'flag'): number {
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', CHURN, mode], { encoding: 'utf8', timeout: 30_000 }));
}

test('with the flag, 1 GiB of short-lived Buffers costs no full collection; without it, several', () => {
  const without = fullCollections('default');
  const withFlag = fullCollections('flag');
  assert.ok(without >= 4, `V8's default pacing: a full collection per 64 MiB of Buffers (saw ${without})`);
  assert.ok(withFlag <= without / 2, `with the flag: ${withFlag} full collections against ${without}`);
});

test('the setting is on by default and can be switched off', () => {
  const secret = { CAIRN_CLUSTER_SECRET: 'a-secret-for-tests' };
  assert.equal(serveConfiguration(resolveSettings({ flags: {}, env: secret })).bufferMemoryInHeapLimit, true);
  assert.equal(serveConfiguration(resolveSettings({ flags: {}, env: { ...secret, CAIRN_BUFFER_MEMORY_IN_HEAP_LIMIT: 'false' } })).bufferMemoryInHeapLimit, false);
  assert.equal(serveConfiguration(resolveSettings({ flags: { bufferMemoryInHeapLimit: 'false' }, env: secret })).bufferMemoryInHeapLimit, false);
});

/**
 * Keeps a window of 1,024 Buffers of 128 KiB alive (as a leader keeps Raft entries) while it
 * allocates 2 GiB of them, with small objects beside them; prints how many full collections ran.
 */
const WINDOW_CHURN = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { countBufferMemoryInHeapLimit, setHeapGrowthPercent } from ${JSON.stringify(new URL('./v8-memory.ts', import.meta.url).href)};
countBufferMemoryInHeapLimit();
setHeapGrowthPercent(Number(process.argv[1]));
let full = 0;
new PerformanceObserver((list) => { for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
const alive = [];
let requests = [];
for (let i = 0; i < 16384; i++) {
  alive.push(Buffer.allocUnsafeSlow(128 << 10).fill(i & 255));
  if (alive.length > 1024) alive.shift();
  for (let j = 0; j < 200; j++) requests.push({ i, j, text: 'request ' + i });
  if (requests.length > 20000) requests = [];
  if (i % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(String(full));
`;

function fullCollectionsAtGrowth(percent: number): number {
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', WINDOW_CHURN, String(percent)], { encoding: 'utf8', timeout: 60_000 }));
}

test('a larger heap growth percentage means fewer full collections for the same Buffer churn', () => {
  const tight = fullCollectionsAtGrowth(10);
  const loose = fullCollectionsAtGrowth(400);
  assert.ok(tight >= 6, `at 10%: ${tight} full collections`);
  assert.ok(loose <= tight / 2, `at 400%: ${loose} full collections against ${tight} at 10%`);
});

test('heap growth: 100% by default, 0 leaves it to V8, out-of-range values are refused', () => {
  const secret = { CAIRN_CLUSTER_SECRET: 'a-secret-for-tests' };
  assert.equal(serveConfiguration(resolveSettings({ flags: {}, env: secret })).heapGrowthPercent, 100);
  assert.equal(serveConfiguration(resolveSettings({ flags: {}, env: { ...secret, CAIRN_HEAP_GROWTH_PERCENT: '0' } })).heapGrowthPercent, 0);
  assert.equal(serveConfiguration(resolveSettings({ flags: { heapGrowthPercent: '250' }, env: secret })).heapGrowthPercent, 250);
  assert.throws(() => serveConfiguration(resolveSettings({ flags: { heapGrowthPercent: '401' }, env: secret })), /invalid --heap-growth-percent: must be between 0 and 400/);
  assert.throws(() => setHeapGrowthPercent(-1), RangeError);
  assert.throws(() => setHeapGrowthPercent(1.5), RangeError);
});
