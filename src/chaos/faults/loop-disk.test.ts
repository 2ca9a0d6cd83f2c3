import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CleanupRegistry } from './cleanup.ts';
import { isRoot, runCommandSync } from './commands.ts';
import { LoopDisk, sweepLoopDiskLeftovers } from './loop-disk.ts';

// Root only; CI runs as root, so there a missing privilege is a failure, not a skip.
const skip = !isRoot() && process.env.CI !== 'true' ? 'loop devices and mount need root' : false;
const moduleUrl = new URL('./loop-disk.ts', import.meta.url).href;

// Writes `synced` records with fdatasync after each and an fsync of the directory, then appends
// `tail` records to the same file and writes a new file without any sync; prints "done" and waits
// to be killed, as a node that crashes right after acknowledging would.
const WRITER = `
  const fs = require('node:fs');
  const [directory, name] = process.argv.slice(1);
  const synced = fs.openSync(directory + '/' + name + '.synced', 'w');
  for (let index = 0; index < 50; index++) { fs.writeSync(synced, 'synced ' + index + '\\n'); fs.fdatasyncSync(synced); }
  const folder = fs.openSync(directory, 'r'); fs.fsyncSync(folder); fs.closeSync(folder);
  for (let index = 0; index < 50; index++) fs.writeSync(synced, 'tail ' + index + '\\n');
  fs.writeFileSync(directory + '/' + name + '.unsynced', 'unsynced\\n'.repeat(1000));
  console.log('done');
  setInterval(() => {}, 1000);`;

const SYNCED = Array.from({ length: 50 }, (_, index) => `synced ${index}\n`).join('');

async function crashAfterWriting(directory: string, name: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', WRITER, directory, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) if (line === 'done') break;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

function read(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

function mountedAt(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === path);
}

test('power cut keeps every fsynced write and loses unsynced ones (measured over rounds)', { skip }, async (t) => {
  const registry = new CleanupRegistry();
  const disk = await LoopDisk.create({ sizeBytes: 64 * 1024 * 1024, cleanupRegistry: registry });
  const rounds = 4;
  let tailLost = 0;
  let unsyncedLost = 0;
  try {
    assert.ok(mountedAt(disk.mountPath));
    for (let round = 0; round < rounds; round++) {
      await crashAfterWriting(disk.mountPath, `round-${round}`);
      const cut = await disk.powerCut();
      assert.ok(cut.fsckExitCode <= 2, cut.fsckOutput);
      assert.ok(mountedAt(disk.mountPath));
      for (let earlier = 0; earlier <= round; earlier++) {
        const content = read(join(disk.mountPath, `round-${earlier}.synced`));
        assert.ok(content?.startsWith(SYNCED), `round ${earlier}'s fsynced records survive power cut ${round}`);
      }
      const content = read(join(disk.mountPath, `round-${round}.synced`))!;
      if (content === SYNCED) tailLost++;
      else assert.ok(content.startsWith(SYNCED) && /^(tail \d+\n)*$/.test(content.slice(SYNCED.length)) || content.slice(SYNCED.length).includes('\0'), 'a tail is a prefix of what was written');
      const unsynced = read(join(disk.mountPath, `round-${round}.unsynced`));
      if (unsynced === undefined || unsynced.length < 'unsynced\n'.length * 1000) unsyncedLost++;
      t.diagnostic(`round ${round}: fsck exit ${cut.fsckExitCode}, copy ${Math.round(cut.copyMs)} ms (${cut.copiedBytes} bytes), `
        + `tail ${content === SYNCED ? 'lost' : 'kept'}, unsynced file ${unsynced === undefined ? 'missing' : `${unsynced.length} bytes`}`);
    }
    t.diagnostic(`unsynced appends lost in ${tailLost}/${rounds} power cuts, unsynced new files lost in ${unsyncedLost}/${rounds}`);
    assert.ok(tailLost + unsyncedLost > 0, 'a power cut that never loses unsynced data simulates nothing');
    // Control: once the same writes reach the disk (syncfs of the mount), a power cut keeps them.
    await crashAfterWriting(disk.mountPath, 'flushed');
    assert.equal(runCommandSync(['sync', '-f', disk.mountPath]).exitCode, 0);
    await disk.powerCut();
    assert.equal(read(join(disk.mountPath, 'flushed.unsynced'))?.length, 'unsynced\n'.length * 1000);
    assert.ok(read(join(disk.mountPath, 'flushed.synced'))!.endsWith('tail 49\n'));
  } finally {
    await disk.cleanup();
  }
  await disk.cleanup();
  assert.equal(registry.size, 0);
  assert.equal(mountedAt(disk.mountPath), false);
  assert.equal(existsSync(disk.directory), false);
  assert.equal(runCommandSync(['losetup', '-l', '-n']).stdout.includes(disk.directory), false, 'loop device detached');
});

test('sweepLoopDiskLeftovers removes the mount, loop device and images of a SIGKILLed owner', { skip }, async () => {
  const script = `const { LoopDisk } = await import(${JSON.stringify(moduleUrl)});
    const disk = await LoopDisk.create({ sizeBytes: 32 * 1024 * 1024 });
    console.log(disk.directory + ' ' + disk.mountPath);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let line = '';
  for await (const output of createInterface({ input: child.stdout! })) {
    line = output;
    break;
  }
  const [directory, mountPath] = line.split(' ') as [string, string];
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(mountedAt(mountPath), 'SIGKILL leaves the mount behind');
  const swept = sweepLoopDiskLeftovers();
  assert.equal(swept.loopDevices.length >= 1, true);
  assert.equal(mountedAt(mountPath), false);
  assert.equal(existsSync(directory), false);
  assert.equal(runCommandSync(['losetup', '-l', '-n']).stdout.includes(directory), false);
});
