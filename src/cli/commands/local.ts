// `cairn local up|down|status|restart`: a cluster of node processes on this machine, driven
// through the LocalCluster library (src/local), which the tests and the chaos suite use too.
import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { LocalCluster, LocalClusterError, NODES_MAX } from '../../local/index.ts';
import type { LocalNodeStatus } from '../../local/index.ts';
import { DEFAULT_LOCAL_DIR, addGlobalOptions, parseDuration } from '../client-options.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { table, writeJson, writeLine, writeNote } from '../output.ts';

interface LocalOptions {
  readonly dir: string;
  readonly json?: boolean;
  readonly timeout?: string;
}

const LOCAL_EXIT: Readonly<Record<string, number>> = {
  'exists': EXIT.usage, 'no-cluster': EXIT.usage, 'bad-option': EXIT.usage, 'mismatch': EXIT.usage,
  'ports-in-use': EXIT.startFailed, 'start-failed': EXIT.startFailed, 'timeout': EXIT.unavailable, 'not-ours': EXIT.failed,
};

export function localError(error: unknown): unknown {
  if (error instanceof LocalClusterError) return new CliError(error.code, error.message, LOCAL_EXIT[error.code] ?? EXIT.failed);
  return error;
}

function integerOption(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw usageError(`${what} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text)})`);
  return Number(text);
}

function dirOption(): Option {
  return new Option('--dir <dir>', 'directory of the local cluster (state, data, logs)').default(DEFAULT_LOCAL_DIR);
}

function shown(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith('..') || relativePath === '' ? path : relativePath;
}

/** Fills in the `local` command group. */
export function registerLocal(local: Command): void {
  local.addHelpText('after', `
Examples:
  cairn local up                      # 3 nodes in ./.cairn, ports 2379.. (client), 2380.. (peer)
  cairn local up --nodes 5 --base-port 4000 --dir /tmp/c5 -- --snapshot-every-entries 1000
  cairn local status                  # role, term, commit index of every node
  cairn local restart --node 2 --wipe # node 2 loses its data and catches up by snapshot
  cairn local down --purge            # stop the nodes and delete the directory`);
  registerUp(local);
  registerDown(local);
  registerStatus(local);
  registerRestart(local);
}

function registerUp(local: Command): void {
  const command = local.command('up')
    .description('start the local cluster (creating it on first use), wait until every node is ready, print endpoints and a ticket')
    .addOption(new Option('--nodes <n>', `number of nodes, 1 to ${NODES_MAX} (default 3; must match an existing cluster)`))
    .addOption(dirOption())
    .addOption(new Option('--base-port <port>', 'node i uses base+10(i-1) for its client API, +1 for peers, +2 for Kafka (default 2379)'))
    .option('--foreground', 'stay attached with a live status line; Ctrl-C stops the nodes')
    .option('--timeout <duration>', 'give up if the cluster is not ready within this time', '60s')
    .argument('[serve-flags...]', 'after --: extra `cairn serve` flags for every node (new cluster only)')
    .addHelpText('after', `
Examples:
  cairn local up --nodes 3
  cairn local up --foreground                       # what \`npm start\` runs
  cairn local up --dir /tmp/c1 --base-port 4000 -- --snapshot-every-entries 500 --log-level debug`);
  addGlobalOptions(command, { client: false });
  command.action(async (serveFlags: string[], options: LocalOptions & { nodes?: string; basePort?: string; foreground?: boolean }) => {
    await runUp(serveFlags, options);
  });
}

