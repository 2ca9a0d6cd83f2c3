// `node bench/kafka-vs-nats.ts [--duration 10] [--json] [--skip-nats] [--keep]`
//
// The log benchmark of docs/performance.md: 1 KiB messages, acknowledged by a majority with
// fsync, against a 3-node NATS JetStream cluster (Debian nats-server; stream with 3 replicas, file
// storage; driven by NATS's Go client, built offline) and a 3-node Cairn cluster (Kafka protocol,
// acks=all, driven by the lean pipelined generator of `cairn bench produce`), with the same number
// of messages in flight, then reading everything back (Cairn: the lean Fetch consumer of
// `cairn bench consume`, which checks every batch's CRC, decodes every record and checks every
// offset). Prints msgs/s, MB/s, p99 acknowledgement latency, the ratios and each generator's CPU.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLeanConsumeLoad } from '../src/cli/bench/lean-consumer.ts';
import { runLeanProduceLoad } from '../src/cli/bench/lean-producer.ts';
import { LocalCluster, findFreeBasePort } from '../src/local/index.ts';
import { numberOption, parseBenchArgs } from './args.ts';

const values = parseBenchArgs('node bench/kafka-vs-nats.ts [options]\nKafka produce and consume on a local 3-node Cairn cluster against a 3-node NATS JetStream cluster.', {
  duration: { type: 'string', default: '10', description: 'seconds per produce workload' },
  'skip-nats': { type: 'boolean', default: false, description: 'measure Cairn only' },
  json: { type: 'boolean', default: false, description: 'print the figures as JSON too' },
  keep: { type: 'boolean', default: false, description: "keep the run's directory (Cairn's node logs) for a look afterwards" },
});
const durationSeconds = numberOption('duration', values.duration, 1);
const MESSAGE_BYTES = 1024;
/** Messages in flight, and how a Kafka client would carry them: requests × messages per request. */
const WINDOWS = [
  { inFlight: 1, requests: 1, batch: 1 },
  { inFlight: 64, requests: 8, batch: 8 },
  { inFlight: 1024, requests: 8, batch: 128 },
];

interface Row {
  readonly inFlight: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly ackP99Ms: number;
  readonly generatorCpuPercentOfCore: number;
}

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

function requireNatsTools(): void {
  const missing: string[] = [];
  if (spawnSync('which', ['nats-server']).status !== 0) missing.push('nats-server');
  if (spawnSync('which', ['go']).status !== 0) missing.push('golang-go');
  if (!existsSync('/usr/share/gocode/src/github.com/nats-io/nats.go')) missing.push('golang-github-nats-io-go-nats-dev');
  if (missing.length > 0) {
    note(`the NATS comparison needs Debian packages: apt-get install -y ${missing.join(' ')} (or run with --skip-nats)`);
    process.exit(2);
  }
}

function buildNatsLoad(directory: string): string {
  const binary = join(directory, 'nats-load');
  const built = spawnSync('go', ['build', '-o', binary, './bench/nats-load'], {
    cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(directory, 'gocache'), GOFLAGS: '' },
  });
  if (built.status !== 0) throw new Error(`building the NATS load generator failed:\n${built.stderr}`);
  return binary;
}

async function startJetStream(directory: string, basePort: number): Promise<{ servers: string; processes: ChildProcess[] }> {
  const routes = [1, 2, 3].map((id) => `nats-route://127.0.0.1:${basePort + 10 * (id - 1) + 1}`).join(', ');
  const processes = [1, 2, 3].map((id) => {
    const store = join(directory, `nats-${id}`);
    mkdirSync(store, { recursive: true });
    const config = join(directory, `nats-${id}.conf`);
    writeFileSync(config, [
      `server_name: n${id}`, `listen: 127.0.0.1:${basePort + 10 * (id - 1)}`, `jetstream { store_dir: ${JSON.stringify(store)} }`,
      `cluster { name: bench, listen: 127.0.0.1:${basePort + 10 * (id - 1) + 1}, routes: [${routes}] }`,
    ].join('\n'));
    return spawn('nats-server', ['-c', config], { stdio: 'ignore' });
  });
  const servers = [1, 2, 3].map((id) => `nats://127.0.0.1:${basePort + 10 * (id - 1)}`).join(',');
  return { servers, processes };
}

