// Runs every script in testdata/ and compares each command's output with the golden text.
// Golden files change only on purpose: `npm run test:interaction -- --rewrite` (or
// CAIRN_REWRITE=1) rewrites them from the actual output; review the diff before committing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './commands.ts';
import { Environment } from './environment.ts';
import { parseScript, renderScript } from './script.ts';

const directory = join(import.meta.dirname, 'testdata');
const rewrite = process.argv.includes('--rewrite') || process.env['CAIRN_REWRITE'] === '1';

for (const file of readdirSync(directory).filter((name) => name.endsWith('.txt')).sort()) {
  test(`interaction ${file}`, () => {
    const path = join(directory, file);
    const blocks = parseScript(readFileSync(path, 'utf8'), file);
    const environment = new Environment();
    const outputs: string[] = [];
    for (const block of blocks) {
      let output: string;
      try {
        output = runCommand(environment, block);
      } catch (error) {
        output = `error: ${(error as Error).message}`;
      }
      outputs.push(output);
      if (!rewrite) assert.equal(output, block.expected, `${file}:${block.line}: output of "${block.commandLine}" differs`);
    }
    if (rewrite) writeFileSync(path, renderScript(blocks, outputs));
  });
}
