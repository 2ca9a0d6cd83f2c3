// The durability claim with real processes: a node applying entries is SIGKILLed at random
// moments; on reopen its applied index always matches its data exactly (crash-consistent), and
// replaying only the entries after it gives the state of a node that never crashed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKvState } from './open.ts';
import { crashWorkloadEntry } from './crash-child.ts';

const child = join(import.meta.dirname, 'crash-child.ts');

function runAndKill(directory: string, afterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, [child, directory], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    process_.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('started')) setTimeout(() => process_.kill('SIGKILL'), afterMs);
    });
    process_.stderr.on('data', (data: Buffer) => (errors += data.toString()));
    process_.on('error', reject);
    process_.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(output) : reject(new Error(`child exited ${code}: ${errors}`))));
  });
}

test('SIGKILL at random moments: applied index always matches the data; the suffix replay converges', { timeout: 120_000 }, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'cairn-crash-'));
  const reference = openKvState();
  try {
    let previous = 0;
    for (const delayMs of [150, 40, 300, 5, 220]) {
      await runAndKill(directory, delayMs);
      const survivor = openKvState({ path: directory });
      const applied = survivor.state.appliedIndex();
      assert.ok(applied >= previous, `applied index went back from ${previous} to ${applied}`);
      const entries = [];
      for (let index = reference.state.appliedIndex() + 1; index <= applied; index++) entries.push(crashWorkloadEntry(index));
      for (let start = 0; start < entries.length; start += 500) reference.state.apply(entries.slice(start, start + 500));
      assert.ok(Buffer.from(survivor.state.snapshot().data).equals(Buffer.from(reference.state.snapshot().data)), `state at applied index ${applied} differs from the reference`);
      await survivor.state.close();
      previous = applied;
    }
    assert.ok(previous > 100, `the child applied only ${previous} entries`);
  } finally {
    await reference.state.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
