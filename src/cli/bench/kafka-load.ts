// The Kafka load generators behind `cairn bench produce|consume`: kafkajs producers sending
// batches of fixed-size messages with a bounded number of requests in flight, and a consumer
// reading a topic from the beginning. Ack latency is measured per produce request (all the
// messages of a batch are acknowledged together), in an HDR histogram.
import { build } from 'hdr-histogram-js';
import { availableParallelism } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import kafkajs from 'kafkajs';
import '../../client/kafkajs-quiet-warnings.ts';
import '../../client/kafkajs-stop-fix.ts';

const { CompressionTypes } = kafkajs;

export interface ProduceLoadOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly messageBytes: number;
  /** Messages per produce request. */
  readonly batch: number;
  /** Produce requests in flight at once (so batch × inFlight messages are unacknowledged at most). */
  readonly inFlight: number;
  readonly durationMs: number;
  readonly acks: -1 | 0 | 1;
  readonly idempotent: boolean;
  readonly compression: 'none' | 'gzip';
  readonly onProgress?: (progress: { elapsedMs: number; messages: number; errors: number }) => void;
}

export interface LoadFigures {
  readonly messages: number;
  readonly bytes: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
  readonly generatorCpuPercentOfCore: number;
  readonly generatorCpuShareOfMachine: number;
}

export interface ProduceFigures extends LoadFigures {
  readonly batch: number;
  readonly inFlight: number;
  readonly messageBytes: number;
  /** Latency from sending a produce request to its acknowledgement. */
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly ackMaxMs: number;
}

function kafkaFor(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
}

export function loadFigures(messages: number, bytes: number, errors: number, startedAt: number, cpuAtStart: NodeJS.CpuUsage): LoadFigures {
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
  return {
    messages, bytes, errors, elapsedMs, messagesPerSecond: (messages / elapsedMs) * 1000, megabytesPerSecond: bytes / 1e6 / (elapsedMs / 1000),
    generatorCpuPercentOfCore: cpuPercent, generatorCpuShareOfMachine: cpuPercent / availableParallelism(),
  };
}

/** Creates the topic if it does not exist (and waits for its partitions to have a leader). */
export async function ensureTopic(brokers: readonly string[], topic: string, partitions: number): Promise<void> {
  const admin = kafkaFor(brokers, 'cairn-bench-admin').admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }] });
  } finally {
    await admin.disconnect();
  }
}

export async function runProduceLoad(options: ProduceLoadOptions): Promise<ProduceFigures> {
  await ensureTopic(options.brokers, options.topic, options.partitions);
  const producer = kafkaFor(options.brokers, 'cairn-bench-producer').producer({
    idempotent: options.idempotent, allowAutoTopicCreation: false, maxInFlightRequests: options.idempotent ? 5 : Math.max(1, options.inFlight),
  });
  await producer.connect();
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const value = Buffer.alloc(options.messageBytes, 'x');
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  let messages = 0;
  let errors = 0;
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const deadline = startedAt + options.durationMs;
  const progressTimer = setInterval(() => options.onProgress?.({ elapsedMs: performance.now() - startedAt, messages, errors }), 1000);
  const sender = async (worker: number): Promise<void> => {
    for (let sequence = 0; performance.now() < deadline; sequence++) {
      const batch = Array.from({ length: options.batch }, (_, position) => ({ key: `${worker}-${sequence}-${position}`, value }));
      const begin = performance.now();
      try {
        await producer.send({ topic: options.topic, messages: batch, acks: options.acks, compression });
        histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
        messages += batch.length;
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, (_, worker) => sender(worker)));
  } finally {
    clearInterval(progressTimer);
    await producer.disconnect().catch(() => {});
  }
  const result = loadFigures(messages, messages * options.messageBytes, errors, startedAt, cpuAtStart);
  return {
    ...result, batch: options.batch, inFlight: options.inFlight, messageBytes: options.messageBytes,
    ackP50Ms: histogram.getValueAtPercentile(50) / 1000, ackP99Ms: histogram.getValueAtPercentile(99) / 1000, ackMaxMs: histogram.maxValue / 1000,
  };
}

export interface ConsumeLoadOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Stop after this many messages, or at the end of the topic, or when the time is up. */
  readonly messages: number;
  readonly timeoutMs: number;
  readonly onProgress?: (progress: { elapsedMs: number; messages: number; errors: number }) => void;
  /** Called before each Fetch of the lean consumer (numbered from 1); tests move the leader here. */
  readonly beforeFetch?: (fetch: number) => Promise<void>;
}

/** Messages currently in the topic (sum over partitions of high watermark minus log start). */
async function messagesInTopic(brokers: readonly string[], topic: string): Promise<number> {
  const admin = kafkaFor(brokers, 'cairn-bench-admin').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Reads the topic from the beginning as a new consumer group, as fast as the broker serves it. */
export async function runConsumeLoad(options: ConsumeLoadOptions): Promise<LoadFigures> {
  const wanted = Math.min(options.messages, await messagesInTopic(options.brokers, options.topic));
  const consumer = kafkaFor(options.brokers, 'cairn-bench-consumer').consumer({
    groupId: `cairn-bench-${process.pid}-${Date.now()}`, maxBytes: 64 * 1024 * 1024, maxBytesPerPartition: 16 * 1024 * 1024, allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  let messages = 0;
  let bytes = 0;
  let startedAt = 0;
  let cpuAtStart = process.cpuUsage();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const timeout = setTimeout(() => done(), options.timeoutMs);
  const progressTimer = setInterval(() => options.onProgress?.({ elapsedMs: startedAt === 0 ? 0 : performance.now() - startedAt, messages, errors: 0 }), 1000);
  try {
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        // Time is counted from the first data, not from the group join.
        if (startedAt === 0) {
          startedAt = performance.now();
          cpuAtStart = process.cpuUsage();
        }
        for (const message of batch.messages) bytes += message.value?.length ?? 0;
        messages += batch.messages.length;
        if (messages >= wanted) done();
      },
    });
    await finished;
  } finally {
    clearTimeout(timeout);
    clearInterval(progressTimer);
    await consumer.disconnect().catch(() => {});
  }
  return loadFigures(messages, bytes, 0, startedAt === 0 ? performance.now() : startedAt, cpuAtStart);
}
