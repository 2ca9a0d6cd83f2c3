// `cairn bench kv`: load a running cluster and print throughput and latency (and how much CPU
// the generator itself used, which on a small machine competes with the nodes).
import { Option } from 'commander';
import type { Command } from 'commander';
import { runConsumeLoad, runProduceLoad } from '../bench/kafka-load.ts';
import { runLeanConsumeLoad } from '../bench/lean-consumer.ts';
import { runLeanProduceLoad } from '../bench/lean-producer.ts';
import type { LoadFigures, ProduceFigures } from '../bench/kafka-load.ts';
import { runKvLoad } from '../bench/kv-load.ts';
import { addKafkaOptions, bootstrapServers, explainKafkaError } from '../kafka-client.ts';
import type { KafkaOptions } from '../kafka-client.ts';
import type { KvLoadResult } from '../bench/kv-load.ts';
import { addGlobalOptions, parseDuration, targetOf, withClient } from '../client-options.ts';
import type { GlobalOptions } from '../client-options.ts';
import { usageError } from '../errors.ts';
import { table, wholeNumber, writeJson, writeLine } from '../output.ts';

interface KvBenchOptions extends GlobalOptions {
  concurrency: string;
  duration: string;
  valueSize: string;
  readRatio: string;
  keys: string;
  serializable?: boolean;
  target: 'leader' | 'all';
  client: 'lean' | 'cairn';
}

const CONCURRENCY_MAX = 4096;

function concurrencies(text: string): number[] {
  const values = text.split(',').map((part) => wholeNumber(part.trim(), '--concurrency', 1));
  if (values.some((value) => value > CONCURRENCY_MAX)) throw usageError(`--concurrency must be at most ${CONCURRENCY_MAX}`);
  return values;
}

function ratio(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) throw usageError(`--read-ratio ${JSON.stringify(text)} must be between 0 and 1`);
  return value;
}

/** Writes go to the leader (as etcd benchmarks do); `--target all` spreads requests over every endpoint. */
async function endpointsFor(options: KvBenchOptions): Promise<string[]> {
  if (options.target === 'all') {
    const target = targetOf(options);
    if (target.endpoints === undefined) return withClient(options, async (client) => [...client.endpoints]);
    return [...target.endpoints];
  }
  return withClient(options, async (client) => {
    const status = await client.status();
    const leader = status.members.find((member) => member.id === status.leaderId);
    if (leader === undefined) throw usageError('the cluster has no leader right now; retry in a moment, or use --target all');
    return [leader.client];
  });
}

function progressLine(concurrency: number, seconds: number, ops: number, errors: number, opsPerSecond: number): void {
  if (process.stderr.isTTY !== true) return;
  process.stderr.write(`\rc=${concurrency}  ${seconds.toFixed(0)}s  ${ops} ops  ${errors} errors  ${opsPerSecond.toFixed(0)} ops/s   `);
}

function resultRow(result: KvLoadResult): string[] {
  return [
    String(result.concurrency), result.opsPerSecond.toFixed(0), result.p50Ms.toFixed(2), result.p99Ms.toFixed(2), result.p999Ms.toFixed(2),
    String(result.errors), `${result.generatorCpuPercentOfCore.toFixed(0)}%`,
  ];
}

interface ProduceBenchOptions extends KafkaOptions {
  topic: string;
  partitions: string;
  size: string;
  batch: string;
  inFlight: string;
  duration: string;
  acks: 'all' | '1';
  idempotent?: boolean;
  compression: 'none' | 'gzip';
  client: 'lean' | 'kafkajs';
}

function kafkaProgress(what: string, elapsedMs: number, messages: number, errors: number): void {
  if (process.stderr.isTTY !== true) return;
  process.stderr.write(`\r${what}  ${(elapsedMs / 1000).toFixed(0)}s  ${messages} messages  ${errors} errors   `);
}

