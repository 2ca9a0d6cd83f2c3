// `node bench/kv-vs-etcd.ts [--duration 10] [--rounds 3] [--concurrency 1,64,256] [--kills 10] [--json] [--skip-etcd] [--keep]`
//
// The KV benchmark of docs/performance.md: the same workloads against a 3-member etcd (Debian's
// etcd-server, driven by its own Go client, built offline from golang-etcd-server-dev) and a
// 3-node Cairn cluster (fsync on), both running on this machine, then Cairn's leader failover
// time over several SIGKILLs. This machine's disk and CPU are shared and their speed drifts
// by tens of percent from one minute to the next, so the two systems take turns: each workload
// runs `--rounds` times on each, alternating which goes first, and the table shows medians (the
// ratio is the median of the rounds' ratios). Prints each generator's CPU share too.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKvLoad } from '../src/cli/bench/kv-load.ts';
import type { KvLoadResult } from '../src/cli/bench/kv-load.ts';
import { CairnClient } from '../src/client/index.ts';
import { LocalCluster, findFreeBasePort } from '../src/local/index.ts';
import { integerOption, parseBenchArgs } from './args.ts';
import { median } from './stats.ts';
import { measureFailover } from './failover.ts';

const values = parseBenchArgs('node bench/kv-vs-etcd.ts [options]\nKV puts and linearizable gets on a local 3-node Cairn cluster against a 3-member etcd, then leader failover.', {
  duration: { type: 'string', default: '10', description: 'seconds per round' },
  rounds: { type: 'string', default: '3', description: 'rounds per workload and system (medians are shown)' },
  concurrency: { type: 'string', default: '1,64,256', description: 'comma-separated concurrencies of the put workloads' },
  'read-concurrency': { type: 'string', default: '64', description: 'concurrency of the linearizable get workload' },
  kills: { type: 'string', default: '10', description: 'leader kills for the failover figure (0: skip it)' },
  'skip-etcd': { type: 'boolean', default: false, description: 'measure Cairn only' },
  keep: { type: 'boolean', default: false, description: "keep the clusters' directories (data and node logs) for a look afterwards" },
  json: { type: 'boolean', default: false, description: 'print the figures as JSON too' },
});
const durationSeconds = integerOption('duration', values.duration);
const putConcurrencies = values.concurrency.split(',').map((text) => integerOption('concurrency', text));
const readConcurrency = integerOption('read-concurrency', values['read-concurrency']);
const kills = integerOption('kills', values.kills, 0);
const rounds = integerOption('rounds', values.rounds);

interface Round {
  readonly workload: string;
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly generatorCpuPercentOfCore: number;
}

const workloads = [
  ...putConcurrencies.map((concurrency) => ({ workload: 'put', concurrency, readRatio: 0 })),
  { workload: 'linearizable get', concurrency: readConcurrency, readRatio: 1 },
];

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ---- etcd ----

function requireEtcdTools(): void {
  const missing = [
    ['etcd', 'etcd-server'], ['go', 'golang-go'],
  ].filter(([binary]) => spawnSync('which', [binary!]).status !== 0).map(([, pkg]) => pkg!);
  if (!existsSync('/usr/share/gocode/src/go.etcd.io/etcd/clientv3')) missing.push('golang-etcd-server-dev');
  if (missing.length > 0) {
    note(`etcd comparison needs Debian packages: apt-get install -y ${missing.join(' ')} (or run with --skip-etcd)`);
    process.exit(2);
  }
}

