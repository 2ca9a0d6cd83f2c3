// `cairn topic create|list|describe|delete`, `cairn produce TOPIC` (lines from stdin) and
// `cairn consume TOPIC` over the cluster's Kafka protocol listeners (kafka-client.ts).
import { createInterface } from 'node:readline';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { CompressionTypes as CompressionTypesType, Message } from 'kafkajs';
import kafkajs from 'kafkajs';
import '../../client/kafkajs-stop-fix.ts';
import { addGlobalOptions } from '../client-options.ts';
import { usageError } from '../errors.ts';
import { addKafkaOptions, createKafka, explainKafkaError, withAdmin } from '../kafka-client.ts';
import type { KafkaOptions } from '../kafka-client.ts';
import { table, wholeNumber, writeJson, writeLine, writeNote } from '../output.ts';

const { CompressionTypes } = kafkajs;
/** Longest input line `cairn produce` accepts (a message), and messages per send. */
const LINE_BYTES_MAX = 1024 * 1024;
const SEND_BATCH_MAX = 500;

function leaf(parent: Command, name: string, description: string, examples: string): Command {
  const command = parent.command(name).description(description);
  addGlobalOptions(command);
  addKafkaOptions(command);
  command.addHelpText('after', `\nExamples:\n${examples}`);
  return command;
}

function topicName(text: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(text) || text === '.' || text === '..') {
    throw usageError(`topic name ${JSON.stringify(text)} must be 1-249 letters, digits, ".", "_" or "-" (and not "." or "..")`);
  }
  return text;
}

function configEntries(values: readonly string[]): { name: string; value: string }[] {
  return values.map((item) => {
    const equals = item.indexOf('=');
    if (equals <= 0) throw usageError(`--config ${JSON.stringify(item)} must be name=value (e.g. retention.ms=3600000)`);
    return { name: item.slice(0, equals), value: item.slice(equals + 1) };
  });
}

export function registerTopic(topic: Command): void {
  leaf(topic, 'create', 'create a topic', '  cairn topic create orders --partitions 3\n  cairn topic create logs --config retention.ms=3600000')
    .argument('<name>', 'topic name')
    .option('--partitions <n>', 'number of partitions', '1')
    .option('--replication-factor <n>', 'informational (every member holds every partition)', '3')
    .option('--config <name=value>', 'topic setting (repeatable): retention.ms, retention.bytes, max.message.bytes', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action(async (name: string, options: KafkaOptions & { partitions: string; replicationFactor: string; config: string[] }) => {
      const created = await withAdmin(options, (admin) => admin.createTopics({
        waitForLeaders: true,
        topics: [{
          topic: topicName(name), numPartitions: wholeNumber(options.partitions, '--partitions', 1),
          replicationFactor: wholeNumber(options.replicationFactor, '--replication-factor', 1), configEntries: configEntries(options.config),
        }],
      }));
      if (options.json === true) return writeJson({ topic: name, created });
      writeLine(created ? `created topic ${name}` : `topic ${name} already exists`);
    });
  leaf(topic, 'list', 'list topics', '  cairn topic list')
    .action(async (options: KafkaOptions) => {
      const topics = (await withAdmin(options, (admin) => admin.listTopics())).sort();
      if (options.json === true) return writeJson({ topics });
      writeLine(topics.length === 0 ? '(no topics)' : topics.join('\n'));
    });
  leaf(topic, 'describe', 'partitions of a topic: leader, replicas, in-sync replicas, offsets', '  cairn topic describe orders')
    .argument('<name>', 'topic name')
    .action(async (name: string, options: KafkaOptions) => {
      const { metadata, offsets } = await withAdmin(options, async (admin) => ({
        metadata: await admin.fetchTopicMetadata({ topics: [topicName(name)] }),
        offsets: await admin.fetchTopicOffsets(name),
      }));
      const partitions = metadata.topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId).map((partition) => {
        const offset = offsets.find((item) => item.partition === partition.partitionId);
        return { partition: partition.partitionId, leader: partition.leader, replicas: partition.replicas, isr: partition.isr, logStartOffset: offset?.low ?? null, highWatermark: offset?.high ?? null };
      });
      if (options.json === true) return writeJson({ topic: name, partitions });
      writeLine(table([['partition', 'leader', 'replicas', 'isr', 'start offset', 'high watermark'], ...partitions.map((item) => [
        String(item.partition), String(item.leader), item.replicas.join(','), item.isr.join(','), item.logStartOffset ?? '-', item.highWatermark ?? '-',
      ])]));
    });
  leaf(topic, 'delete', 'delete a topic and its data', '  cairn topic delete orders')
    .argument('<name>', 'topic name')
    .action(async (name: string, options: KafkaOptions) => {
      await withAdmin(options, (admin) => admin.deleteTopics({ topics: [topicName(name)] }));
      if (options.json === true) return writeJson({ topic: name, deleted: true });
      writeLine(`deleted topic ${name}`);
    });
}

interface ProduceOptions extends KafkaOptions {
  keySeparator?: string;
  acks: 'all' | '1' | '0';
  idempotent?: boolean;
  compression: 'none' | 'gzip';
  partition?: string;
}

/** Splits an input line into key and value at the first separator (no separator: no key). */
function messageOf(line: string, separator: string | undefined, partition: number | undefined): Message {
  if (Buffer.byteLength(line) > LINE_BYTES_MAX) throw usageError(`an input line is longer than ${LINE_BYTES_MAX} bytes`);
  const split = separator === undefined ? -1 : line.indexOf(separator);
  const message: Message = split < 0 ? { value: line } : { key: line.slice(0, split), value: line.slice(split + separator!.length) };
  return partition === undefined ? message : { ...message, partition };
}

