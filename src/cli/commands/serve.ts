// `cairn serve`: run one node. Settings come from the one table in settings/definitions.ts as
// flags, CAIRN_* variables and an optional JSON config file (flag > env > file > default).
import type { Command } from 'commander';
import { INJECTED_RAFT_BUGS } from '../../core/index.ts';
import type { InjectedRaftBug } from '../../core/index.ts';
import { INJECTED_RUNTIME_BUGS } from '../../runtime/ready-processor.ts';
import type { InjectedRuntimeBug } from '../../runtime/ready-processor.ts';
import { CairnNode, CairnNodeError, createLogger } from '../../server/node/index.ts';
import type { InjectedNodeBugs } from '../../server/node/index.ts';
import { CliError, EXIT } from '../errors.ts';
import { addGlobalOptions } from '../client-options.ts';
import { writeJson, writeLine, table } from '../output.ts';
import { addSettingOptions, flagValues } from '../settings/flags.ts';
import { serveConfiguration } from '../settings/node-options.ts';
import type { ServeConfiguration } from '../settings/node-options.ts';
import { SettingsError, effectiveSettings, resolveSettings } from '../settings/resolve.ts';
import type { ResolvedSettings } from '../settings/resolve.ts';
import { countBufferMemoryInHeapLimit, setHeapGrowthPercent } from '../v8-memory.ts';

const FLUSH_TIMEOUT_MS = 1000;

/**
 * TEST ONLY: `CAIRN_INJECT_BUGS=ack-before-fsync,accept-append-without-match` switches on known
 * bugs so the chaos suite can prove it catches them. Removed from the environment before the
 * settings are read (it is not a setting: no flag or config key can enable it).
 */
export const INJECT_BUGS_VARIABLE = 'CAIRN_INJECT_BUGS';

