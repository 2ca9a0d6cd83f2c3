// Entry point of the `cairn` command. Each subcommand lives in its own module and registers itself
// on the program; this file only assembles them, runs the parser, and turns errors into a message
// on stderr (JSON with --json) and an exit code (see errors.ts and docs/cli.md).
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { CliError, EXIT } from './errors.ts';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The command groups. Only the group being run is loaded (the others only show in help), so a
 * `cairn kv get` does not pay for loading the node's code.
 */
const GROUPS: readonly { name: string; description: string; register: () => Promise<(command: Command) => void> }[] = [
  { name: 'serve', description: 'run one Cairn node (Raft member, HTTP API, metrics)', register: async () => (await import('./commands/serve.ts')).registerServe },
  { name: 'local', description: 'run a cluster of nodes on this machine (one process per node)', register: async () => (await import('./commands/local.ts')).registerLocal },
  { name: 'cluster', description: 'cluster membership and status', register: async () => (await import('./commands/cluster.ts')).registerCluster },
  { name: 'kv', description: 'read and write keys, transactions, watches, leases', register: async () => (await import('./commands/kv.ts')).registerKv },
  { name: 'topic', description: 'Kafka topics: create, list, describe, delete', register: async () => (await import('./commands/kafka.ts')).registerTopic },
  { name: 'produce', description: 'write lines from stdin to a Kafka topic', register: async () => (await import('./commands/kafka.ts')).registerProduce },
  { name: 'consume', description: 'print messages of a Kafka topic (optionally as a consumer group)', register: async () => (await import('./commands/kafka.ts')).registerConsume },
  { name: 'bench', description: 'measure a running cluster (throughput, latency)', register: async () => (await import('./commands/bench.ts')).registerBench },
  { name: 'chaos', description: 'real faults against a real local cluster, judged by history checkers', register: async () => (await import('./commands/chaos.ts')).registerChaos },
];

/** The program with every group; `load` names the groups whose subcommands and options are loaded. */
export async function buildProgram(load: readonly string[] = GROUPS.map((group) => group.name)): Promise<Command> {
  const program = new Command();
  program
    .name('cairn')
    .description(
      'Cairn: a strongly consistent, Raft-replicated key-value store and Kafka-compatible log.',
    )
    .version(packageJson.version, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false });
  program.addHelpText('after', `
Quick start:
  cairn local up                 start a 3-node cluster on this machine (data in ./.cairn)
  cairn kv set hello world       write through any node
  cairn kv get hello
  cairn cluster status           members, leader, replication
  cairn local down               stop it

Every command takes --help; client commands take --endpoints, --ticket, --timeout and --json.
Exit codes: 0 ok, 1 failed, 2 usage, 3 start failed, 4 join failed, 5 unavailable, 6 not found,
7 compare failed, 8 write outcome unknown, 130 interrupted. See docs/cli.md.`);
  for (const group of GROUPS) {
    const command = program.command(group.name).description(group.description);
    if (load.includes(group.name)) (await group.register())(command);
  }
  return program;
}

function report(error: CliError, json: boolean): void {
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message, exitCode: error.exitCode } })}\n`);
  else process.stderr.write(`error: ${error.message}\n`);
}

async function main(argv: string[]): Promise<void> {
  // Output piped into `head` and closed early is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const words = argv.slice(2).filter((word) => !word.startsWith('-'));
  const program = await buildProgram(words[0] === 'help' ? words.slice(1, 2) : words.slice(0, 1));
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; a usage mistake exits 2 (commander printed the message).
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (error instanceof CliError) {
      report(error, json);
      process.exitCode = error.exitCode;
      return;
    }
    throw error;
  }
}

await main(process.argv);