export function registerProduce(produce: Command): void {
  addGlobalOptions(produce);
  addKafkaOptions(produce);
  produce
    .argument('<topic>', 'topic to write to (created on first use unless auto-creation is off)')
    .option('--key-separator <text>', 'split each line into key and value at the first occurrence of this text')
    .addOption(new Option('--acks <all|1|0>', 'acknowledgement to wait for').choices(['all', '1', '0']).default('all'))
    .option('--idempotent', 'idempotent producer: retries never duplicate a message')
    .addOption(new Option('--compression <codec>', 'batch compression').choices(['none', 'gzip']).default('none'))
    .option('--partition <n>', 'write every message to this partition (default: by key, or spread)')
    .addHelpText('after', `
Reads one message per line from stdin until end of input, sends them in batches, and reports
how many were acknowledged. Lines longer than ${LINE_BYTES_MAX} bytes are refused.

Examples:
  echo hello | cairn produce greetings
  printf 'user1:login\\nuser2:logout\\n' | cairn produce events --key-separator :`)
    .action(async (topic: string, options: ProduceOptions) => {
      const partition = options.partition === undefined ? undefined : wholeNumber(options.partition, '--partition', 0);
      const kafka = await createKafka(options);
      const producer = kafka.producer({ idempotent: options.idempotent === true, allowAutoTopicCreation: true, ...(options.idempotent === true ? { maxInFlightRequests: 1 } : {}) });
      const acks = options.acks === 'all' ? -1 : Number(options.acks);
      const compression: CompressionTypesType = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
      let sent = 0;
      let pending: Message[] = [];
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const batch = pending;
        pending = [];
        await producer.send({ topic: topicName(topic), messages: batch, acks, compression });
        sent += batch.length;
      };
      try {
        await producer.connect();
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        for await (const line of lines) {
          pending.push(messageOf(line, options.keySeparator, partition));
          if (pending.length >= SEND_BATCH_MAX) await flush();
        }
        await flush();
      } catch (error) {
        throw explainKafkaError(error);
      } finally {
        await producer.disconnect().catch(() => {});
      }
      if (options.json === true) return writeJson({ topic, sent });
      writeNote(`${sent} message${sent === 1 ? '' : 's'} acknowledged`);
    });
}

interface ConsumeOptions extends KafkaOptions {
  group?: string;
  fromBeginning?: boolean;
  max?: string;
  keySeparator: string;
  idleTimeout?: string;
}

export function registerConsume(consume: Command): void {
  addGlobalOptions(consume);
  addKafkaOptions(consume);
  consume
    .argument('<topic>', 'topic to read')
    .option('--group <id>', 'consume as this consumer group (committed offsets; partitions shared with the group\'s other members)')
    .option('--from-beginning', 'without a committed offset, start at the oldest message (default: only new ones)')
    .option('--max <n>', 'stop after this many messages')
    .option('--key-separator <text>', 'printed between key and value', '\t')
    .option('--idle-timeout <seconds>', 'stop after this long without a message')
    .addHelpText('after', `
Prints one message per line (key, separator, value; with --json one JSON object per line with
partition, offset, key, value). Stops at --max messages, after --idle-timeout, or on Ctrl-C,
committing the group's offsets.

Examples:
  cairn consume greetings --from-beginning --max 10
  cairn consume events --group analytics --json`)
    .action(async (topic: string, options: ConsumeOptions) => {
      const max = options.max === undefined ? Infinity : wholeNumber(options.max, '--max', 1);
      const idleMs = options.idleTimeout === undefined ? undefined : wholeNumber(options.idleTimeout, '--idle-timeout', 1) * 1000;
      const kafka = await createKafka(options);
      const consumer = kafka.consumer({ groupId: options.group ?? `cairn-cli-${process.pid}-${Date.now()}`, allowAutoTopicCreation: false });
      let received = 0;
      /** Offsets to commit: the next offset after the last message printed, per partition. */
      const nextOffsets = new Map<number, string>();
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let idleTimer: NodeJS.Timeout | undefined;
      const armIdle = (): void => {
        if (idleMs === undefined) return;
        clearTimeout(idleTimer);
        idleTimer = setTimeout(finish, idleMs);
      };
      process.once('SIGINT', finish);
      try {
        await consumer.connect();
        await consumer.subscribe({ topic: topicName(topic), fromBeginning: options.fromBeginning === true });
        // The idle clock starts once the group has been joined (joining alone can take seconds).
        consumer.on(consumer.events.GROUP_JOIN, armIdle);
        // Offsets are committed by hand, only for messages actually printed: with --max the rest
        // of a fetched batch must stay unconsumed for the group.
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (received >= max) return;
            received++;
            nextOffsets.set(partition, (BigInt(message.offset) + 1n).toString());
            armIdle();
            const key = message.key?.toString() ?? null;
            const value = message.value?.toString() ?? null;
            if (options.json === true) writeJson({ partition, offset: message.offset, key, value, timestamp: message.timestamp });
            else writeLine(key === null ? String(value) : `${key}${options.keySeparator}${value}`);
            if (received >= max) {
              consumer.pause([{ topic }]);
              finish();
            }
          },
        });
        await finished;
        if (options.group !== undefined && nextOffsets.size > 0) {
          await consumer.commitOffsets([...nextOffsets].map(([partition, offset]) => ({ topic, partition, offset })));
        }
      } catch (error) {
        throw explainKafkaError(error);
      } finally {
        clearTimeout(idleTimer);
        process.removeListener('SIGINT', finish);
        await consumer.disconnect().catch(() => {});
      }
      if (options.json !== true) writeNote(`${received} message${received === 1 ? '' : 's'} consumed`);
    });
}
