// Shared by the integration tests: run the real `cairn` command, make local clusters on free
// ports in temporary directories, and make sure nothing outlives the test — even when it fails
// or the test process is interrupted (node processes are detached, so they are killed here).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { CairnClient, isCairnClientError } from '../../src/client/index.ts';
import { CAIRN_BIN, LocalCluster, findFreeBasePort } from '../../src/local/index.ts';
import type { LocalClusterOptions } from '../../src/local/index.ts';

export interface CairnRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fast Raft timings for tests (20 ms ticks, 200 ms election timeout). */
export const FAST_SERVE_FLAGS = ['--tick-ms', '20', '--election-timeout-ticks', '10', '--request-timeout-ms', '3000', '--ready-timeout-ms', '1000', '--process-metrics', 'false', '--log-level', 'info'];

const spawned = new Set<number>();
const clusters = new Set<LocalCluster>();
const directories = new Set<string>();

// Last resort: a test process that exits (or is interrupted) takes its node processes along.
function killEverything(): void {
  for (const cluster of clusters) {
    for (const node of cluster.nodes()) {
      if (node.pid !== null && cluster.processOf(node.id) === 'ours') {
        try {
          process.kill(node.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
  for (const pid of spawned) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
}
process.once('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killEverything();
    process.exit(130);
  });
}

export function temporaryDirectory(prefix = 'cairn-it-'): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  directories.add(directory);
  return directory;
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
  directories.delete(directory);
}

/** Runs `cairn <args>` to completion (killed after timeoutMs); CAIRN_* variables only as given. */
export function runCairn(args: readonly string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<CairnRun> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CAIRN_')));
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'], cwd: options.cwd ?? tmpdir() });
  if (child.pid !== undefined) spawned.add(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) spawned.delete(child.pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `cairn` process left running (serve, watch); killed at exit if the test forgets. */
export function startCairn(args: readonly string[], options: { env?: Record<string, string> } = {}): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CAIRN_')));
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], { env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
  if (child.pid !== undefined) spawned.add(child.pid);
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => {
    if (child.pid !== undefined) spawned.delete(child.pid);
    resolve(code);
  }));
  return { child, output: () => text, exited };
}

/** Parses the last non-empty stdout line as JSON (every --json command prints one document). */
export function jsonOf(run: CairnRun): any {
  const lines = run.stdout.trim().split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new Error(`no JSON output (exit ${run.code}); stderr: ${run.stderr}`);
  return JSON.parse(lines[lines.length - 1]!);
}

/** A started, formed local cluster on free ports in a temporary directory. */
export async function startLocalCluster(options: Omit<LocalClusterOptions, 'directory' | 'basePort'> & { nodes: number }): Promise<LocalCluster> {
  const directory = temporaryDirectory();
  const cluster = LocalCluster.create({ ...options, directory: join(directory, 'cluster'), basePort: await findFreeBasePort(options.nodes) });
  clusters.add(cluster);
  await cluster.up({ timeoutMs: 60_000 });
  return cluster;
}

/** Stops the cluster's processes and removes its directory. */
export async function destroyLocalCluster(cluster: LocalCluster): Promise<void> {
  // CAIRN_KEEP_TEST_CLUSTERS=1 stops the nodes but keeps their directory (logs, data) to look into.
  const keep = process.env['CAIRN_KEEP_TEST_CLUSTERS'] === '1';
  try {
    await (keep ? cluster.down({ timeoutMs: 5000 }) : cluster.destroy());
  } finally {
    clusters.delete(cluster);
    if (keep) {
      directories.delete(join(cluster.directory, '..'));
      process.stdout.write(`# kept ${cluster.directory}\n`);
    } else {
      removeDirectory(join(cluster.directory, '..'));
    }
  }
}

/** Registers a cluster made by other means (e.g. `cairn local up`) for the exit safety net. */
export function trackCluster(cluster: LocalCluster): void {
  clusters.add(cluster);
}

export function untrackCluster(cluster: LocalCluster): void {
  clusters.delete(cluster);
}

export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (let delayMs = 20; ; delayMs = Math.min(500, delayMs * 1.5)) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError === undefined ? '' : `: ${(lastError as Error).message}`}`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

/** Writes key=value through `client`; true when acknowledged. Unknown outcomes are neither. */
export async function write(client: CairnClient, key: string, value: string): Promise<boolean> {
  try {
    await client.put(key, value);
    return true;
  } catch (error) {
    if (isCairnClientError(error)) return false;
    throw error;
  }
}

/** Node `id` holds every acknowledged pair in its own state, once it has applied the leader's commit index. */
export async function assertHasAll(cluster: LocalCluster, id: number, acknowledged: ReadonlyMap<string, string>, prefix: string): Promise<Map<string, string>> {
  const node = cluster.node(id);
  const client = new CairnClient({ endpoints: [node.client], timeoutMs: 5000 });
  try {
    const leader = await cluster.waitForLeader(15_000);
    const target = (await client.status({ scope: 'local', endpoint: cluster.node(leader).client })).node.commitIndex;
    await eventually(`node ${id} to apply ${target}`, 15_000, async () => ((await client.status({ scope: 'local' })).node.appliedIndex >= target ? true : undefined));
    const present = new Map<string, string>();
    for await (const kv of client.scanAll({ prefix, consistency: 'serializable' })) present.set(kv.key.toString(), kv.value.toString());
    const missing = [...acknowledged].filter(([key, value]) => present.get(key) !== value);
    assert.deepEqual(missing, [], `node ${id} lost acknowledged writes`);
    return present;
  } finally {
    client.close();
  }
}