function loadLine(figures: LoadFigures): string {
  return `${figures.messages} messages in ${(figures.elapsedMs / 1000).toFixed(1)} s: ${figures.messagesPerSecond.toFixed(0)} msgs/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s, ` +
    `${figures.errors} errors, generator CPU ${figures.generatorCpuPercentOfCore.toFixed(0)}% of a core`;
}

function registerKafkaBench(bench: Command): void {
  const produce = bench.command('produce').description('measure Kafka produce throughput and acknowledgement latency');
  addGlobalOptions(produce);
  addKafkaOptions(produce);
  produce.option('--topic <name>', 'topic to write (created if missing)', 'cairn-bench')
    .option('--partitions <n>', 'partitions when the topic is created', '3')
    .option('--size <bytes>', 'message size', '1024')
    .option('--batch <n>', 'messages per produce request (Kafka clients batch)', '100')
    .option('--in-flight <n>', 'produce requests in flight at once', '8')
    .option('--duration <duration>', 'how long to produce', '10s')
    .addOption(new Option('--acks <all|1>', 'acknowledgement to wait for').choices(['all', '1']).default('all'))
    .option('--idempotent', 'idempotent producer')
    .addOption(new Option('--compression <codec>', 'batch compression').choices(['none', 'gzip']).default('none'))
    .addOption(new Option('--client <lean|kafkajs>', 'lean: pre-built batches on one pipelined connection (the generator costs little CPU); kafkajs: a general client (needed for --idempotent, --compression)').choices(['lean', 'kafkajs']).default('lean'))
    .addHelpText('after', '\nExample:\n  cairn bench produce --size 1024 --batch 100 --in-flight 8 --duration 10s --json')
    .action(async (options: ProduceBenchOptions) => {
      const brokers = await bootstrapServers(options);
      const batch = wholeNumber(options.batch, '--batch', 1);
      const inFlight = wholeNumber(options.inFlight, '--in-flight', 1);
      let figures: ProduceFigures;
      try {
        const useKafkajs = options.client === 'kafkajs' || options.idempotent === true || options.compression !== 'none';
        figures = await (useKafkajs ? runProduceLoad : runLeanProduceLoad)({
          brokers, topic: options.topic, partitions: wholeNumber(options.partitions, '--partitions', 1), messageBytes: wholeNumber(options.size, '--size', 1),
          batch, inFlight, durationMs: parseDuration(options.duration, '--duration'), acks: options.acks === 'all' ? -1 : 1,
          idempotent: options.idempotent === true, compression: options.compression,
          onProgress: (progress) => kafkaProgress('produce', progress.elapsedMs, progress.messages, progress.errors),
        });
      } catch (error) {
        throw explainKafkaError(error);
      }
      if (process.stderr.isTTY === true) process.stderr.write('\n');
      if (options.json === true) return writeJson({ brokers, ...figures });
      writeLine(`produce to ${options.topic}: ${batch} × ${options.size} B per request, ${inFlight} requests in flight (${batch * inFlight} messages), acks=${options.acks}, ${options.client === 'kafkajs' || options.idempotent === true || options.compression !== 'none' ? 'kafkajs' : 'lean'} client`);
      writeLine(loadLine(figures));
      writeLine(`ack latency per request: p50 ${figures.ackP50Ms.toFixed(2)} ms, p99 ${figures.ackP99Ms.toFixed(2)} ms, max ${figures.ackMaxMs.toFixed(2)} ms`);
    });
  const consume = bench.command('consume').description('measure how fast a topic is read from the beginning');
  addGlobalOptions(consume);
  addKafkaOptions(consume);
  consume.option('--topic <name>', 'topic to read', 'cairn-bench')
    .option('--messages <n>', 'stop after this many messages', '1000000')
    .option('--duration <duration>', 'give up after this long', '60s')
    .addOption(new Option('--client <lean|kafkajs>', 'lean: Fetch requests on one connection, batches CRC-checked and records decoded, offsets checked for gaps (the generator costs little CPU); kafkajs: a consumer group of the general client').choices(['lean', 'kafkajs']).default('lean'))
    .addHelpText('after', '\nExample (after `cairn bench produce`):\n  cairn bench consume --messages 200000')
    .action(async (options: KafkaOptions & { topic: string; messages: string; duration: string; client: 'lean' | 'kafkajs' }) => {
      const brokers = await bootstrapServers(options);
      let figures: LoadFigures;
      try {
        figures = await (options.client === 'kafkajs' ? runConsumeLoad : runLeanConsumeLoad)({
          brokers, topic: options.topic, messages: wholeNumber(options.messages, '--messages', 1), timeoutMs: parseDuration(options.duration, '--duration'),
          onProgress: (progress) => kafkaProgress('consume', progress.elapsedMs, progress.messages, progress.errors),
        });
      } catch (error) {
        throw explainKafkaError(error);
      }
      if (process.stderr.isTTY === true) process.stderr.write('\n');
      if (options.json === true) return writeJson({ brokers, ...figures });
      writeLine(`consume ${options.topic} from the beginning (${options.client} client): ${loadLine(figures)}`);
    });
}