function openForUp(serveFlags: string[], options: LocalOptions & { nodes?: string; basePort?: string }): { cluster: LocalCluster; created: boolean } {
  const nodes = options.nodes === undefined ? undefined : integerOption(options.nodes, '--nodes', 1, NODES_MAX);
  const basePort = options.basePort === undefined ? undefined : integerOption(options.basePort, '--base-port', 1024, 65_000);
  if (!LocalCluster.exists(options.dir)) {
    return { cluster: LocalCluster.create({ directory: options.dir, ...(nodes === undefined ? {} : { nodes }), ...(basePort === undefined ? {} : { basePort }), serveArgs: serveFlags }), created: true };
  }
  const cluster = LocalCluster.open(options.dir);
  const { state } = cluster;
  const mismatch = nodes !== undefined && nodes !== state.nodes.length ? `--nodes ${nodes} (it has ${state.nodes.length})`
    : basePort !== undefined && basePort !== state.basePort ? `--base-port ${basePort} (it uses ${state.basePort})`
      : serveFlags.length > 0 && serveFlags.join(' ') !== state.serveArgs.join(' ') ? `serve flags ${serveFlags.join(' ')} (it has ${state.serveArgs.join(' ') || 'none'})` : undefined;
  if (mismatch !== undefined) {
    throw new CliError('mismatch', `${shown(cluster.directory)} already holds cluster ${state.clusterId} that differs: ${mismatch}; use \`cairn local down --purge --dir ${options.dir}\` first, or another --dir`, EXIT.usage);
  }
  return { cluster, created: false };
}

async function runUp(serveFlags: string[], options: LocalOptions & { nodes?: string; basePort?: string; foreground?: boolean }): Promise<void> {
  const timeoutMs = parseDuration(options.timeout ?? '60s', '--timeout');
  const { cluster, created } = (() => {
    try {
      return openForUp(serveFlags, options);
    } catch (error) {
      throw localError(error);
    }
  })();
  const before = new Set(cluster.nodes().filter((node) => cluster.isRunning(node.id)).map((node) => node.id));
  const progress = options.json === true ? () => {} : (message: string) => writeNote(`${message}...`);
  const stopStarted = (): Promise<unknown> => Promise.all(cluster.nodes().filter((node) => !before.has(node.id))
    .map((node) => cluster.stopNode(node.id, { timeoutMs: 5000 }).catch(() => undefined)));
  // Ctrl-C while starting: stop what this command started rather than leave it half-formed.
  const onSignal = (): void => {
    writeNote('interrupted: stopping the nodes this command started...');
    void stopStarted().finally(() => process.exit(EXIT.interrupted));
  };
  process.once('SIGINT', onSignal);
  try {
    progress(created ? `creating local cluster ${cluster.clusterId} in ${shown(cluster.directory)}` : `using local cluster ${cluster.clusterId} in ${shown(cluster.directory)}`);
    await cluster.up({ timeoutMs, onProgress: progress });
  } catch (error) {
    await stopStarted();
    // Nothing ran: do not leave a half-created cluster behind (its ports would be remembered).
    if (created && error instanceof LocalClusterError && error.code === 'ports-in-use') rmSync(cluster.directory, { recursive: true, force: true });
    throw localError(error);
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  const statuses = await cluster.status();
  printUp(cluster, statuses, options.json === true);
  if (options.foreground === true) await foreground(cluster, options.json === true);
}

/** The live dashboard of the first node (any node's client address serves it). */
function dashboardUrl(cluster: LocalCluster): string {
  return `http://${cluster.endpoints()[0]}/`;
}

/** The Kafka bootstrap servers: every node's Kafka address. */
function kafkaServers(statuses: readonly LocalNodeStatus[]): string[] {
  return statuses.flatMap((node) => (node.kafka === null ? [] : [node.kafka]));
}

function printUp(cluster: LocalCluster, statuses: readonly LocalNodeStatus[], json: boolean): void {
  if (json) {
    writeJson({
      clusterId: cluster.clusterId, directory: cluster.directory, endpoints: cluster.endpoints(), bootstrapServers: kafkaServers(statuses),
      dashboard: dashboardUrl(cluster), ticket: cluster.ticket(), nodes: statuses.map(nodeJson),
    });
    return;
  }
  const dir = shown(cluster.directory);
  writeLine(`cluster ${cluster.clusterId} is up: ${statuses.length} node${statuses.length === 1 ? '' : 's'} in ${dir}`);
  writeLine(table(statuses.map((node) => ['  ' + node.name, `client ${node.client}`, `peer ${node.peer}`, ...(node.kafka === null ? [] : [`kafka ${node.kafka}`]), `pid ${node.pid ?? '-'}`, node.role ?? '-', `log ${shown(node.logFile)}`])));
  writeLine(`endpoints: ${cluster.endpoints().join(',')}`);
  writeLine(`dashboard: ${dashboardUrl(cluster)}   (every node serves it at / of its client address)`);
  const kafka = kafkaServers(statuses);
  if (kafka.length > 0) writeLine(`kafka:     --bootstrap-server ${kafka.join(',')}   (any node; e.g. kcat -b ${kafka[0]} -L)`);
  writeLine(`ticket:    ${cluster.ticket()}`);
  const dirFlag = dir === DEFAULT_LOCAL_DIR ? '' : ` --dir ${dir}`;
  if (dir !== DEFAULT_LOCAL_DIR) writeLine(`use it:    export CAIRN_ENDPOINTS=${cluster.endpoints().join(',')}`);
  writeLine('try:       cairn kv set hello world && cairn kv get hello');
  writeLine(`status:    cairn local status${dirFlag}    stop: cairn local down${dirFlag}`);
}

export function nodeJson(node: LocalNodeStatus): Record<string, unknown> {
  return {
    id: node.id, name: node.name, pid: node.process === 'ours' ? node.pid : null, running: node.process === 'ours', phase: node.phase, role: node.role,
    term: node.term, leaderId: node.leaderId, commitIndex: node.commitIndex, appliedIndex: node.appliedIndex, membership: node.membership,
    dataDir: node.dataDir, logFile: node.logFile, peer: node.peer, client: node.client, kafka: node.kafka, ...(node.error === undefined ? {} : { error: node.error }),
  };
}

function statusLine(statuses: readonly LocalNodeStatus[]): string {
  return statuses.map((node) => {
    if (node.process !== 'ours') return `${node.name} down`;
    if (node.role === null) return `${node.name} ${node.phase ?? 'no answer'}`;
    return `${node.name} ${node.role} t${node.term} c${node.commitIndex}`;
  }).join(' | ');
}

/** Stays attached: a status line about once a second until SIGINT/SIGTERM, then stops the nodes. */
async function foreground(cluster: LocalCluster, json: boolean): Promise<void> {
  const tty = process.stdout.isTTY === true && !json;
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  // Ctrl-C, a kill, or the terminal closing: stop the nodes we are attached to.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop!());
  if (!json) writeNote('attached: press Ctrl-C to stop the nodes');
  let last = '';
  for (;;) {
    const statuses = await cluster.status();
    const line = statusLine(statuses);
    if (tty) process.stdout.write(`\r\x1b[K${line}`);
    else if (json) writeJson({ time: new Date().toISOString(), nodes: statuses.map(nodeJson) });
    else if (line.replace(/ c\d+/g, '') !== last.replace(/ c\d+/g, '')) writeLine(line);
    last = line;
    const tick = await Promise.race([stopped.then(() => 'stop' as const), new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), 1000))]);
    if (tick === 'stop') break;
  }
  if (tty) process.stdout.write('\n');
  if (!json) writeNote('stopping the nodes...');
  const reports = await cluster.down();
  if (!json) writeNote(reports.map((report) => `node ${report.id}: ${report.outcome}`).join(', '));
}