function buildEtcdLoad(directory: string): string {
  const binary = join(directory, 'etcd-load');
  const built = spawnSync('go', ['build', '-o', binary, './bench/etcd-load'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(directory, 'gocache'), GOFLAGS: '' },
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`building the etcd load generator failed:\n${built.stderr}`);
  return binary;
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 1000)) {
    if (await condition().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startEtcd(directory: string, basePort: number): Promise<{ endpoints: string[]; processes: ChildProcess[] }> {
  const names = [1, 2, 3].map((id) => `e${id}`);
  const peer = (id: number): string => `http://127.0.0.1:${basePort + 10 * (id - 1) + 1}`;
  const client = (id: number): string => `127.0.0.1:${basePort + 10 * (id - 1)}`;
  const initialCluster = names.map((name, position) => `${name}=${peer(position + 1)}`).join(',');
  const processes = names.map((name, position) => spawn('etcd', [
    '--name', name, '--data-dir', join(directory, name),
    '--listen-peer-urls', peer(position + 1), '--initial-advertise-peer-urls', peer(position + 1),
    '--listen-client-urls', `http://${client(position + 1)}`, '--advertise-client-urls', `http://${client(position + 1)}`,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--log-level', 'error',
  ], { stdio: 'ignore' }));
  const endpoints = [1, 2, 3].map(client);
  for (const endpoint of endpoints) {
    await waitFor(async () => (await fetch(`http://${endpoint}/health`)).ok, `etcd at ${endpoint}`);
  }
  return { endpoints, processes };
}

function runEtcdLoad(binary: string, endpoints: string[], concurrency: number, readRatio: number): Round & { workload: string } {
  const run = spawnSync(binary, [
    '--endpoints', endpoints.join(','), '--concurrency', String(concurrency), '--duration', `${durationSeconds}s`,
    '--value-size', '256', '--read-ratio', String(readRatio), '--keys', '1000', '--target', 'leader',
  ], { encoding: 'utf8', timeout: (durationSeconds + 60) * 1000 });
  if (run.status !== 0) throw new Error(`etcd-load failed: ${run.stderr}`);
  const result = JSON.parse(run.stdout.trim()) as { opsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; generatorCpuSeconds: number; elapsedMs: number };
  return {
    workload: '', concurrency, opsPerSecond: result.opsPerSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors,
    generatorCpuPercentOfCore: (result.generatorCpuSeconds / (result.elapsedMs / 1000)) * 100,
  };
}

interface Contender {
  readonly name: 'etcd' | 'cairn';
  run(workload: (typeof workloads)[number]): Promise<Round>;
  stop(): Promise<void>;
}

async function startEtcdContender(directory: string): Promise<Contender> {
  requireEtcdTools();
  note('building the etcd load generator (Go, offline)...');
  const binary = buildEtcdLoad(directory);
  const { endpoints, processes } = await startEtcd(directory, await findFreeBasePort(3));
  note(`etcd 3-member cluster up at ${endpoints.join(', ')}`);
  return {
    name: 'etcd',
    run: async ({ workload, concurrency, readRatio }) => ({ ...runEtcdLoad(binary, endpoints, concurrency, readRatio), workload }),
    stop: async () => {
      for (const child of processes) child.kill('SIGKILL');
    },
  };
}

// ---- Cairn ----

async function leaderEndpoint(cluster: LocalCluster): Promise<string> {
  const client = cluster.client();
  try {
    const status = await client.status();
    return status.members.find((member) => member.id === status.leaderId)!.client;
  } finally {
    client.close();
  }
}

async function entriesPerFsync(endpoint: string): Promise<number | undefined> {
  const client = new CairnClient({ endpoints: [endpoint] });
  try {
    const text = await client.metrics(endpoint);
    const sum = /cairn_wal_entries_per_fsync_sum (\S+)/.exec(text)?.[1];
    const count = /cairn_wal_entries_per_fsync_count (\S+)/.exec(text)?.[1];
    return sum === undefined || count === undefined || Number(count) === 0 ? undefined : Number(sum) / Number(count);
  } finally {
    client.close();
  }
}

async function startCairnContender(cluster: LocalCluster): Promise<Contender> {
  await cluster.up({ onProgress: (message) => note(`cairn: ${message}`) });
  return {
    name: 'cairn',
    run: async ({ workload, concurrency, readRatio }) => {
      const endpoint = await leaderEndpoint(cluster);
      const result: KvLoadResult = await runKvLoad({
        endpoints: [endpoint], concurrency, durationMs: durationSeconds * 1000, valueBytes: 256, readRatio, keys: 1000, serializable: false,
      });
      return { workload, ...result };
    },
    stop: async () => {},
  };
}

interface Comparison {
  readonly workload: string;
  readonly concurrency: number;
  readonly etcd: Round[];
  readonly cairn: Round[];
}

/** Every workload `rounds` times on each contender, alternating which one goes first. */
async function compare(contenders: readonly Contender[]): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  for (const workload of workloads) {
    const comparison: Comparison = { workload: workload.workload, concurrency: workload.concurrency, etcd: [], cairn: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const result = await contender.run(workload);
        comparison[contender.name].push(result);
        note(`${contender.name}: ${workload.workload}, concurrency ${workload.concurrency}, round ${round + 1}/${rounds}: ` +
          `${result.opsPerSecond.toFixed(0)} ops/s, p99 ${result.p99Ms.toFixed(1)} ms`);
      }
    }
    comparisons.push(comparison);
  }
  return comparisons;
}

// ---- report ----

interface Row {
  readonly workload: string;
  readonly concurrency: number;
  readonly etcd: Summary | undefined;
  readonly cairn: Summary;
  /** Median over the rounds of cairn ops/s ÷ etcd ops/s in the same round. */
  readonly ratio: number | undefined;
}

interface Summary {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly generatorCpuPercentOfCore: number;
}

