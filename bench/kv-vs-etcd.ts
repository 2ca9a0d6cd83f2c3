// `node bench/kv-vs-etcd.ts [--duration 10s] [--concurrency 1,64,256] [--kills 10] [--json] [--skip-etcd]`
//
// The KV benchmark of docs/performance.md: the same workloads against a 3-member etcd (Debian's
// etcd-server, driven by its own Go client, built offline from golang-etcd-server-dev) and a
// 3-node Cairn cluster (fsync on), one after the other on this machine, then Cairn's leader
// failover time over several SIGKILLs. Prints a table with the ratios and each generator's CPU.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runKvLoad } from '../src/cli/bench/kv-load.ts';
import type { KvLoadResult } from '../src/cli/bench/kv-load.ts';
import { CairnClient } from '../src/client/index.ts';
import { LocalCluster, findFreeBasePort } from '../src/local/index.ts';
import { measureFailover } from './failover.ts';
import type { FailoverResult } from './failover.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,64,256' },
    'read-concurrency': { type: 'string', default: '64' },
    kills: { type: 'string', default: '10' },
    'skip-etcd': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const durationSeconds = Number(values.duration);
const putConcurrencies = values.concurrency.split(',').map(Number);
const readConcurrency = Number(values['read-concurrency']);
const kills = Number(values.kills);

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

async function benchEtcd(directory: string): Promise<Round[]> {
  requireEtcdTools();
  note('building the etcd load generator (Go, offline)...');
  const binary = buildEtcdLoad(directory);
  const { endpoints, processes } = await startEtcd(directory, await findFreeBasePort(3));
  try {
    note(`etcd 3-member cluster up at ${endpoints.join(', ')}`);
    const rounds: Round[] = [];
    for (const { workload, concurrency, readRatio } of workloads) {
      note(`etcd: ${workload}, concurrency ${concurrency}, ${durationSeconds}s`);
      rounds.push({ ...runEtcdLoad(binary, endpoints, concurrency, readRatio), workload });
    }
    return rounds;
  } finally {
    for (const child of processes) child.kill('SIGKILL');
  }
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

async function benchCairn(directory: string): Promise<{ rounds: Round[]; entriesPerFsync: number | undefined; failover: FailoverResult }> {
  const cluster = LocalCluster.create({ directory: join(directory, 'cairn'), nodes: 3, basePort: await findFreeBasePort(3) });
  try {
    await cluster.up({ onProgress: (message) => note(`cairn: ${message}`) });
    const rounds: Round[] = [];
    for (const { workload, concurrency, readRatio } of workloads) {
      note(`cairn: ${workload}, concurrency ${concurrency}, ${durationSeconds}s`);
      const endpoint = await leaderEndpoint(cluster);
      const result: KvLoadResult = await runKvLoad({
        endpoints: [endpoint], concurrency, durationMs: durationSeconds * 1000, valueBytes: 256, readRatio, keys: 1000, serializable: false,
      });
      rounds.push({ workload, ...result });
    }
    const perFsync = await entriesPerFsync(await leaderEndpoint(cluster));
    note(`cairn: leader failover over ${kills} SIGKILLs`);
    const failover = await measureFailover(cluster, kills, note);
    return { rounds, entriesPerFsync: perFsync, failover };
  } finally {
    await cluster.destroy();
  }
}

// ---- report ----

function formatTable(etcd: Round[] | undefined, cairn: Round[]): string {
  const header = ['workload', 'c', 'etcd ops/s', 'etcd p50', 'etcd p99', 'cairn ops/s', 'cairn p50', 'cairn p99', 'cairn/etcd', 'gen CPU etcd', 'gen CPU cairn'];
  const rows = cairn.map((round, position) => {
    const other = etcd?.[position];
    return [
      round.workload, String(round.concurrency),
      other === undefined ? '-' : other.opsPerSecond.toFixed(0), other === undefined ? '-' : other.p50Ms.toFixed(2), other === undefined ? '-' : other.p99Ms.toFixed(2),
      round.opsPerSecond.toFixed(0), round.p50Ms.toFixed(2), round.p99Ms.toFixed(2),
      other === undefined ? '-' : (round.opsPerSecond / other.opsPerSecond).toFixed(2),
      other === undefined ? '-' : `${other.generatorCpuPercentOfCore.toFixed(0)}%`, `${round.generatorCpuPercentOfCore.toFixed(0)}%`,
    ];
  });
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

const directory = mkdtempSync(join(tmpdir(), 'cairn-kv-bench-'));
try {
  const etcd = values['skip-etcd'] ? undefined : await benchEtcd(directory);
  const cairn = await benchCairn(directory);
  const summary = { machine: { cpus: (await import('node:os')).availableParallelism(), node: process.version }, durationSeconds, etcd, cairn };
  console.log(formatTable(etcd, cairn.rounds));
  console.log(`cairn entries per fsync (leader, whole run): ${cairn.entriesPerFsync?.toFixed(1) ?? 'n/a'}`);
  const { failover } = cairn;
  console.log(`cairn leader failover (SIGKILL -> next acknowledged write) over ${failover.samplesMs.length} kills: p50 ${failover.p50Ms.toFixed(0)} ms, p99 ${failover.p99Ms.toFixed(0)} ms, max ${failover.maxMs.toFixed(0)} ms`);
  if (values.json) console.log(JSON.stringify(summary));
} finally {
  rmSync(directory, { recursive: true, force: true });
}
