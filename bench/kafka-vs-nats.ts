// `node bench/kafka-vs-nats.ts [--duration 10] [--rounds 3] [--json] [--skip-nats] [--keep]`
//
// The log benchmark of docs/performance.md: 1 KiB messages, acknowledged by a majority with
// fsync, against a 3-node NATS JetStream cluster (Debian nats-server; stream with 3 replicas, file
// storage; driven by NATS's Go client, built offline) and a 3-node Cairn cluster (Kafka protocol,
// acks=all, driven by the lean pipelined generator of `cairn bench produce`), with the same number
// of messages in flight, then reading back from the start (Cairn: the lean Fetch consumer of
// `cairn bench consume`, which checks every batch's CRC, decodes every record and checks every
// offset). Prints msgs/s, MB/s, p99 acknowledgement latency, the ratios and each generator's CPU.
//
// Both clusters are up at once and take turns: every workload runs `--rounds` times on each,
// alternating which goes first, and each run starts after a sync(1), so that neither pays for the
// other's writeback. The table shows medians; a ratio is the median of the rounds' ratios. On a
// machine whose disk and CPU speed drift by tens of percent within minutes, one run per system
// compared two moments, not two systems.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLeanConsumeLoad } from '../src/cli/bench/lean-consumer.ts';
import { runLeanProduceLoad } from '../src/cli/bench/lean-producer.ts';
import { LocalCluster, findFreeBasePort } from '../src/local/index.ts';
import { integerOption, numberOption, parseBenchArgs } from './args.ts';
import { median } from './stats.ts';

const values = parseBenchArgs('node bench/kafka-vs-nats.ts [options]\nKafka produce and consume on a local 3-node Cairn cluster against a 3-node NATS JetStream cluster.', {
  duration: { type: 'string', default: '10', description: 'seconds per produce round' },
  rounds: { type: 'string', default: '3', description: 'rounds per workload and system (medians are shown)' },
  'skip-nats': { type: 'boolean', default: false, description: 'measure Cairn only' },
  json: { type: 'boolean', default: false, description: 'print the figures as JSON too' },
  keep: { type: 'boolean', default: false, description: "keep the run's directory (Cairn's node logs) for a look afterwards" },
});
const durationSeconds = numberOption('duration', values.duration, 1);
const rounds = integerOption('rounds', values.rounds);
const MESSAGE_BYTES = 1024;
/** Messages in flight, and how a Kafka client would carry them: requests × messages per request. */
const WINDOWS = [
  { inFlight: 1, requests: 1, batch: 1 },
  { inFlight: 64, requests: 8, batch: 8 },
  { inFlight: 1024, requests: 8, batch: 128 },
];

/** One round of one workload on one system; inFlight 0 is the consume workload. */
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

/** A system under test, up until stop(). */
interface Contender {
  readonly name: 'jetstream' | 'cairn';
  produce(window: (typeof WINDOWS)[number]): Promise<Row>;
  consume(): Promise<Row>;
  stop(): Promise<void>;
}

const CONSUME_MESSAGES = 200_000;