function takeInjectedBugs(env: NodeJS.ProcessEnv): InjectedNodeBugs & { names: string[] } {
  const text = env[INJECT_BUGS_VARIABLE];
  delete env[INJECT_BUGS_VARIABLE];
  const names = (text ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  const raftBugs = new Set<InjectedRaftBug>();
  const runtimeBugs = new Set<InjectedRuntimeBug>();
  for (const name of names) {
    if ((INJECTED_RAFT_BUGS as readonly string[]).includes(name)) raftBugs.add(name as InjectedRaftBug);
    else if ((INJECTED_RUNTIME_BUGS as readonly string[]).includes(name)) runtimeBugs.add(name as InjectedRuntimeBug);
    else throw new CliError('usage', `${INJECT_BUGS_VARIABLE}: unknown bug ${JSON.stringify(name)} (known: ${[...INJECTED_RAFT_BUGS, ...INJECTED_RUNTIME_BUGS].join(', ')})`, EXIT.usage);
  }
  return { raftBugs, runtimeBugs, names };
}

const EXAMPLES = `
Precedence: a flag beats its CAIRN_* variable, which beats the --config file, which beats the default.
Every flag has a variable (CAIRN_ + the flag in capitals) and a config-file key (the flag in camelCase).

Examples:
  # a new single-node cluster on the default ports (client 2379, peer 2380)
  cairn serve --init --data-dir ./n1 --cluster-secret-file ./secret

  # a second node joining it (promoted to voter once caught up)
  cairn serve --join 127.0.0.1:2379 --data-dir ./n2 --client-port 2389 --peer-port 2390 --cluster-secret-file ./secret

  # the same settings from the environment and a file; check them without starting
  CAIRN_PEER_PORT=2390 cairn serve --config node2.json --print-config

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 the node failed while running, 2 invalid setting,
3 could not start (data directory locked or foreign, port in use, damaged data), 4 could not join.`;

/** Fills in the `serve` command. */
export function registerServe(command: Command): void {
  command.option('--print-config', 'print the effective settings with their sources (secrets redacted) and exit');
  addSettingOptions(command);
  addGlobalOptions(command, { client: false });
  command.addHelpText('after', EXAMPLES);
  command.action(async () => {
    await runServe(command);
  });
}

function configure(command: Command): { settings: ResolvedSettings; configuration: ServeConfiguration } {
  try {
    const settings = resolveSettings({ flags: flagValues(command), env: process.env });
    return { settings, configuration: serveConfiguration(settings) };
  } catch (error) {
    if (error instanceof SettingsError) throw new CliError(error.code, error.message, EXIT.usage);
    throw error;
  }
}

function printConfig(settings: ResolvedSettings, configuration: ServeConfiguration, json: boolean): void {
  const effective = effectiveSettings(settings);
  if (json) {
    writeJson({ settings: Object.fromEntries(effective.map((entry) => [entry.key, { value: entry.value ?? null, source: entry.source, flag: entry.flag, env: entry.env }])), warnings: configuration.warnings });
    return;
  }
  writeLine(table([['SETTING', 'VALUE', 'SOURCE'], ...effective.map((entry) => [entry.flag, entry.value ?? '-', entry.source])]));
  for (const warning of configuration.warnings) process.stderr.write(`warning: ${warning}\n`);
}

function exitCodeOf(error: unknown, joining: boolean): number {
  if (error instanceof CairnNodeError) {
    if (error.code === 'invalid-option') return EXIT.usage;
    if (error.code === 'join-refused' || error.code === 'join-failed' || (joining && error.code === 'cluster-id-mismatch')) return EXIT.joinFailed;
  }
  return EXIT.startFailed;
}

function describeStartError(error: unknown): string {
  const failure = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (failure.code === 'EADDRINUSE') return `address ${failure.address ?? ''}:${failure.port ?? ''} is in use by another process: stop it or choose another --client-port / --peer-port`;
  if (failure.code === 'EACCES' && failure.syscall === 'listen') return `not allowed to listen on ${failure.address ?? ''}:${failure.port ?? ''}: choose a port above 1023`;
  return failure.message ?? String(error);
}

async function runServe(command: Command): Promise<void> {
  const injected = takeInjectedBugs(process.env);
  const { settings, configuration } = configure(command);
  const options = command.opts<{ printConfig?: boolean; json?: boolean }>();
  if (options.printConfig === true) return printConfig(settings, configuration, options.json === true);
  if (configuration.bufferMemoryInHeapLimit) countBufferMemoryInHeapLimit();
  setHeapGrowthPercent(configuration.heapGrowthPercent);
  const pretty = configuration.logFormat === 'pretty' || (configuration.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger({ level: configuration.logLevel, pretty, base: configuration.node.name === undefined ? {} : { name: configuration.node.name } });
  for (const warning of configuration.warnings) logger.warn(warning);
  if (injected.names.length > 0) logger.warn({ injectedBugs: injected.names }, `${INJECT_BUGS_VARIABLE} is set: this node runs with known bugs switched on (tests only)`);
  const node = new CairnNode({ ...configuration.node, logger }, { raftBugs: injected.raftBugs, runtimeBugs: injected.runtimeBugs });
  let stopping: Promise<void> | undefined;
  const finish = async (code: number): Promise<never> => {
    await Promise.race([new Promise<void>((resolve) => logger.flush(() => resolve())), new Promise((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref())]);
    process.exit(code);
  };
  const shutdown = (signal: string): void => {
    if (stopping !== undefined) {
      process.stderr.write(`${signal} again: exiting without a graceful stop\n`);
      process.exit(EXIT.interrupted);
    }
    logger.info({ signal }, 'stopping (send the signal again to exit at once)');
    stopping = node.stop();
    void stopping.then(() => finish(EXIT.ok), (error: unknown) => {
      logger.error({ error: (error as Error).message }, 'stop failed');
      return finish(EXIT.failed);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  node.onFailure((error) => {
    process.stderr.write(`error: the node failed and stopped serving: ${error.message}\n`);
    void node.stop().finally(() => finish(EXIT.failed));
  });
  try {
    await node.start();
  } catch (error) {
    if (stopping !== undefined) return;
    const message = describeStartError(error);
    logger.fatal({ code: (error as { code?: string }).code, error: message }, 'could not start');
    process.stderr.write(`error: cannot start: ${message}\n`);
    await node.stop().catch(() => {});
    await finish(exitCodeOf(error, configuration.node.join !== undefined));
  }
  logger.info({ nodeId: node.nodeId(), clusterId: node.clusterId() ?? null, phase: node.phase(), client: node.clientAddress(), peer: node.peerAddress() ?? null }, 'serving');
}
