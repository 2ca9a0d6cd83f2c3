import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Runs `body` in a fresh Node process (optionally after importing the module) and returns its stderr. */
function stderrOf(body: string, withModule: boolean): string {
  const module = new URL('./kafkajs-quiet-warnings.ts', import.meta.url).href;
  const script = `${withModule ? `await import(${JSON.stringify(module)});` : ''}${body}`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stderr;
}

test('kafkajs warnings: a negative timer delay is not reported, every other warning still is', () => {
  const body = 'setTimeout(() => {}, -5); process.emitWarning("kept", "SomeOtherWarning"); await new Promise((r) => setTimeout(r, 20));';
  const plain = stderrOf(body, false);
  assert.match(plain, /TimeoutNegativeWarning/, 'without the module Node reports the negative delay');
  const quiet = stderrOf(body, true);
  assert.doesNotMatch(quiet, /TimeoutNegativeWarning/);
  assert.match(quiet, /SomeOtherWarning: kept/);
});
