// The compatibility matrix (docs/kafka-compatibility.md) is generated from the real-client tests:
// each test of a client × feature is wrapped in `compatible(...)`, which records pass/fail/skip
// and its duration; when CAIRN_KAFKA_RESULTS names a directory (compatibility-report.ts sets it),
// the rows are written there as JSON when the test file ends. Also here: finding the external
// client tools, which a test may skip only outside CI.
import { after } from 'node:test';
import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CompatibilityResult, CompatibilityRow, Feature } from './compatibility-features.ts';

export { FEATURES } from './compatibility-features.ts';
export type { Feature } from './compatibility-features.ts';

const rows: CompatibilityRow[] = [];
let clientVersions: Record<string, string> = {};

after(() => {
  const directory = process.env['CAIRN_KAFKA_RESULTS'];
  if (directory === undefined || rows.length === 0) return;
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${rows[0]!.client.replace(/[^a-z0-9-]/gi, '_')}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ rows, clientVersions }, null, 2));
});

export function recordClientVersion(client: string, version: string): void {
  clientVersions = { ...clientVersions, [client]: version };
}

/** Marks a feature the client itself does not have (a cell of the matrix, not a test). */
export function notApplicable(client: string, feature: Feature, why: string): void {
  rows.push({ client, feature, test: '', result: 'n/a', detail: why, durationMs: 0 });
}

/** Wraps a test body: its outcome becomes one row of the matrix per feature it proves. */
export function compatible(client: string, features: Feature | readonly Feature[], body: (context: TestContext) => Promise<string | void>): (context: TestContext) => Promise<void> {
  const list = typeof features === 'string' ? [features] : features;
  return async (context) => {
    const started = performance.now();
    const record = (result: CompatibilityResult, detail: string): void => {
      for (const feature of list) rows.push({ client, feature, test: context.name, result, detail, durationMs: Math.round(performance.now() - started) });
    };
    try {
      const detail = await body(context);
      record(skipped.has(context) ? 'skip' : 'pass', skipped.get(context) ?? detail ?? '');
    } catch (error) {
      record('fail', (error as Error).message.split('\n')[0]!.slice(0, 200));
      throw error;
    }
  };
}

const skipped = new WeakMap<TestContext, string>();

/**
 * Whether `command --version`-style probing finds the tool. A missing tool skips the test outside
 * CI; in CI (CI=true) it fails it, because CI must prove every client.
 */
export function toolAvailable(context: TestContext, name: string, probe: readonly string[]): boolean {
  const run = spawnSync(probe[0]!, probe.slice(1), { encoding: 'utf8', timeout: 20_000 });
  if (run.status === 0) return true;
  const why = `${name} is not installed (${probe.join(' ')} failed): apt-get install -y kcat python3-kafka python3-confluent-kafka`;
  if (process.env['CI'] === 'true') throw new Error(`${why}; CI must run every client`);
  skipped.set(context, why);
  context.skip(why);
  return false;
}
