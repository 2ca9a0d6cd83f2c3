// The KV load generator behind `cairn bench kv`: C concurrent workers for a fixed time, each
// doing puts or reads of fixed-size values over a fixed key space through CairnClient, with
// latencies in an HDR histogram. It measures its own CPU use, because on a small machine the
// generator competes with the nodes and must not be the bottleneck it claims to measure.
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { availableParallelism } from 'node:os';
import { CairnClient, CairnClientError } from '../../client/index.ts';

export interface KvLoadOptions {
  readonly endpoints: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
  readonly valueBytes: number;
  /** Fraction of operations that are reads (0 = all puts). */
  readonly readRatio: number;
  readonly keys: number;
  /** Reads served locally by the node that receives them (possibly stale) instead of linearizable. */
  readonly serializable: boolean;
  /** Called about once a second with the figures so far. */
  readonly onProgress?: (progress: KvLoadProgress) => void;
}

export interface KvLoadProgress {
  readonly elapsedMs: number;
  readonly ops: number;
  readonly errors: number;
  readonly opsPerSecond: number;
}

export interface KvLoadResult {
  readonly concurrency: number;
  readonly readRatio: number;
  readonly valueBytes: number;
  readonly ops: number;
  readonly errors: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly elapsedMs: number;
  /** CPU time of this process over the run, as a percentage of one core. */
  readonly generatorCpuPercentOfCore: number;
  /** The same as a share of the whole machine. */
  readonly generatorCpuShareOfMachine: number;
}

/** Deterministic per-worker key and operation choice, so runs are comparable. */
function xorshift(seed: number): () => number {
  let state = seed | 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

export async function runKvLoad(options: KvLoadOptions): Promise<KvLoadResult> {
  const client = new CairnClient({ endpoints: [...options.endpoints], timeoutMs: 10_000, maxAttempts: 3, maxSockets: options.concurrency });
  const histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const value = 'x'.repeat(options.valueBytes);
  const errorCodes: Record<string, number> = {};
  let ops = 0;
  let errors = 0;
  const startedAt = performance.now();
  const deadline = startedAt + options.durationMs;
  const cpuAtStart = process.cpuUsage();
  const progressTimer = setInterval(() => {
    const elapsedMs = performance.now() - startedAt;
    options.onProgress?.({ elapsedMs, ops, errors, opsPerSecond: (ops / elapsedMs) * 1000 });
  }, 1000);
  const worker = async (index: number): Promise<void> => {
    const random = xorshift(index * 7919 + 1);
    while (performance.now() < deadline) {
      const key = `bench/${Math.floor(random() * options.keys)}`;
      const read = random() < options.readRatio;
      const begin = performance.now();
      try {
        if (read) await client.get(key, { consistency: options.serializable ? 'serializable' : 'linearizable' });
        else await client.put(key, value);
        histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
        ops++;
      } catch (error) {
        errors++;
        const code = error instanceof CairnClientError ? error.code : 'error';
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, index) => worker(index)));
  } finally {
    clearInterval(progressTimer);
    client.close();
  }
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
  const quantile = (q: number): number => histogram.getValueAtPercentile(q) / 1000;
  return {
    concurrency: options.concurrency, readRatio: options.readRatio, valueBytes: options.valueBytes,
    ops, errors, errorCodes, opsPerSecond: (ops / elapsedMs) * 1000,
    p50Ms: quantile(50), p99Ms: quantile(99), p999Ms: quantile(99.9), maxMs: histogram.maxValue / 1000,
    elapsedMs, generatorCpuPercentOfCore: cpuPercent, generatorCpuShareOfMachine: cpuPercent / availableParallelism(),
  };
}
