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

export type CompatibilityResult = 'pass' | 'fail' | 'skip';

export interface CompatibilityRow {
  readonly client: string;
  readonly feature: string;
  readonly result: CompatibilityResult;
  readonly detail: string;
  readonly durationMs: number;
}

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

/** Wraps a test body: its outcome becomes a row of the matrix. */
export function compatible(client: string, feature: string, body: (context: TestContext) => Promise<string | void>): (context: TestContext) => Promise<void> {
  return async (context) => {
    const started = performance.now();
    try {
      const detail = await body(context);
      rows.push({ client, feature, result: skipped.has(context) ? 'skip' : 'pass', detail: skipped.get(context) ?? detail ?? '', durationMs: Math.round(performance.now() - started) });
    } catch (error) {
      rows.push({ client, feature, result: 'fail', detail: (error as Error).message.split('\n')[0]!.slice(0, 200), durationMs: Math.round(performance.now() - started) });
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
