// A process that applies a deterministic KV workload to an lmdb state forever, continuing from
// the persisted applied index, so a test can SIGKILL it at any moment and check what survives:
//   node src/state/kv/crash-child.ts <directory>
// Entry i depends only on i, so the checker rebuilds the expected state for any applied index.
import { openKvState } from './open.ts';
import { encodeKvCommand } from './commands.ts';
import type { KvCommand } from './commands.ts';
import { utf8 } from './encoding.ts';
import type { AppliedEntry } from '../types.ts';

export function crashWorkloadEntry(index: number): AppliedEntry {
  const key = utf8(`key/${(index * 7919) % 503}`);
  let command: KvCommand;
  switch (index % 11) {
    case 0:
      command = { type: 'delete', range: { prefix: utf8(`key/${index % 5}`) } };
      break;
    case 1:
      command = { type: 'lease-grant', ttlSeconds: 60 };
      break;
    case 2:
      command = { type: 'put', key, value: utf8(`leased ${index}`), lease: index - 1 };
      break;
    case 3:
      command = index > 500 ? { type: 'compact', revision: Math.floor(index / 2) } : { type: 'put', key, value: new Uint8Array(300).fill(index % 256) };
      break;
    case 4:
      command = { type: 'lease-revoke', id: index - 3 - 11 };
      break;
    default:
      command = {
        type: 'txn',
        compare: [{ key, target: 'version', operator: '<', value: 5 }],
        success: [{ type: 'put', key, value: utf8(`value ${index}`) }, { type: 'put', key: utf8(`mirror/${index % 97}`), value: key }],
        failure: [{ type: 'delete', range: { key } }],
      };
  }
  return { index, term: 1 + Math.floor(index / 1000), kind: 'command', data: encodeKvCommand(command) };
}

if (import.meta.main) {
  const directory = process.argv[2];
  if (directory === undefined) throw new Error('usage: crash-child.ts <directory>');
  const node = openKvState({ path: directory });
  let next = node.state.appliedIndex() + 1;
  process.stdout.write(`started at ${next}\n`);
  for (;;) {
    const batch: AppliedEntry[] = [];
    const size = 1 + (next % 37);
    for (let count = 0; count < size; count++) batch.push(crashWorkloadEntry(next++));
    node.state.apply(batch);
    // Yield now and then so lmdb's flush callbacks run, as in a real node.
    if (next % 200 < size) await new Promise((resolve) => setImmediate(resolve));
  }
}
