// The overlay store's durability claim with real processes: a child applying through
// ReplicatedState on an OverlayStore over lmdb is SIGKILLed at random moments (flushes are
// frequent and often in flight). On reopen the applied index always matches the data exactly
// (every flush is a consistent cut), it never goes back, it is never below what the child had
// reported as durableAppliedIndex(), and replaying only the entries after it converges with a
// node that never crashed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashWorkloadEntry } from './kv/crash-child.ts';
import { openKvState } from './kv/open.ts';
import { openOverlayKv } from './overlay-crash-child.ts';

const child = join(import.meta.dirname, 'overlay-crash-child.ts');

/** Runs the child until `afterMs` past its start, SIGKILLs it, returns the last durable index it reported. */
function runAndKill(directory: string, afterMs: number, flushIntervalMs: number, flushBytesMax: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, directory, String(flushIntervalMs), String(flushBytesMax)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    let killScheduled = false;
    process_.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      if (!killScheduled && output.includes('started')) {
        killScheduled = true;
        setTimeout(() => process_.kill('SIGKILL'), afterMs);
      }
    });
    process_.stderr.on('data', (data: Buffer) => (errors += data.toString()));
    process_.on('error', reject);
    // 'close' comes after the child's output is all read, unlike 'exit'.
    process_.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${errors}`));
      const durable = [...output.matchAll(/^durable (\d+)$/gm)].map((match) => Number(match[1]));
      resolve(durable.length === 0 ? 0 : Math.max(...durable));
    });
  });
}

test('overlay over lmdb, SIGKILL at random moments: consistent cuts, durable index honest, suffix replay converges', { timeout: 180_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-overlay-crash-'));
  const reference = openKvState();
  try {
    let previous = 0;
    let reportedDurable = 0;
    const runs: [number, number, number][] = [[150, 10, 64 * 1024], [40, 5, 16 * 1024], [600, 20, 1 << 20], [5, 10, 64 * 1024], [350, 2, 8 * 1024], [90, 100, 32 * 1024], [800, 10, 256 * 1024], [60, 1, 4 * 1024]];
    for (const [delayMs, flushIntervalMs, flushBytesMax] of runs) {
      const durable = await runAndKill(directory, delayMs, flushIntervalMs, flushBytesMax);
      reportedDurable = Math.max(reportedDurable, durable);
      const survivor = openOverlayKv(directory);
      const applied = survivor.state.appliedIndex();
      assert.ok(applied >= previous, `applied index went back from ${previous} to ${applied}`);
      assert.ok(applied >= durable, `the child reported ${durable} durable, a reopen finds ${applied}`);
      const entries = [];
      for (let index = reference.state.appliedIndex() + 1; index <= applied; index++) entries.push(crashWorkloadEntry(index));
      for (let start = 0; start < entries.length; start += 500) reference.state.apply(entries.slice(start, start + 500));
      assert.ok(Buffer.from(survivor.state.snapshot().data).equals(Buffer.from(reference.state.snapshot().data)), `state at applied index ${applied} differs from the reference`);
      await survivor.state.close();
      previous = applied;
    }
    assert.ok(previous > 100, `the child applied only ${previous} entries`);
    assert.ok(reportedDurable > 0, 'the children never reported a durable index: the flushes did not run');
  } finally {
    await reference.state.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
