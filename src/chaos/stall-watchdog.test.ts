import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STALL_EXIT_CODE } from './stall-watchdog.ts';

const WATCHDOG_URL = new URL('./stall-watchdog.ts', import.meta.url).href;

/** Runs a child process whose script starts the watchdog (stallMs 2 s) and then does `body`. */
async function runChild(body: string): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-stall-'));
  const script = join(directory, 'child.mjs');
  writeFileSync(script, [
    `import { startStallWatchdog } from ${JSON.stringify(WATCHDOG_URL)};`,
    `startStallWatchdog({ stallMs: 2000, what: 'test child' });`,
    `process.on('exit', (code) => process.stderr.write('exit hook ran with ' + code + '\\n'));`,
    body,
  ].join('\n'));
  const startedAt = performance.now();
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child did not exit within 30 s; stderr: ${stderr}`));
      }, 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, elapsedMs: performance.now() - startedAt });
      });
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('a livelocked main thread is stopped: its stack is printed and the exit hooks run', { timeout: 60_000 }, async () => {
  const { code, stderr } = await runChild([
    'async function spinOnResolvedPromises() { for (;;) await Promise.resolve(); }',
    'setTimeout(() => void spinOnResolvedPromises(), 300);',
  ].join('\n'));
  assert.equal(code, STALL_EXIT_CODE, stderr);
  assert.match(stderr, /test child: the event loop has not turned for [23] s/);
  assert.match(stderr, /at spinOnResolvedPromises \(file:.*child\.mjs:\d+:\d+\)/, 'the stack names the looping function and its file');
  assert.match(stderr, new RegExp(`exit hook ran with ${STALL_EXIT_CODE}`), 'process.exit ran the exit listeners');
});

test('a busy event loop that keeps turning is left alone, and the watchdog never keeps a process alive', { timeout: 60_000 }, async () => {
  const { code, stderr } = await runChild([
    // 4 s of 50 ms chunks of CPU work with a turn of the loop between them, then nothing left to do.
    'const until = performance.now() + 4000;',
    'function chunk() { const end = performance.now() + 50; while (performance.now() < end); if (performance.now() < until) setImmediate(chunk); }',
    'chunk();',
  ].join('\n'));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /has not turned/);
  assert.match(stderr, /exit hook ran with 0/);
});
