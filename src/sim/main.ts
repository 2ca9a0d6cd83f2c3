// `npm run sim -- --seeds N [--seed S] [--nodes 3|5] [--ops K] [--inject-bug NAME] [--json]`
// Runs the deterministic simulator over many seeds. A failing seed prints the command that
// replays it exactly. With --json the last line printed is one JSON summary object. The exit
// code is 0 only when no seed found a violation.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { INJECTED_RAFT_BUGS } from '../core/index.ts';
import { INJECTED_RUNTIME_BUGS } from '../runtime/ready-processor.ts';
import type { InjectedBug } from './simulation.ts';
import { defaultWorkers, runSeeds } from './run-seeds.ts';
import type { SeedPlan } from './run-seeds.ts';
import type { SeedResult } from './simulation.ts';

interface CliOptions {
  seeds: number;
  seed?: number;
  baseSeed: number;
  nodes?: number;
  ops: number;
  injectBug: InjectedBug[];
  runtime: boolean;
  workers: number;
  json: boolean;
  stopOnFailure: boolean;
  history?: string;
}

function positiveInteger(name: string, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < 0 || parsed > max) throw new InvalidArgumentError(`${name} must be an integer from 0 to ${max}`);
    return parsed;
  };
}

function parseArguments(argv: string[]): CliOptions {
  const program = new Command()
    .name('npm run sim --')
    .description('Deterministic simulation of a Raft cluster under faults, checked for safety, liveness and linearizability.')
    .option('--seeds <n>', 'number of seeds to run', positiveInteger('--seeds', 10_000_000), 100)
    .option('--seed <s>', 'run (replay) exactly this one seed', positiveInteger('--seed', Number.MAX_SAFE_INTEGER))
    .option('--base-seed <s>', 'first seed of a --seeds run', positiveInteger('--base-seed', Number.MAX_SAFE_INTEGER), 1)
    .addOption(new Option('--nodes <n>', 'cluster size (default: alternate 3 and 5)').choices(['3', '5']).argParser(Number))
    .option('--ops <k>', 'client operations per seed', positiveInteger('--ops', 100_000), 200)
    .option('--runtime', 'run the real node runtime (WAL on a simulated disk, memory transport) instead of the bare core', false)
    .addOption(new Option('--inject-bug <name>', 'switch on a known bug (repeatable) to prove the checkers catch it; runtime bugs need --runtime').choices([...INJECTED_RAFT_BUGS, ...INJECTED_RUNTIME_BUGS]).argParser((value: string, previous: string[] = []) => [...previous, value]).default([]))
    .option('--workers <n>', 'worker threads', positiveInteger('--workers', 64), defaultWorkers())
    .option('--stop-on-failure', 'stop at the first failing seed', false)
    .option('--history <file>', 'with --seed: write the client history as .jsonl (for `cairn chaos check` style analysis)')
    .option('--json', 'print a JSON summary as the last line', false)
    .showHelpAfterError();
  program.parse(argv);
  return program.opts<CliOptions>();
}

function replayCommand(result: SeedResult, options: CliOptions): string {
  const bugs = options.injectBug.map((bug) => ` --inject-bug ${bug}`).join('');
  return `npm run sim -- --seed ${result.seed} --nodes ${result.nodes} --ops ${options.ops}${options.runtime ? ' --runtime' : ''}${bugs}`;
}

function printFailure(result: SeedResult, options: CliOptions): void {
  const lines = [`seed ${result.seed} (${result.nodes} nodes) FAILED: ${result.violationCount} violation(s)`];
  for (const violation of result.violations) lines.push(`  [${violation.kind}] at ${violation.timeMs}ms: ${violation.message}`);
  lines.push(`  faults: ${result.faults.slice(-15).join('; ')}`);
  lines.push(`  replay: ${replayCommand(result, options)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv);
  const seeds = options.seed !== undefined ? [options.seed] : Array.from({ length: options.seeds }, (_, offset) => options.baseSeed + offset);
  const plan: SeedPlan = {
    seeds, nodes: options.nodes, operations: options.ops, injectedBugs: options.injectBug, mode: options.runtime ? 'runtime' : 'core',
    workers: options.workers, stopOnFailure: options.stopOnFailure, keepHistory: options.history !== undefined,
  };
  const startedAt = performance.now();
  let done = 0;
  const showProgress = process.stderr.isTTY === true;
  const results = await runSeeds(plan, (result) => {
    done++;
    if (result.violationCount > 0) printFailure(result, options);
    if (showProgress) process.stderr.write(`\r${done}/${seeds.length} seeds, ${Math.round(performance.now() - startedAt)} ms`);
  });
  if (showProgress) process.stderr.write('\n');
  if (options.history !== undefined && results[0]?.history !== undefined) {
    writeFileSync(options.history, results[0].history.map((entry) => JSON.stringify(entry)).join('\n') + '\n');
  }
  const summary = summarize(results, performance.now() - startedAt);
  const text = `${summary.seeds} seeds (${summary.seedsBy3Nodes}×3 nodes, ${summary.seedsBy5Nodes}×5 nodes), ${summary.opsChecked} client operations checked (${summary.opsOk} ok), ` +
    `${summary.simulatedSeconds.toFixed(0)} s simulated, ${summary.violations} violation(s) in ${summary.failedSeeds.length} seed(s), ` +
    `${summary.linearizabilityUnknown} undecided history check(s), ${(summary.elapsedMs / 1000).toFixed(1)} s`;
  process.stdout.write(`${text}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = summary.violations === 0 ? 0 : 1;
}

function summarize(results: readonly SeedResult[], elapsedMs: number) {
  return {
    seeds: results.length,
    seedsBy3Nodes: results.filter((result) => result.nodes === 3).length,
    seedsBy5Nodes: results.filter((result) => result.nodes === 5).length,
    failedSeeds: results.filter((result) => result.violationCount > 0).map((result) => result.seed),
    violations: results.reduce((sum, result) => sum + result.violationCount, 0),
    violationKinds: [...new Set(results.flatMap((result) => result.violations.map((violation) => violation.kind)))],
    opsChecked: results.reduce((sum, result) => sum + result.operations, 0),
    opsOk: results.reduce((sum, result) => sum + result.operationsOk, 0),
    linearizabilityUnknown: results.filter((result) => result.linearizability === 'unknown').length,
    simulatedSeconds: results.reduce((sum, result) => sum + result.simulatedMs, 0) / 1000,
    elapsedMs: Math.round(elapsedMs),
  };
}

await main();