function summarize(results: readonly Round[]): Summary {
  return {
    opsPerSecond: median(results.map((result) => result.opsPerSecond)),
    p50Ms: median(results.map((result) => result.p50Ms)),
    p99Ms: median(results.map((result) => result.p99Ms)),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    generatorCpuPercentOfCore: median(results.map((result) => result.generatorCpuPercentOfCore)),
  };
}

function toRow(comparison: Comparison): Row {
  const hasEtcd = comparison.etcd.length > 0;
  return {
    workload: comparison.workload,
    concurrency: comparison.concurrency,
    etcd: hasEtcd ? summarize(comparison.etcd) : undefined,
    cairn: summarize(comparison.cairn),
    ratio: hasEtcd ? median(comparison.cairn.map((result, round) => result.opsPerSecond / comparison.etcd[round]!.opsPerSecond)) : undefined,
  };
}

function formatTable(rows: readonly Row[]): string {
  const header = ['workload', 'c', 'etcd ops/s', 'etcd p50', 'etcd p99', 'cairn ops/s', 'cairn p50', 'cairn p99', 'cairn/etcd', 'errors e/c', 'gen CPU etcd', 'gen CPU cairn'];
  const cells = rows.map(({ workload, concurrency, etcd, cairn, ratio }) => [
    workload, String(concurrency),
    etcd?.opsPerSecond.toFixed(0) ?? '-', etcd?.p50Ms.toFixed(2) ?? '-', etcd?.p99Ms.toFixed(2) ?? '-',
    cairn.opsPerSecond.toFixed(0), cairn.p50Ms.toFixed(2), cairn.p99Ms.toFixed(2),
    ratio?.toFixed(2) ?? '-', `${etcd?.errors ?? '-'}/${cairn.errors}`,
    etcd === undefined ? '-' : `${etcd.generatorCpuPercentOfCore.toFixed(0)}%`, `${cairn.generatorCpuPercentOfCore.toFixed(0)}%`,
  ]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...cells.map((row) => row[column]!.length)));
  return [header, ...cells].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

const directory = mkdtempSync(join(tmpdir(), 'cairn-kv-bench-'));
const contenders: Contender[] = [];
let cluster: LocalCluster | undefined;
/** A run that failed keeps its directory (node logs included) whatever --keep says. */
let failed = true;
try {
  if (!values['skip-etcd']) contenders.push(await startEtcdContender(directory));
  // Ports are picked once etcd listens, so the two clusters never ask for the same ones.
  cluster = LocalCluster.create({ directory: join(directory, 'cairn'), nodes: 3, basePort: await findFreeBasePort(3) });
  contenders.push(await startCairnContender(cluster));
  const comparisons = await compare(contenders);
  const perFsync = await entriesPerFsync(await leaderEndpoint(cluster));
  // etcd stops before the kills: the failover figure is Cairn's alone.
  for (const contender of contenders) await contender.stop();
  note(`cairn: leader failover over ${kills} SIGKILLs`);
  let failover: Awaited<ReturnType<typeof measureFailover>> | undefined;
  let failoverError: Error | undefined;
  try {
    failover = kills > 0 ? await measureFailover(cluster, kills, note) : undefined;
  } catch (error) {
    failoverError = error as Error;
  }
  const rows = comparisons.map(toRow);
  console.log(`medians of ${rounds} alternating rounds of ${durationSeconds} s each (ratio: median of the rounds' ratios)`);
  console.log(formatTable(rows));
  console.log(`cairn entries per fsync (leader, whole run): ${perFsync?.toFixed(1) ?? 'n/a'}`);
  if (failover !== undefined) {
    console.log(`cairn leader failover (SIGKILL -> next acknowledged write) over ${failover.samplesMs.length} kills: p50 ${failover.p50Ms.toFixed(0)} ms, p99 ${failover.p99Ms.toFixed(0)} ms, max ${failover.maxMs.toFixed(0)} ms`);
  }
  if (failoverError !== undefined) console.log(`cairn leader failover FAILED: ${failoverError.message}`);
  const machine = { cpus: (await import('node:os')).availableParallelism(), node: process.version };
  if (values.json) console.log(JSON.stringify({ machine, durationSeconds, rounds, rows, comparisons, entriesPerFsync: perFsync, failover, failoverError: failoverError?.message }));
  failed = failoverError !== undefined;
  if (failed) process.exitCode = 1;
} finally {
  for (const contender of contenders) await contender.stop();
  if (values.keep || failed) {
    await cluster?.down();
    note(`kept: ${directory} (Cairn's node logs under cairn/node-*/node.log)`);
  } else {
    await cluster?.destroy();
    rmSync(directory, { recursive: true, force: true });
  }
}