function registerDown(local: Command): void {
  const command = local.command('down')
    .description('stop the nodes this local cluster started (never another process), optionally delete its directory')
    .addOption(dirOption())
    .option('--purge', 'also delete the directory (data, logs, state)')
    .addHelpText('after', '\nExamples:\n  cairn local down\n  cairn local down --dir /tmp/c1 --purge');
  addGlobalOptions(command, { client: false });
  command.action(async (options: LocalOptions & { purge?: boolean }) => {
    let cluster: LocalCluster;
    try {
      cluster = LocalCluster.open(options.dir);
    } catch (error) {
      throw localError(error);
    }
    const reports = await cluster.down();
    const foreign = reports.filter((report) => report.outcome === 'not-ours');
    if (options.purge === true && foreign.length === 0) rmSync(cluster.directory, { recursive: true, force: true });
    if (options.json === true) writeJson({ clusterId: cluster.clusterId, directory: cluster.directory, nodes: reports, purged: options.purge === true && foreign.length === 0 });
    else {
      writeLine(reports.map((report) => `node ${report.id}: ${report.outcome}`).join('\n'));
      if (options.purge === true && foreign.length === 0) writeLine(`deleted ${shown(cluster.directory)}`);
    }
    if (foreign.length > 0) {
      throw new CliError('not-ours', `the recorded pids of node ${foreign.map((report) => report.id).join(', ')} now belong to other processes; they were left alone${options.purge === true ? ' and the directory kept' : ''}`, EXIT.failed);
    }
  });
}

