// The Kafka queue workload, through a real client (kafkajs): idempotent producers with acks=all,
// each sending unique values one at a time to chosen partitions; consumers in a group that
// commit what they processed; a poller reading the group's committed offsets; and, after the
// run, a drain that reads every partition from the beginning to its end offset. Everything is
// recorded for the queue checker (src/check/queue.ts). The runner drives it in a worker thread of
// its own (isolated-kafka.ts), where a kafkajs livelock cannot stop the run.
import { createRequire } from 'node:module';
import type { Admin, Consumer, Kafka as KafkaClient, Producer } from 'kafkajs';
import type { QueueInput } from '../../check/queue.ts';
import type { OperationHandle, WorkloadRecorder } from '../recorder.ts';
import type { WorkloadPlan } from '../types.ts';
import '../../client/kafkajs-stop-fix.ts';

const require = createRequire(import.meta.url);
const kafkajs = require('kafkajs') as typeof import('kafkajs');

export const KAFKA_TOPIC = 'chaos';
export const KAFKA_GROUP = 'chaos-consumers';
/** A send not acknowledged within this is recorded 'unknown' (the client may still deliver it). */
const SEND_DEADLINE_MS = 8000;
const COMMITTED_POLL_MS = 1000;
const SETUP_TIMEOUT_MS = 30_000;
const DISCONNECT_TIMEOUT_MS = 3000;

let warningsFiltered = false;

/**
 * kafkajs 2.2.4 sets negative timers on Node 24, and adds a 'connect' listener per attempt while
 * a broker is down (11 during a long crash): both harmless. Every other warning is kept.
 */
