import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CleanupRegistry } from './cleanup.ts';
import type { FaultError } from './errors.ts';
import { captureProcessIdentity, isAlive, pauseFault, readProcessStat, signalProcess } from './signals.ts';

/** A child that prints a tick every 10 ms; `ignoreTerm` makes it ignore SIGTERM. */
async function startTicker(ignoreTerm = false): Promise<{ child: ChildProcess; ticks: () => number }> {
  const script = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => process.stdout.write('.'), 10); process.stdout.write('.');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let ticks = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    ticks += chunk.length;
  });
  await once(child.stdout!, 'data');
  return { child, ticks: () => ticks };
}

test('captures a process identity from /proc and refuses a pid that no longer matches', async () => {
  const { child } = await startTicker();
  const identity = captureProcessIdentity(child.pid!);
  assert.equal(identity.pid, child.pid);
  assert.ok(identity.startTimeTicks > 0);
  assert.ok(identity.commandLine[0]!.endsWith('node') || identity.commandLine[0] === process.execPath);
  const forged = { ...identity, startTimeTicks: identity.startTimeTicks + 1 };
  await assert.rejects(signalProcess(forged, 'SIGKILL'), (error: FaultError) => error.code === 'process-mismatch');
  assert.ok(isAlive(identity), 'the mismatched signal was not sent');
  const result = await signalProcess(identity, 'SIGKILL');
  assert.equal(result.effect, 'exited');
  // The 'exit' event may already have fired while signalProcess polled /proc.
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  assert.equal(isAlive(identity), false);
  await assert.rejects(signalProcess(identity, 'SIGKILL'), (error: FaultError) => error.code === 'process-mismatch');
  assert.throws(() => captureProcessIdentity(child.pid!), /does not exist/);
});

test('SIGSTOP pauses (no ticks), SIGCONT resumes', async () => {
  const { child, ticks } = await startTicker();
  const identity = captureProcessIdentity(child.pid!);
  try {
    assert.equal((await signalProcess(identity, 'SIGSTOP')).effect, 'stopped');
    assert.equal(readProcessStat(child.pid!)!.state, 'T');
    const before = ticks();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(ticks() - before <= 1, `ticked ${ticks() - before} times while stopped`);
    assert.equal((await signalProcess(identity, 'SIGCONT')).effect, 'continued');
    const resumed = ticks();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(ticks() - resumed >= 3, 'ticks again after SIGCONT');
  } finally {
    child.kill('SIGKILL');
  }
});

test('SIGTERM waits for exit, and escalates to SIGKILL when asked', async () => {
  const polite = await startTicker();
  const result = await signalProcess(captureProcessIdentity(polite.child.pid!), 'SIGTERM');
  assert.deepEqual([result.effect, result.escalated], ['exited', false]);
  const stubborn = await startTicker(true);
  const identity = captureProcessIdentity(stubborn.child.pid!);
  try {
    await assert.rejects(signalProcess(identity, 'SIGTERM', { timeoutMs: 200 }), (error: FaultError) => error.code === 'signal-timeout');
    const escalated = await signalProcess(identity, 'SIGTERM', { timeoutMs: 200, escalateToKill: true });
    assert.deepEqual([escalated.effect, escalated.escalated], ['exited', true]);
  } finally {
    stubborn.child.kill('SIGKILL');
  }
});

test('pauseFault stops and resumes; the cleanup registry resumes a process left paused', async () => {
  const { child } = await startTicker();
  const identity = captureProcessIdentity(child.pid!);
  const registry = new CleanupRegistry();
  try {
    const fault = pauseFault(identity, registry);
    await fault.start();
    assert.equal(readProcessStat(child.pid!)!.state, 'T');
    assert.equal(registry.size, 1);
    await fault.stop();
    assert.notEqual(readProcessStat(child.pid!)!.state, 'T');
    assert.equal(registry.size, 0);
    await fault.start();
    registry.runAllSync(); // what process exit does
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.notEqual(readProcessStat(child.pid!)!.state, 'T');
    await fault.stop();
  } finally {
    child.kill('SIGKILL');
  }
});