export function registerBench(bench: Command): void {
  registerKafkaBench(bench);
  const kv = bench.command('kv').description('measure key-value throughput and latency against a running cluster');
  addGlobalOptions(kv);
  kv.option('--concurrency <n[,n...]>', 'concurrent requests; a list runs one round each', '64')
    .option('--duration <duration>', 'length of each round', '10s')
    .option('--value-size <bytes>', 'value size of puts', '256')
    .option('--read-ratio <0..1>', 'fraction of operations that are reads (0 = only puts)', '0')
    .option('--keys <n>', 'distinct keys written and read (bench/0 ... bench/n-1)', '1000')
    .option('--serializable', 'reads served locally by the node that receives them, possibly stale (default: linearizable)')
    .addOption(new Option('--target <leader|all>', 'send to the leader only, or spread over every endpoint').choices(['leader', 'all']).default('leader'))
    .addOption(new Option('--client <lean|cairn>', 'lean: raw keep-alive HTTP with prepared requests, no retries (the generator costs little CPU); cairn: the full TypeScript client (retries, endpoint rotation)').choices(['lean', 'cairn']).default('lean'))
    .addHelpText('after', `
Prints ops/s, p50/p99/p999 latency (HDR histogram), errors, and the CPU the generator used (% of
one core): on a small machine the generator shares the CPU with the nodes, so by default it sends
prepared HTTP requests itself instead of going through the full client. A progress line runs on
stderr. See bench/kv-vs-etcd.ts for the comparison with etcd.

Examples:
  cairn bench kv --concurrency 1,64,256 --duration 10s
  cairn bench kv --read-ratio 1 --concurrency 64 --json`)
    .action(async (options: KvBenchOptions) => {
      const rounds = concurrencies(options.concurrency);
      const durationMs = parseDuration(options.duration, '--duration');
      const valueBytes = wholeNumber(options.valueSize, '--value-size', 0);
      if (valueBytes > 1024 * 1024) throw usageError('--value-size must be at most 1048576 (the default value limit)');
      const endpoints = await endpointsFor(options);
      const results: KvLoadResult[] = [];
      for (const concurrency of rounds) {
        const result = await runKvLoad({
          endpoints, concurrency, durationMs, valueBytes, readRatio: ratio(options.readRatio),
          keys: wholeNumber(options.keys, '--keys', 1), serializable: options.serializable === true, client: options.client,
          onProgress: (progress) => progressLine(concurrency, progress.elapsedMs / 1000, progress.ops, progress.errors, progress.opsPerSecond),
        });
        if (process.stderr.isTTY === true) process.stderr.write('\n');
        results.push(result);
      }
      if (options.json === true) return writeJson({ endpoints, results });
      writeLine(`target: ${endpoints.join(', ')}; ${options.readRatio === '0' ? 'puts' : `read ratio ${options.readRatio}`}, ${valueBytes} B values, ${options.client} client`);
      writeLine(table([['concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'p999 ms', 'errors', 'generator CPU'], ...results.map(resultRow)]));
    });
}
