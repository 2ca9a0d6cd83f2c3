// A minimal Kafka produce load generator on Cairn's own protocol codecs: one connection to the
// partitions' leader, record batches built once and re-sent (the broker assigns offsets, so
// identical batches are fine), Produce v7 requests pipelined up to a bound. A general client
// (kafkajs) spends more CPU per message than the broker does, and on a small machine the
// generator must not be the bottleneck it claims to measure; `--client kafkajs` keeps that option.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { build } from 'hdr-histogram-js';
import { API_KEY, KafkaFrameDecoder, buildRecordBatch, decodeResponseFrame, encodeRequestFrame } from '../../protocol/kafka/index.ts';
import type { MetadataResponse, ProduceResponse } from '../../protocol/kafka/index.ts';
import type { ProduceFigures, ProduceLoadOptions } from './kafka-load.ts';
import { ensureTopic } from './kafka-load.ts';

const PRODUCE_VERSION = 7;
const METADATA_VERSION = 6;
const CORRELATION_ID_OFFSET = 8; // size (4), api key (2), api version (2)

interface Pending {
  readonly sentAt: number;
  readonly messages: number;
  resolve(response: ProduceResponse): void;
  reject(error: Error): void;
}

/** A pipelined connection: requests answered in order, matched by correlation id. */
class Connection {
  private readonly socket: Socket;
  private readonly decoder = new KafkaFrameDecoder(256 * 1024 * 1024);
  private readonly pending = new Map<number, Pending & { apiKey: number; version: number }>();
  private nextCorrelationId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
    });
    socket.on('close', () => this.failAll(new Error('the broker closed the connection')));
    socket.on('error', (error) => this.failAll(error));
  }

  static open(address: string): Promise<Connection> {
    const colon = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a pre-encoded request frame after writing a fresh correlation id into a copy of it. */
  send(frame: Uint8Array, apiKey: number, version: number, messages: number): Promise<unknown> {
    const correlationId = this.nextCorrelationId++;
    const copy = Buffer.from(frame);
    copy.writeInt32BE(correlationId, CORRELATION_ID_OFFSET);
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { sentAt: performance.now(), messages, resolve: resolve as (value: unknown) => void, reject, apiKey, version });
      this.socket.write(copy);
    });
  }

  private onFrame(frame: Uint8Array): void {
    const correlationId = new DataView(frame.buffer, frame.byteOffset, 4).getInt32(0);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return;
    this.pending.delete(correlationId);
    try {
      pending.resolve(decodeResponseFrame(frame, pending.apiKey, pending.version).response.message as ProduceResponse);
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The broker that leads the topic's partitions (one Raft group: the same for all). */
async function leaderOf(brokers: readonly string[], topic: string): Promise<string> {
  const connection = await Connection.open(brokers[0]!);
  try {
    const frame = encodeRequestFrame(0, 'cairn-bench', METADATA_VERSION, { apiKey: API_KEY.Metadata, message: { topics: [{ name: topic }], allowAutoTopicCreation: false } } as never);
    const metadata = await connection.send(frame, API_KEY.Metadata, METADATA_VERSION, 0) as unknown as MetadataResponse;
    const leaderId = metadata.topics[0]?.partitions[0]?.leaderId;
    const broker = metadata.brokers.find((item) => item.nodeId === leaderId);
    if (broker === undefined) throw new Error(`no leader is known for topic ${topic}; is the cluster up?`);
    return `${broker.host}:${broker.port}`;
  } finally {
    connection.close();
  }
}

export async function runLeanProduceLoad(options: ProduceLoadOptions): Promise<ProduceFigures> {
  if (options.idempotent || options.compression !== 'none') throw new Error('the lean producer sends plain batches; use --client kafkajs for idempotence or compression');
  await ensureTopic(options.brokers, options.topic, options.partitions);
  const connection = await Connection.open(await leaderOf(options.brokers, options.topic));
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
        const response = await connection.send(frames[sequence % frames.length]!, API_KEY.Produce, PRODUCE_VERSION, options.batch) as ProduceResponse;
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