function natsLoad(binary: string, args: string[]): Record<string, number> {
  const run = spawnSync(binary, args, { encoding: 'utf8', timeout: (durationSeconds + 120) * 1000 });
  if (run.status !== 0) throw new Error(`nats-load ${args.join(' ')} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

async function benchJetStream(directory: string): Promise<{ rows: Row[]; consume: Row }> {
  requireNatsTools();
  note('building the NATS load generator (Go, offline)...');
  const binary = buildNatsLoad(directory);
  const { servers, processes } = await startJetStream(directory, await findFreeBasePort(3));
  try {
    // The cluster needs a moment to elect its meta leader; setup retries until it can create the stream.
    for (let attempt = 0; ; attempt++) {
      const setup = spawnSync(binary, ['-servers', servers, '-mode', 'setup'], { encoding: 'utf8' });
      if (setup.status === 0) break;
      if (attempt > 60) throw new Error(`JetStream did not come up: ${setup.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const rows: Row[] = [];
    for (const window of WINDOWS) {
      note(`jetstream: publish, ${window.inFlight} in flight, ${durationSeconds}s`);
      const result = natsLoad(binary, ['-servers', servers, '-mode', 'publish', '-size', String(MESSAGE_BYTES), '-window', String(window.inFlight), '-duration', `${durationSeconds}s`]);
      rows.push({
        inFlight: window.inFlight, messagesPerSecond: result['messagesPerSecond']!, megabytesPerSecond: result['megabytesPerSecond']!, ackP99Ms: result['ackP99Ms']!,
        generatorCpuPercentOfCore: (result['generatorCpuSeconds']! / (result['elapsedMs']! / 1000)) * 100,
      });
    }
    note('jetstream: consume from the start');
    const consumed = natsLoad(binary, ['-servers', servers, '-mode', 'consume', '-messages', '200000']);
    const consume = {
      inFlight: 0, messagesPerSecond: consumed['messagesPerSecond']!, megabytesPerSecond: consumed['megabytesPerSecond']!, ackP99Ms: 0,
      generatorCpuPercentOfCore: (consumed['generatorCpuSeconds']! / Math.max(0.001, consumed['elapsedMs']! / 1000)) * 100,
    };
    return { rows, consume };
  } finally {
    for (const child of processes) child.kill('SIGKILL');
  }
}

async function benchCairn(directory: string): Promise<{ rows: Row[]; consume: Row }> {
  const cluster = LocalCluster.create({ directory: join(directory, 'cairn'), nodes: 3, basePort: await findFreeBasePort(3) });
  try {
    await cluster.up({ onProgress: (message) => note(`cairn: ${message}`) });
    const brokers = (await cluster.status()).flatMap((node) => (node.kafka === null ? [] : [node.kafka]));
    const rows: Row[] = [];
    for (const window of WINDOWS) {
      note(`cairn: produce, ${window.requests} requests × ${window.batch} messages in flight, ${durationSeconds}s`);
      const result = await runLeanProduceLoad({
        brokers, topic: 'bench', partitions: 3, messageBytes: MESSAGE_BYTES, batch: window.batch, inFlight: window.requests,
        durationMs: durationSeconds * 1000, acks: -1, idempotent: false, compression: 'none',
      });
      rows.push({ inFlight: window.inFlight, messagesPerSecond: result.messagesPerSecond, megabytesPerSecond: result.megabytesPerSecond, ackP99Ms: result.ackP99Ms, generatorCpuPercentOfCore: result.generatorCpuPercentOfCore });
    }
    note('cairn: consume from the beginning');
    const consumed = await runLeanConsumeLoad({ brokers, topic: 'bench', messages: 200_000, timeoutMs: 120_000 });
    return { rows, consume: { inFlight: 0, messagesPerSecond: consumed.messagesPerSecond, megabytesPerSecond: consumed.megabytesPerSecond, ackP99Ms: 0, generatorCpuPercentOfCore: consumed.generatorCpuPercentOfCore } };
  } finally {
    if (values.keep) await cluster.down();
    else await cluster.destroy();
  }
}

function formatTable(nats: { rows: Row[]; consume: Row } | undefined, cairn: { rows: Row[]; consume: Row }): string {
  const header = ['workload', 'in flight', 'jetstream msgs/s', 'MB/s', 'p99 ms', 'cairn msgs/s', 'MB/s', 'p99 ms', 'MB/s ratio', 'gen CPU js', 'gen CPU cairn'];
  const line = (name: string, ours: Row, theirs: Row | undefined): string[] => [
    name, ours.inFlight === 0 ? '-' : String(ours.inFlight),
    theirs === undefined ? '-' : theirs.messagesPerSecond.toFixed(0), theirs === undefined ? '-' : theirs.megabytesPerSecond.toFixed(1), theirs === undefined || ours.inFlight === 0 ? '-' : theirs.ackP99Ms.toFixed(1),
    ours.messagesPerSecond.toFixed(0), ours.megabytesPerSecond.toFixed(1), ours.inFlight === 0 ? '-' : ours.ackP99Ms.toFixed(1),
    theirs === undefined ? '-' : (ours.megabytesPerSecond / theirs.megabytesPerSecond).toFixed(2),
    theirs === undefined ? '-' : `${theirs.generatorCpuPercentOfCore.toFixed(0)}%`, `${ours.generatorCpuPercentOfCore.toFixed(0)}%`,
  ];
  const rows = [...cairn.rows.map((row, position) => line('produce', row, nats?.rows[position])), line('consume', cairn.consume, nats?.consume)];
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

const directory = mkdtempSync(join(tmpdir(), 'cairn-log-bench-'));
try {
  const nats = values['skip-nats'] ? undefined : await benchJetStream(directory);
  const cairn = await benchCairn(directory);
  console.log(`${MESSAGE_BYTES} B messages, ${durationSeconds} s per round, ${availableParallelism()} CPUs, Node ${process.version}`);
  console.log(formatTable(nats, cairn));
  if (values.json) console.log(JSON.stringify({ durationSeconds, messageBytes: MESSAGE_BYTES, nats, cairn }));
} finally {
  if (values.keep) note(`kept: ${directory} (Cairn's node logs under cairn/node-*/node.log)`);
  else rmSync(directory, { recursive: true, force: true });
}