function registerStatus(local: Command): void {
  const command = local.command('status')
    .description('every node of the local cluster: process, role, term, commit index, addresses, data directory')
    .addOption(dirOption())
    .addHelpText('after', '\nExit code 0 when every node runs and answers, 5 otherwise.\n\nExamples:\n  cairn local status\n  cairn local status --json | jq \'.nodes[] | {id, role}\'');
  addGlobalOptions(command, { client: false });
  command.action(async (options: LocalOptions) => {
    let cluster: LocalCluster;
    try {
      cluster = LocalCluster.open(options.dir);
    } catch (error) {
      throw localError(error);
    }
    const statuses = await cluster.status();
    if (options.json === true) {
      writeJson({ clusterId: cluster.clusterId, directory: cluster.directory, endpoints: cluster.endpoints(), ticket: cluster.ticket(), nodes: statuses.map(nodeJson) });
    } else {
      writeLine(`cluster ${cluster.clusterId} in ${shown(cluster.directory)}`);
      writeLine(table([
        ['ID', 'NAME', 'PID', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'MEMBERSHIP', 'CLIENT', 'PEER', 'KAFKA', 'DATA'],
        ...statuses.map((node) => [String(node.id), node.name, node.process === 'ours' ? String(node.pid) : node.process === 'foreign' ? 'foreign!' : 'down',
          node.role ?? node.phase ?? '-', String(node.term ?? '-'), String(node.commitIndex ?? '-'), String(node.appliedIndex ?? '-'), node.membership ?? '-',
          node.client, node.peer, node.kafka ?? '-', shown(node.dataDir)]),
      ]));
    }
    if (statuses.some((node) => node.process !== 'ours' || node.role === null)) process.exitCode = EXIT.unavailable;
  });
}

function registerRestart(local: Command): void {
  const command = local.command('restart')
    .description('restart one node, or every node one after the other (waiting until each is ready)')
    .addOption(dirOption())
    .option('--node <id>', 'only this node')
    .option('--wipe', 'with --node: delete its data first (it catches up from the others, by snapshot if needed)')
    .option('--timeout <duration>', 'give up if a node is not ready within this time', '60s')
    .addHelpText('after', '\nExamples:\n  cairn local restart\n  cairn local restart --node 2 --wipe');
  addGlobalOptions(command, { client: false });
  command.action(async (options: LocalOptions & { node?: string; wipe?: boolean }) => {
    const timeoutMs = parseDuration(options.timeout ?? '60s', '--timeout');
    if (options.wipe === true && options.node === undefined) throw usageError('--wipe needs --node <id> (wiping every node would lose the cluster)');
    try {
      const cluster = LocalCluster.open(options.dir);
      const ids = options.node === undefined ? cluster.nodes().map((node) => node.id) : [integerOption(options.node, '--node', 1, NODES_MAX)];
      if (!cluster.state.formed) throw new CliError('not-formed', 'the cluster was never formed completely: run `cairn local up` first', EXIT.usage);
      for (const id of ids) {
        cluster.node(id);
        if (options.json !== true) writeNote(`restarting node ${id}${options.wipe === true ? ' with an empty data directory' : ''}...`);
        await cluster.restartNode(id, { ...(options.wipe === true ? { wipe: true } : {}), timeoutMs });
        await cluster.waitForReady([id], timeoutMs);
      }
      const statuses = await cluster.status();
      if (options.json === true) writeJson({ clusterId: cluster.clusterId, restarted: ids, nodes: statuses.map(nodeJson) });
      else writeLine(statusLine(statuses));
    } catch (error) {
      throw localError(error);
    }
  });
}
