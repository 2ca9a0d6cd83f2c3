// Enforces the layering of ../shared/DESIGN.md ("Layers and who may import whom"): a folder of
// src/ may import only folders listed above it, and src/core/ stays free of I/O, clocks,
// randomness and every other folder. Checked by reading the sources, so a violation fails CI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const sourceRoot = resolve(import.meta.dirname, '..', 'src');

/** Top-level folders of src/, in DESIGN.md order; util/ (dependency-free helpers) sits right under core/. */
export const LAYER_ORDER = [
  'core', 'util', 'check', 'storage', 'transport', 'protocol', 'state', 'runtime',
  'server', 'client', 'local', 'sim', 'chaos', 'cli',
] as const;

/** The core's own sub-layers, in the same "only import what is above" sense. */
const CORE_ORDER = ['assert.ts', 'types.ts', 'quorum', 'tracker', 'confchange', 'raft', 'index.ts'] as const;

function listSources(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return listSources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of source.matchAll(pattern)) specifiers.push((match[1] ?? match[2])!);
  return specifiers;
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function layerOf(file: string): string {
  return relative(sourceRoot, file).split(sep)[0]!;
}

function coreLayerOf(file: string): string {
  return relative(join(sourceRoot, 'core'), file).split(sep)[0]!;
}

const files = listSources(sourceRoot).filter((file) => !file.endsWith('.test.ts'));

test('every folder of src/ is a known layer', () => {
  for (const file of files) {
    assert.ok((LAYER_ORDER as readonly string[]).includes(layerOf(file)), `${relative(sourceRoot, file)} is outside the known layers`);
  }
});

test('folders import only folders listed above them', () => {
  const violations: string[] = [];
  for (const file of files) {
    const layer = layerOf(file);
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(sourceRoot + sep)) {
        violations.push(`${relative(sourceRoot, file)} imports ${specifier}, outside src/`);
        continue;
      }
      const targetLayer = layerOf(target);
      if (targetLayer === layer) continue;
      const order = LAYER_ORDER as readonly string[];
      if (order.indexOf(targetLayer) > order.indexOf(layer)) {
        violations.push(`${relative(sourceRoot, file)} (${layer}) imports ${specifier} (${targetLayer}), which is below it`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('src/core uses no I/O, clock, randomness, timers or packages', () => {
  const forbidden: [RegExp, string][] = [
    [/\bDate\b/, 'Date'],
    [/Math\.random/, 'Math.random'],
    [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|process|performance|require)\b/, 'a timer, process or require'],
  ];
  const violations: string[] = [];
  for (const file of files.filter((path) => layerOf(path) === 'core')) {
    const source = stripComments(readFileSync(file, 'utf8'));
    const name = relative(sourceRoot, file);
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith('.')) violations.push(`${name} imports the package ${specifier}`);
      else if (layerOf(resolve(dirname(file), specifier)) !== 'core') violations.push(`${name} imports ${specifier} outside core`);
    }
    for (const [pattern, what] of forbidden) if (pattern.test(source)) violations.push(`${name} uses ${what}`);
  }
  assert.deepEqual(violations, []);
});

test('core sub-layers import only those above them (types, quorum, tracker, confchange, raft, index)', () => {
  const violations: string[] = [];
  const order = CORE_ORDER as readonly string[];
  for (const file of files.filter((path) => layerOf(path) === 'core')) {
    const layer = coreLayerOf(file);
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), specifier);
      const targetLayer = coreLayerOf(target);
      if (targetLayer === layer || !order.includes(targetLayer) || !order.includes(layer)) continue;
      if (order.indexOf(targetLayer) > order.indexOf(layer)) violations.push(`core/${layer} imports core/${targetLayer}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the layer checker itself notices a violation', () => {
  const sample = "import { x } from '../runtime/node.ts';\nexport { y } from './y.ts';\nconst z = await import('../sim/z.ts');";
  assert.deepEqual(importsOf(sample), ['../runtime/node.ts', './y.ts', '../sim/z.ts']);
  assert.equal(stripComments('a // Date.now()\n/* Math.random */ b').includes('Date'), false);
});
