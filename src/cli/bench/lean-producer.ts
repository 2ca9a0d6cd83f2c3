// A minimal Kafka produce load generator on Cairn's own protocol codecs: one connection to the
// partitions' leader, record batches built once and re-sent (the broker assigns offsets, so
// identical batches are fine), Produce v7 requests pipelined up to a bound. A general client
// (kafkajs) spends more CPU per message than the broker does, and on a small machine the
// generator must not be the bottleneck it claims to measure; `--client kafkajs` keeps that option.
import { build } from 'hdr-histogram-js';
import { API_KEY, buildRecordBatch, encodeRequestFrame } from '../../protocol/kafka/index.ts';
import type { ProduceResponse } from '../../protocol/kafka/index.ts';
import type { ProduceFigures, ProduceLoadOptions } from './kafka-load.ts';
import { ensureTopic } from './kafka-load.ts';
import { KafkaConnection, topicLayout } from './lean-connection.ts';

const PRODUCE_VERSION = 7;

export async function runLeanProduceLoad(options: ProduceLoadOptions): Promise<ProduceFigures> {
  if (options.idempotent || options.compression !== 'none') throw new Error('the lean producer sends plain batches; use --client kafkajs for idempotence or compression');
  await ensureTopic(options.brokers, options.topic, options.partitions);
  const connection = await KafkaConnection.open((await topicLayout(options.brokers, options.topic)).leader);
  const value = new Uint8Array(options.messageBytes).fill(0x78);
  const records = Array.from({ length: options.batch }, (_, position) => ({ key: new TextEncoder().encode(`key-${position}`), value, offsetDelta: position }));
  const frames = Array.from({ length: options.partitions }, (_, partition) => encodeRequestFrame(0, 'cairn-bench', PRODUCE_VERSION, {
    apiKey: API_KEY.Produce,
    message: { transactionalId: null, acks: options.acks, timeoutMs: 30_000, topicData: [{ name: options.topic, partitionData: [{ index: partition, records: buildRecordBatch({ records }) }] }] },
  } as never));
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  let messages = 0;
  let errors = 0;
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const deadline = startedAt + options.durationMs;
  const progressTimer = setInterval(() => options.onProgress?.({ elapsedMs: performance.now() - startedAt, messages, errors }), 1000);
  const sender = async (worker: number): Promise<void> => {
    for (let sequence = worker; performance.now() < deadline; sequence += options.inFlight) {
      const begin = performance.now();
      try {
        const response = await connection.send(frames[sequence % frames.length]!, API_KEY.Produce, PRODUCE_VERSION) as ProduceResponse;
        const failed = response.responses.some((topic) => topic.partitionResponses.some((partition) => partition.errorCode !== 0));
        if (failed) errors++;
        else {
          messages += options.batch;
          histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
        }
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, (_, worker) => sender(worker)));
  } finally {
    clearInterval(progressTimer);
    connection.close();
  }
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100;
  return {
    messages, bytes: messages * options.messageBytes, errors, elapsedMs, messagesPerSecond: (messages / elapsedMs) * 1000,
    megabytesPerSecond: (messages * options.messageBytes) / 1e6 / (elapsedMs / 1000), generatorCpuPercentOfCore: cpuPercent,
    generatorCpuShareOfMachine: cpuPercent / (await import('node:os')).availableParallelism(),
    batch: options.batch, inFlight: options.inFlight, messageBytes: options.messageBytes,
    ackP50Ms: histogram.getValueAtPercentile(50) / 1000, ackP99Ms: histogram.getValueAtPercentile(99) / 1000, ackMaxMs: histogram.maxValue / 1000,
  };
}
