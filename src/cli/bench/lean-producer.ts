// A minimal Kafka produce load generator on Cairn's own protocol codecs: one connection to the
// partitions' leader, record batches built once and re-sent (the broker assigns offsets, so
// identical batches are fine), Produce v7 requests pipelined up to a bound. A general client
// (kafkajs) spends more CPU per message than the broker does, and on a small machine the
// generator must not be the bottleneck it claims to measure; `--client kafkajs` keeps that option.
// When the leader moves, the senders wait for one shared look-up of the new leader and go on there.
import { build } from 'hdr-histogram-js';
import { API_KEY, KAFKA_ERROR, buildRecordBatch, encodeRequestFrame } from '../../protocol/kafka/index.ts';
import type { ProduceResponse } from '../../protocol/kafka/index.ts';
import type { ProduceFigures, ProduceLoadOptions } from './kafka-load.ts';
import { ensureTopic } from './kafka-load.ts';
import { KafkaConnection, findLeader, findMovedLeader } from './lean-connection.ts';

const PRODUCE_VERSION = 7;

/** The connection to the current leader, replaced once per leader move however many senders notice it. */
class LeaderConnection {
  private moves = 0;
  private moving: Promise<void> | undefined;
  private readonly brokers: readonly string[];
  private readonly topic: string;
  current: KafkaConnection;

  private constructor(brokers: readonly string[], topic: string, current: KafkaConnection) {
    this.brokers = brokers;
    this.topic = topic;
    this.current = current;
  }

  static async open(brokers: readonly string[], topic: string): Promise<LeaderConnection> {
    return new LeaderConnection(brokers, topic, await KafkaConnection.open((await findLeader(brokers, topic)).leader));
  }

  /** Called by a sender that saw `stale` fail; senders that saw the same connection share one look-up. */
  async moved(stale: KafkaConnection): Promise<void> {
    if (stale !== this.current) return;
    this.moving ??= this.reconnect().finally(() => { this.moving = undefined; });
    await this.moving;
  }

  private async reconnect(): Promise<void> {
    this.current.close();
    this.current = await KafkaConnection.open((await findMovedLeader(this.brokers, this.topic, ++this.moves)).leader);
  }
}

export async function runLeanProduceLoad(options: ProduceLoadOptions): Promise<ProduceFigures> {
  if (options.idempotent || options.compression !== 'none') throw new Error('the lean producer sends plain batches; use --client kafkajs for idempotence or compression');
  await ensureTopic(options.brokers, options.topic, options.partitions);
  const connection = await LeaderConnection.open(options.brokers, options.topic);
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
      const used = connection.current;
      let outcome: 'ok' | 'failed' | 'moved';
      try {
        const response = await used.send(frames[sequence % frames.length]!, API_KEY.Produce, PRODUCE_VERSION) as ProduceResponse;
        const codes = response.responses.flatMap((topic) => topic.partitionResponses.map((partition) => partition.errorCode));
        outcome = codes.every((code) => code === 0) ? 'ok' : codes.includes(KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER) ? 'moved' : 'failed';
      } catch {
        outcome = 'moved';
      }
      if (outcome === 'ok') {
        messages += options.batch;
        histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
        continue;
      }
      errors++;
      if (outcome === 'moved') await connection.moved(used);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.inFlight }, (_, worker) => sender(worker)));
  } finally {
    clearInterval(progressTimer);
    connection.current.close();
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
