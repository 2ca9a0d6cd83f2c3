// One pipelined connection to a Kafka broker on Cairn's own protocol codecs, for the lean load
// generators (lean-producer.ts, lean-consumer.ts): requests are answered in order and matched by
// correlation id; pre-encoded frames are re-sent with a fresh id.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { API_KEY, KafkaFrameDecoder, decodeResponseFrame, encodeRequestFrame } from '../../protocol/kafka/index.ts';
import type { MetadataResponse } from '../../protocol/kafka/index.ts';

const METADATA_VERSION = 6;
const CORRELATION_ID_OFFSET = 8; // size (4), api key (2), api version (2)

interface Pending {
  readonly apiKey: number;
  readonly version: number;
  resolve(response: unknown): void;
  reject(error: Error): void;
}

/** A pipelined connection: requests answered in order, matched by correlation id. */
export class KafkaConnection {
  private readonly socket: Socket;
  private readonly decoder = new KafkaFrameDecoder(256 * 1024 * 1024);
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
    });
    socket.on('close', () => this.failAll(new Error('the broker closed the connection')));
    socket.on('error', (error) => this.failAll(error));
  }

  static open(address: string): Promise<KafkaConnection> {
    const colon = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true }, () => resolve(new KafkaConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a pre-encoded request frame after writing a fresh correlation id into a copy of it. */
  send(frame: Uint8Array, apiKey: number, version: number): Promise<unknown> {
    const correlationId = this.nextCorrelationId++;
    const copy = Buffer.from(frame);
    copy.writeInt32BE(correlationId, CORRELATION_ID_OFFSET);
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { apiKey, version, resolve, reject });
      this.socket.write(copy);
    });
  }

  private onFrame(frame: Uint8Array): void {
    const correlationId = new DataView(frame.buffer, frame.byteOffset, 4).getInt32(0);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return;
    this.pending.delete(correlationId);
    try {
      pending.resolve(decodeResponseFrame(frame, pending.apiKey, pending.version).response.message);
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

export interface TopicLayout {
  /** host:port of the broker leading the topic's partitions (one Raft group: the same for all). */
  readonly leader: string;
  readonly partitions: readonly number[];
}

async function topicLayout(brokers: readonly string[], topic: string): Promise<TopicLayout> {
  const connection = await KafkaConnection.open(brokers[0]!);
  try {
    const frame = encodeRequestFrame(0, 'cairn-bench', METADATA_VERSION, { apiKey: API_KEY.Metadata, message: { topics: [{ name: topic }], allowAutoTopicCreation: false } } as never);
    const metadata = await connection.send(frame, API_KEY.Metadata, METADATA_VERSION) as MetadataResponse;
    const partitions = metadata.topics[0]?.partitions ?? [];
    const broker = metadata.brokers.find((item) => item.nodeId === partitions[0]?.leaderId);
    if (broker === undefined) throw new Error(`no leader is known for topic ${topic}; does it exist, and is the cluster up?`);
    return { leader: `${broker.host}:${broker.port}`, partitions: partitions.map((partition) => partition.partitionIndex).sort((a, b) => a - b) };
  } finally {
    connection.close();
  }
}

/** Leader moves a load generator follows in one run before it gives up. */
const LEADER_MOVES_MAX = 10;
/** Time for an election to finish before asking who leads now. */
const LEADER_MOVE_WAIT_MS = 200;
/** How long to keep asking while no broker names a leader (an election, a topic being created). */
const LEADER_LOOKUP_MS = 10_000;
const LEADER_LOOKUP_RETRY_MS = 200;

/**
 * The topic's layout from the first broker that names a leader, asking each in turn (one may be
 * the node that just failed) and again every 200 ms while none does, for up to 10 s: right after
 * heavy load the cluster may be electing a leader, and a load generator must not fail on that.
 */
export async function findLeader(brokers: readonly string[], topic: string): Promise<TopicLayout> {
  const deadline = performance.now() + LEADER_LOOKUP_MS;
  for (;;) {
    let lastError: unknown;
    for (const broker of brokers) {
      try {
        return await topicLayout([broker], topic);
      } catch (error) {
        lastError = error;
      }
    }
    if (performance.now() + LEADER_LOOKUP_RETRY_MS > deadline) throw lastError;
    await new Promise((resolve) => setTimeout(resolve, LEADER_LOOKUP_RETRY_MS));
  }
}

/** After the `move`th leader move of a run and a pause for the election, the topic's layout. */
export async function findMovedLeader(brokers: readonly string[], topic: string, move: number): Promise<TopicLayout> {
  if (move > LEADER_MOVES_MAX) throw new Error(`${topic}: the partitions' leader moved ${LEADER_MOVES_MAX} times in one run; is the cluster stable?`);
  await new Promise((resolve) => setTimeout(resolve, LEADER_MOVE_WAIT_MS));
  return findLeader(brokers, topic);
}
