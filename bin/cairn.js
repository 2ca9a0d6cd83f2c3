#!/usr/bin/env node
// The `cairn` executable. Cairn's sources are TypeScript run directly by Node's type stripping,
// which needs Node 24 (the project pins it as the `node` devDependency, so `npm start`,
// `npx cairn` and npm scripts get it). Refuse older runtimes with a message that says what to do.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `cairn needs Node.js 24 or newer; this is ${process.version}.\n` +
      'Run it through npm (npx cairn ..., npm start) after `npm ci` to use the pinned Node 24.\n',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
