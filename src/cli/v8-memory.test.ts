// The V8 flag of `--buffer-memory-in-heap-limit` does what v8-memory.ts says: Buffer churn no
// longer forces a full collection every 64 MiB. Each case runs in a child process, since V8
// flags are process-wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolveSettings } from './settings/resolve.ts';
import { serveConfiguration } from './settings/node-options.ts';

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
