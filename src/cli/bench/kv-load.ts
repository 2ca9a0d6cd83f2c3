// The KV load generator behind `cairn bench kv`: C concurrent workers for a fixed time, each
// doing puts or reads of fixed-size values over a fixed key space (through prepared raw HTTP
// requests, or through CairnClient with --client cairn), with latencies in an HDR histogram. It measures its own CPU use, because on a small machine the
// generator competes with the nodes and must not be the bottleneck it claims to measure.
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { availableParallelism } from 'node:os';
import { CairnClient, CairnClientError } from '../../client/index.ts';
import { LeanHttpConnection, errorCodeOf } from './lean-kv.ts';

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
  /**
   * `lean` (default): raw keep-alive HTTP, one socket per worker (workers spread over the
   * endpoints), no retries, so the generator costs little CPU; `cairn`: the full CairnClient
   * (JSON decoding, retries, endpoint rotation).
   */
  readonly client?: 'lean' | 'cairn';
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

/** One operation of a worker: resolves when it succeeded, throws a CairnClientError when it failed. */
type Operation = (key: string, read: boolean) => Promise<void>;

interface Operations {
  /** Worker `index`'s operation. */
  forWorker(index: number): Promise<Operation>;
  close(): void;
}

function cairnClientOperations(options: KvLoadOptions, value: string): Operations {
  const client = new CairnClient({ endpoints: [...options.endpoints], timeoutMs: 10_000, maxAttempts: 3, maxSockets: options.concurrency });
  const consistency = options.serializable ? 'serializable' : 'linearizable';
  const operation: Operation = async (key, read) => {
    if (read) await client.get(key, { consistency });
    else await client.put(key, value);
  };
  return { forWorker: async () => operation, close: () => client.close() };
}

function leanOperations(options: KvLoadOptions, value: string): Operations {
  const body = Buffer.from(JSON.stringify({ value: Buffer.from(value).toString('base64') }));
  const readQuery = `?encoding=base64&consistency=${options.serializable ? 'serializable' : 'linearizable'}`;
  const connections: LeanHttpConnection[] = [];
  return {
    async forWorker(index) {
      const endpoint = options.endpoints[index % options.endpoints.length]!;
      let connection = await LeanHttpConnection.open(endpoint);
      connections.push(connection);
      return async (key, read) => {
        if (connection.closed) {
          connection = await LeanHttpConnection.open(endpoint);
          connections.push(connection);
        }
        const answer = read ? await connection.request('GET', `/v1/kv/${key}${readQuery}`) : await connection.request('PUT', `/v1/kv/${key}?encoding=base64`, body);
        const ok = answer.status === 200 || (read && answer.status === 404 && errorCodeOf(answer) === 'key-not-found');
        if (!ok) throw new CairnClientError(errorCodeOf(answer), `${endpoint} answered ${answer.status}`, { status: answer.status });
      };
    },
    close() {
      for (const connection of connections) connection.close();
    },
  };
}

export async function runKvLoad(options: KvLoadOptions): Promise<KvLoadResult> {
  const histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const value = 'x'.repeat(options.valueBytes);
  const operations = options.client === 'cairn' ? cairnClientOperations(options, value) : leanOperations(options, value);
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
    const operation = await operations.forWorker(index);
    while (performance.now() < deadline) {
      const key = `bench/${Math.floor(random() * options.keys)}`;
      const read = random() < options.readRatio;
      const begin = performance.now();
      try {
        await operation(key, read);
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
    operations.close();
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