async function startJetStreamContender(directory: string): Promise<Contender> {
  requireNatsTools();
  note('building the NATS load generator (Go, offline)...');
  const binary = buildNatsLoad(directory);
  const { servers, processes } = await startJetStream(directory, await findFreeBasePort(3));
  const stop = async (): Promise<void> => {
    for (const child of processes) child.kill('SIGKILL');
  };
  try {
    // The cluster needs a moment to elect its meta leader; setup retries until it can create the stream.
    for (let attempt = 0; ; attempt++) {
      const setup = spawnSync(binary, ['-servers', servers, '-mode', 'setup'], { encoding: 'utf8' });
      if (setup.status === 0) break;
      if (attempt > 60) throw new Error(`JetStream did not come up: ${setup.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'jetstream',
    stop,
    produce: async (window) => {
      const result = natsLoad(binary, ['-servers', servers, '-mode', 'publish', '-size', String(MESSAGE_BYTES), '-window', String(window.inFlight), '-duration', `${durationSeconds}s`]);
      return natsRow(window.inFlight, result);
    },
    // An ephemeral pull consumer from the start of the stream, so every round reads the same.
    consume: async () => natsRow(0, natsLoad(binary, ['-servers', servers, '-mode', 'consume', '-messages', String(CONSUME_MESSAGES)])),
  };
}

function natsRow(inFlight: number, result: Record<string, number>): Row {
  return {
    inFlight, messagesPerSecond: result['messagesPerSecond']!, megabytesPerSecond: result['megabytesPerSecond']!, ackP99Ms: result['ackP99Ms'] ?? 0,
    generatorCpuPercentOfCore: (result['generatorCpuSeconds']! / Math.max(0.001, result['elapsedMs']! / 1000)) * 100,
  };
}

async function startCairnContender(directory: string): Promise<Contender> {
  const cluster = LocalCluster.create({ directory: join(directory, 'cairn'), nodes: 3, basePort: await findFreeBasePort(3) });
  const stop = async (): Promise<void> => {
    if (values.keep) await cluster.down();
    else await cluster.destroy();
  };
  let brokers: string[];
  try {
    await cluster.up({ onProgress: (message) => note(`cairn: ${message}`) });
    brokers = (await cluster.status()).flatMap((node) => (node.kafka === null ? [] : [node.kafka]));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: 'cairn',
    stop,
    produce: async (window) => {
      const result = await runLeanProduceLoad({
        brokers, topic: 'bench', partitions: 3, messageBytes: MESSAGE_BYTES, batch: window.batch, inFlight: window.requests,
        durationMs: durationSeconds * 1000, acks: -1, idempotent: false, compression: 'none',
      });
      return { inFlight: window.inFlight, messagesPerSecond: result.messagesPerSecond, megabytesPerSecond: result.megabytesPerSecond, ackP99Ms: result.ackP99Ms, generatorCpuPercentOfCore: result.generatorCpuPercentOfCore };
    },
    consume: async () => {
      const consumed = await runLeanConsumeLoad({ brokers, topic: 'bench', messages: CONSUME_MESSAGES, timeoutMs: 120_000 });
      return { inFlight: 0, messagesPerSecond: consumed.messagesPerSecond, megabytesPerSecond: consumed.megabytesPerSecond, ackP99Ms: 0, generatorCpuPercentOfCore: consumed.generatorCpuPercentOfCore };
    },
  };
}

interface Comparison {
  readonly workload: string;
  readonly inFlight: number;
  readonly jetstream: Row[];
  readonly cairn: Row[];
}

/** Every workload `rounds` times on each contender, alternating which goes first. */
async function compare(contenders: readonly Contender[]): Promise<Comparison[]> {
  const workloads = [
    ...WINDOWS.map((window) => ({ workload: 'produce', inFlight: window.inFlight, run: (contender: Contender) => contender.produce(window) })),
    { workload: 'consume', inFlight: 0, run: (contender: Contender) => contender.consume() },
  ];
  const comparisons: Comparison[] = [];
  for (const workload of workloads) {
    const comparison: Comparison = { workload: workload.workload, inFlight: workload.inFlight, jetstream: [], cairn: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        // Start from a quiet disk: the other system's dirty pages would otherwise be written
        // back during this run (JetStream's file store leaves hundreds of MB).
        spawnSync('sync');
        const row = await workload.run(contender);
        comparison[contender.name].push(row);
        const where = workload.workload === 'consume' ? 'consume' : `produce, ${workload.inFlight} in flight`;
        note(`${contender.name}: ${where}, round ${round + 1}/${rounds}: ${row.megabytesPerSecond.toFixed(1)} MB/s` +
          (workload.workload === 'consume' ? '' : `, p99 ${row.ackP99Ms.toFixed(1)} ms`));
      }
    }
    comparisons.push(comparison);
  }
  return comparisons;
}

// ---- report ----

function summarize(rows: readonly Row[]): Row | undefined {
  if (rows.length === 0) return undefined;
  return {
    inFlight: rows[0]!.inFlight,
    messagesPerSecond: median(rows.map((row) => row.messagesPerSecond)),
    megabytesPerSecond: median(rows.map((row) => row.megabytesPerSecond)),
    ackP99Ms: median(rows.map((row) => row.ackP99Ms)),
    generatorCpuPercentOfCore: median(rows.map((row) => row.generatorCpuPercentOfCore)),
  };
}

/** Cairn MB/s ÷ JetStream MB/s in each round (undefined without JetStream). */
function roundRatios(comparison: Comparison): number[] | undefined {
  if (comparison.jetstream.length === 0) return undefined;
  return comparison.cairn.map((row, round) => row.megabytesPerSecond / comparison.jetstream[round]!.megabytesPerSecond);
}

function formatTable(comparisons: readonly Comparison[]): string {
  const header = ['workload', 'in flight', 'jetstream msgs/s', 'MB/s', 'p99 ms', 'cairn msgs/s', 'MB/s', 'p99 ms', 'MB/s ratio', "rounds' ratios", 'gen CPU js', 'gen CPU cairn'];
  const rows = comparisons.map((comparison) => {
    const ours = summarize(comparison.cairn)!;
    const theirs = summarize(comparison.jetstream);
    const ratios = roundRatios(comparison);
    const isProduce = comparison.workload === 'produce';
    return [
      comparison.workload, isProduce ? String(comparison.inFlight) : '-',
      theirs?.messagesPerSecond.toFixed(0) ?? '-', theirs?.megabytesPerSecond.toFixed(1) ?? '-', theirs !== undefined && isProduce ? theirs.ackP99Ms.toFixed(1) : '-',
      ours.messagesPerSecond.toFixed(0), ours.megabytesPerSecond.toFixed(1), isProduce ? ours.ackP99Ms.toFixed(1) : '-',
      ratios === undefined ? '-' : median(ratios).toFixed(2), ratios === undefined ? '-' : ratios.map((ratio) => ratio.toFixed(2)).join(' '),
      theirs === undefined ? '-' : `${theirs.generatorCpuPercentOfCore.toFixed(0)}%`, `${ours.generatorCpuPercentOfCore.toFixed(0)}%`,
    ];
  });
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

async function main(directory: string): Promise<void> {
  const contenders: Contender[] = [];
  try {
    if (!values['skip-nats']) contenders.push(await startJetStreamContender(directory));
    contenders.push(await startCairnContender(directory));
    const comparisons = await compare(contenders);
    console.log(`${MESSAGE_BYTES} B messages, ${durationSeconds} s per produce round, medians of ${rounds} alternating rounds ` +
      `(ratio: median of the rounds' ratios), ${availableParallelism()} CPUs, Node ${process.version}`);
    console.log(formatTable(comparisons));
    if (values.json) console.log(JSON.stringify({ durationSeconds, rounds, messageBytes: MESSAGE_BYTES, comparisons }));
  } finally {
    for (const contender of contenders) await contender.stop();
  }
}

const directory = mkdtempSync(join(tmpdir(), 'cairn-log-bench-'));
try {
  await main(directory);
} finally {
  if (values.keep) note(`kept: ${directory} (Cairn's node logs under cairn/node-*/node.log)`);
  else rmSync(directory, { recursive: true, force: true });
}
