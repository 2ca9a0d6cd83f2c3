// Kafka clients for the CLI (`cairn topic/produce/consume`, `cairn bench produce|consume`):
// kafkajs, pointed at the cluster's Kafka listeners. The bootstrap servers come from
// --bootstrap-server / CAIRN_BOOTSTRAP_SERVERS, or else from the cluster itself (every member's
// Kafka address in /v1/cluster), so the commands work against `cairn local up` without flags.
import { Option } from 'commander';
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import '../client/kafkajs-quiet-warnings.ts';
import type { Admin } from 'kafkajs';
import { withClient } from './client-options.ts';
import type { GlobalOptions } from './client-options.ts';
import { CliError, EXIT, usageError } from './errors.ts';


export interface KafkaOptions extends GlobalOptions {
  readonly bootstrapServer?: string;
}

export function addKafkaOptions(command: Command): Command {
  return command.addOption(new Option('--bootstrap-server <host:port,...>', 'Kafka listeners of any members [env CAIRN_BOOTSTRAP_SERVERS; default: every member\'s Kafka address, asked from the cluster]').helpGroup('Global options:'));
}

/** The Kafka addresses to bootstrap from. */
export async function bootstrapServers(options: KafkaOptions): Promise<string[]> {
  const given = options.bootstrapServer ?? process.env['CAIRN_BOOTSTRAP_SERVERS'];
  if (given !== undefined && given !== '') return given.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  const servers = await withClient(options, async (client) => {
    const status = await client.status();
    return status.members.flatMap((member) => (member.kafka === undefined ? [] : [member.kafka]));
  });
  if (servers.length === 0) throw usageError('the cluster reports no Kafka listener; give --bootstrap-server host:port');
  return servers;
}

export async function createKafka(options: KafkaOptions, clientId = 'cairn-cli'): Promise<Kafka> {
  return new Kafka({
    clientId, brokers: await bootstrapServers(options), logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/** Runs `body` with a connected admin client, turning Kafka errors into CLI errors. */
export async function withAdmin<T>(options: KafkaOptions, body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = (await createKafka(options)).admin();
  try {
    await admin.connect();
    return await body(admin);
  } catch (error) {
    throw explainKafkaError(error);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** A message that says what failed and what to try. */
export function explainKafkaError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const kafkaError = error as { type?: string; message?: string; name?: string };
  const type = kafkaError.type ?? kafkaError.name ?? 'error';
  if (/connection|ECONNREFUSED|KafkaJSNumberOfRetriesExceeded|KafkaJSConnectionError/i.test(`${type} ${kafkaError.message ?? ''}`)) {
    return new CliError('unavailable', `Kafka listeners did not answer (${kafkaError.message ?? type}); is the cluster up? try \`cairn local status\``, EXIT.unavailable);
  }
  return new CliError(type.toLowerCase(), `${type}: ${kafkaError.message ?? String(error)}`, EXIT.failed);
}
