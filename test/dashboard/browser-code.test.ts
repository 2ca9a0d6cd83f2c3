// The dashboard's browser code (plain ES modules in src/server/http/dashboard/assets/, served as
// they are) is type-checked with JSDoc against the DOM and the server's wire types by its own
// tsconfig: the root `tsc -p .` does not see .js files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

test('the browser code type-checks (tsc -p src/server/http/dashboard/tsconfig.json)', () => {
  const project = fileURLToPath(new URL('../../src/server/http/dashboard/tsconfig.json', import.meta.url));
  const run = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});