function filterKafkajsWarnings(): void {
  if (warningsFiltered) return;
  warningsFiltered = true;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    if (warning.name === 'MaxListenersExceededWarning' && warning.message.includes('connect listeners added to [Socket]')) return;
    for (const listener of listeners) listener(warning);
  });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | 'deadline'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function retryUntil<T>(what: string, timeoutMs: number, action: () => Promise<T>, keepGoing: () => boolean = () => true): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (performance.now() > deadline || !keepGoing()) throw new Error(`${what}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** attempt)));
    }
  }
}

export interface KafkaWorkloadOptions {
  readonly brokers: readonly string[];
  readonly plan: WorkloadPlan;
  readonly recorder: WorkloadRecorder;
  readonly scenario: string;
}

export class KafkaWorkload {
  readonly #options: KafkaWorkloadOptions;
  readonly #kafka: KafkaClient;
  readonly #producers: Producer[] = [];
  readonly #consumers: Consumer[] = [];
  #admin: Admin | undefined;
  #running = false;
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(options: KafkaWorkloadOptions) {
    filterKafkajsWarnings();
    this.#options = options;
    this.#kafka = new kafkajs.Kafka({
      clientId: `cairn-chaos-${options.scenario}`, brokers: [...options.brokers], logLevel: kafkajs.logLevel.NOTHING,
      connectionTimeout: 1000, requestTimeout: 5000, retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 10 },
    });
  }

  /** Creates the topic, connects producers and consumers, starts sending, consuming and polling. */
  async start(): Promise<void> {
    const { plan } = this.#options;
    const admin = await this.#connectedAdmin();
    await retryUntil(`creating topic ${KAFKA_TOPIC}`, SETUP_TIMEOUT_MS, async () => {
      await admin.createTopics({ topics: [{ topic: KAFKA_TOPIC, numPartitions: plan.kafkaPartitions }], waitForLeaders: true, timeout: 5000 });
      const offsets = await admin.fetchTopicOffsets(KAFKA_TOPIC);
      if (offsets.length !== plan.kafkaPartitions) {
        // A metadata request of kafkajs's own (after a failed first attempt) may have auto-created
        // the topic with the default partition count before our CreateTopics got through (seen
        // once in CI): the cluster is fresh and the topic ours, so start it over.
        await admin.deleteTopics({ topics: [KAFKA_TOPIC], timeout: 5000 });
        throw new Error(`topic has ${offsets.length} partitions, expected ${plan.kafkaPartitions}; deleted it to create it again`);
      }
    });
    for (let index = 0; index < plan.kafkaProducers; index++) this.#producers.push(await this.#newProducer());
    this.#running = true;
    this.#loops = [...this.#producers.map((producer, index) => this.#produce(producer, index)), this.#pollCommitted()];
    // Consumers join their group in the background (a new group waits 3 s for members to arrive).
    for (let index = 0; index < plan.kafkaConsumers; index++) this.#loops.push(this.#startConsumer(index));
  }

  /** The admin client, connected (a drain in a fresh thread has not run start()). */
  async #connectedAdmin(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = this.#kafka.admin();
      await retryUntil('connecting the Kafka admin client', SETUP_TIMEOUT_MS, () => admin.connect());
      this.#admin = admin;
    }
    return this.#admin;
  }

  /** Stops producing, polling and consuming (sends in flight end within their deadline). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    await withDeadline(Promise.all(this.#loops), SEND_DEADLINE_MS + 2000);
    await Promise.all([...this.#producers, ...this.#consumers].map((client) => withDeadline(client.disconnect().catch(() => undefined), DISCONNECT_TIMEOUT_MS)));
  }

  /** stop(), and the admin client too (after the drain). */
  async close(): Promise<void> {
    await this.stop();
    if (this.#admin !== undefined) await withDeadline(this.#admin.disconnect().catch(() => undefined), DISCONNECT_TIMEOUT_MS);
  }

  async #newProducer(): Promise<Producer> {
    const producer = this.#kafka.producer({
      idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 20 },
    });
    await retryUntil('connecting a producer', SETUP_TIMEOUT_MS, () => producer.connect(), () => this.#running || this.#producers.length < this.#options.plan.kafkaProducers);
    return producer;
  }

  /**
   * After a send that did not end ok, the producer's sequence numbers cannot be trusted: kafkajs
   * hands a failed attempt's number back even when the broker appended the batch, and the next
   * send would reuse it and be answered as that batch's duplicate — acknowledged, never written.
   * A new producer gets a new producer id and starts its sequences afresh (as the Java client
   * does by bumping the epoch).
   */
  async #replaceProducer(index: number): Promise<Producer> {
    const old = this.#producers[index]!;
    void withDeadline(old.disconnect().catch(() => undefined), DISCONNECT_TIMEOUT_MS);
    const fresh = await this.#newProducer();
    this.#producers[index] = fresh;
    return fresh;
  }

  async #produce(first: Producer, index: number): Promise<void> {
    let producer = first;
    const { plan, recorder } = this.#options;
    const intervalMs = (1000 * plan.kafkaProducers) / Math.max(0.1, plan.kafkaRate);
    const padding = plan.kafkaValuePaddingBytes > 0 ? `|${'x'.repeat(plan.kafkaValuePaddingBytes)}` : '';
    let next = performance.now() + (index * intervalMs) / plan.kafkaProducers;
    for (let sequence = 0; this.#running; sequence++) {
      const waitMs = next - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (!this.#running) break;
      next = Math.max(next + intervalMs, performance.now());
      const partition = (sequence * plan.kafkaProducers + index) % plan.kafkaPartitions;
      const value = `p${index}.${sequence}${padding}`;
      const handle = recorder.begin(`producer-${index}`, { kind: 'send', topic: KAFKA_TOPIC, partition, value } satisfies QueueInput);
      const acknowledged = await this.#send(producer, handle, partition, value);
      if (!acknowledged && this.#running) {
        try {
          producer = await this.#replaceProducer(index);
        } catch {
          // No producer could connect within the setup time: this producer stops sending.
          return;
        }
      }
    }
  }

  /** One send; true when it was acknowledged (anything else leaves the producer to be replaced). */
  async #send(producer: Producer, handle: OperationHandle, partition: number, value: string): Promise<boolean> {
    const sending = producer.send({ topic: KAFKA_TOPIC, acks: -1, timeout: 3000, messages: [{ value, partition }] });
    try {
      const result = await withDeadline(sending, SEND_DEADLINE_MS);
      if (result === 'deadline') {
        // kafkajs keeps retrying in the background; the message may yet be appended.
        sending.catch(() => undefined);
        handle.unknown();
        return false;
      }
      const metadata = result[0];
      if (metadata === undefined || metadata.errorCode !== 0) {
        handle.unknown();
        return false;
      }
      handle.ok({ partition: metadata.partition, offset: Number(metadata.baseOffset) });
      return true;
    } catch {
      // kafkajs gave up after its retries: the message may have been appended.
      handle.unknown();
      return false;
    }
  }


  async #startConsumer(index: number): Promise<void> {
    const consumer = this.#kafka.consumer({
      groupId: KAFKA_GROUP, sessionTimeout: 6000, rebalanceTimeout: 8000, heartbeatInterval: 500, maxWaitTimeInMs: 250,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30, restartOnFailure: async () => true },
    });
    this.#consumers.push(consumer);
    try {
      await retryUntil('connecting a consumer', SETUP_TIMEOUT_MS, () => consumer.connect(), () => this.#running);
      await retryUntil('subscribing a consumer', SETUP_TIMEOUT_MS, () => consumer.subscribe({ topic: KAFKA_TOPIC, fromBeginning: true }), () => this.#running);
      await this.#run(consumer, `consumer-${index}`);
    } catch {
      // A consumer that never got going receives nothing: the queue checker needs none of it.
    }
  }

  async #run(consumer: Consumer, process: string): Promise<void> {
    const { recorder } = this.#options;
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let last = -1;
        for (const message of batch.messages) {
          const time = recorder.now();
          const offset = Number(message.offset);
          recorder.record(process, time, time, { kind: 'receive', topic: batch.topic, group: KAFKA_GROUP } satisfies QueueInput,
            { partition: batch.partition, offset, value: message.value?.toString('utf8') ?? '' }, 'ok');
          last = Math.max(last, offset);
        }
        if (last < 0) return;
        const handle = recorder.begin(process, { kind: 'commit', topic: batch.topic, group: KAFKA_GROUP, partition: batch.partition, offset: last + 1 } satisfies QueueInput);
        try {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(last + 1) }]);
          handle.ok(null);
        } catch {
          handle.unknown();
        }
      },
    });
  }

  async #pollCommitted(): Promise<void> {
    const { plan, recorder } = this.#options;
    while (this.#running) {
      const handles = Array.from({ length: plan.kafkaPartitions }, (_, partition) => recorder.begin('offsets', { kind: 'committed', topic: KAFKA_TOPIC, group: KAFKA_GROUP, partition } satisfies QueueInput));
      try {
        const answer = await withDeadline(this.#admin!.fetchOffsets({ groupId: KAFKA_GROUP, topics: [KAFKA_TOPIC] }), 5000);
        if (answer === 'deadline') throw new Error('no answer');
        const partitions = answer.find((topic) => topic.topic === KAFKA_TOPIC)?.partitions ?? [];
        handles.forEach((handle, partition) => {
          const found = partitions.find((entry) => entry.partition === partition);
          if (found === undefined) handle.fail();
          else handle.ok({ offset: Number(found.offset) });
        });
      } catch {
        for (const handle of handles) handle.fail();
      }
      await new Promise((resolve) => setTimeout(resolve, COMMITTED_POLL_MS));
    }
  }

  /**
   * Reads every partition from offset 0 to its end offset (asked after the heal), in a group of
   * its own, and records one 'drain' entry per partition: { endOffset, records }.
   */
  async drain(timeoutMs: number): Promise<void> {
    const { plan, recorder } = this.#options;
    const handles = Array.from({ length: plan.kafkaPartitions }, (_, partition) => recorder.begin('drain', { kind: 'drain', topic: KAFKA_TOPIC, partition } satisfies QueueInput));
    let ends: Map<number, number>;
    try {
      const admin = await this.#connectedAdmin();
      const offsets = await retryUntil('reading end offsets', Math.min(15_000, timeoutMs), () => admin.fetchTopicOffsets(KAFKA_TOPIC));
      ends = new Map(offsets.map((entry) => [entry.partition, Number(entry.high)]));
    } catch {
      for (const handle of handles) handle.fail();
      return;
    }
    const seen = new Map<number, Map<number, Set<string>>>(Array.from({ length: plan.kafkaPartitions }, (_, partition) => [partition, new Map()]));
    const consumer = this.#kafka.consumer({ groupId: `chaos-drain-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 250, retry: { retries: 30, restartOnFailure: async () => true } });
    const complete = (): boolean => [...ends].every(([partition, end]) => end === 0 || [...seen.get(partition)!.keys()].some((offset) => offset >= end - 1));
    try {
      await retryUntil('connecting the drain consumer', 10_000, () => consumer.connect());
      await consumer.subscribe({ topic: KAFKA_TOPIC, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const values = seen.get(partition)!;
          const offset = Number(message.offset);
          if (!values.has(offset)) values.set(offset, new Set());
          values.get(offset)!.add(message.value?.toString('utf8') ?? '');
        },
      });
      const deadline = performance.now() + timeoutMs;
      while (!complete() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    } catch {
      // Recorded below as an incomplete drain.
    } finally {
      await withDeadline(consumer.disconnect().catch(() => undefined), DISCONNECT_TIMEOUT_MS);
    }
    handles.forEach((handle, partition) => {
      const records = [...seen.get(partition)!].sort((a, b) => a[0] - b[0]).flatMap(([offset, values]) => [...values].map((value): [number, string] => [offset, value]));
      handle.ok({ endOffset: ends.get(partition) ?? 0, records });
    });
  }
}
