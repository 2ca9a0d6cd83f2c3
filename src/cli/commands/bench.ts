// `cairn bench kv`: load a running cluster and print throughput and latency (and how much CPU
// the generator itself used, which on a small machine competes with the nodes).
import { Option } from 'commander';
import type { Command } from 'commander';
import { runKvLoad } from '../bench/kv-load.ts';
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

export function registerBench(bench: Command): void {
  const kv = bench.command('kv').description('measure key-value throughput and latency against a running cluster');
  addGlobalOptions(kv);
  kv.option('--concurrency <n[,n...]>', 'concurrent requests; a list runs one round each', '64')
    .option('--duration <duration>', 'length of each round', '10s')
    .option('--value-size <bytes>', 'value size of puts', '256')
    .option('--read-ratio <0..1>', 'fraction of operations that are reads (0 = only puts)', '0')
    .option('--keys <n>', 'distinct keys written and read (bench/0 ... bench/n-1)', '1000')
    .option('--serializable', 'reads served locally by the node that receives them, possibly stale (default: linearizable)')
    .addOption(new Option('--target <leader|all>', 'send to the leader only, or spread over every endpoint').choices(['leader', 'all']).default('leader'))
    .addHelpText('after', `
Prints ops/s, p50/p99/p999 latency (HDR histogram), errors, and the CPU the generator used (% of
one core): on a small machine the generator shares the CPU with the nodes. A progress line runs on
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
          keys: wholeNumber(options.keys, '--keys', 1), serializable: options.serializable === true,
          onProgress: (progress) => progressLine(concurrency, progress.elapsedMs / 1000, progress.ops, progress.errors, progress.opsPerSecond),
        });
        if (process.stderr.isTTY === true) process.stderr.write('\n');
        results.push(result);
      }
      if (options.json === true) return writeJson({ endpoints, results });
      writeLine(`target: ${endpoints.join(', ')}; ${options.readRatio === '0' ? 'puts' : `read ratio ${options.readRatio}`}, ${valueBytes} B values`);
      writeLine(table([['concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'p999 ms', 'errors', 'generator CPU'], ...results.map(resultRow)]));
    });
}
