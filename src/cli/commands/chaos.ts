// `cairn chaos list|run|check`: real faults against a real cluster of this machine, judged by
// history checkers (src/chaos). `run` starts its own cluster per scenario, so it needs no
// running cluster and touches none.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { readHistoryFile } from '../../check/history.ts';
import { INJECT_BUGS_VARIABLE, SCENARIOS, runChaos, runChecks, groupByScenario, scenarioByName, startStallWatchdog, STALL_EXIT_CODE } from '../../chaos/index.ts';
import type { CheckOutcome, ProgressInfo, RunSummary, ScenarioResult, WorkloadKind } from '../../chaos/index.ts';
import { installProcessCleanupHooks, processCleanup } from '../../chaos/faults/index.ts';
import { addGlobalOptions, parseDuration } from '../client-options.ts';
import { CliError, EXIT, usageError } from '../errors.ts';
import { table, writeJson, writeLine, writeNote } from '../output.ts';

const DEFAULT_DURATION = '30s';
const DEFAULT_RATE = 40;
const HISTORY_BYTES_MAX = 2 * 1024 ** 3;
const LINGER_BEFORE_EXIT_MS = 3000;
/**
 * A run whose event loop stands still this long is stopped with its stack (see stall-watchdog.ts).
 * Far above the longest synchronous work of a run: the checks of one scenario, whose
 * linearizability search alone may take its 20 s budget.
 */
const STALL_LIMIT_MS = 90_000;
const DURATION_MAX_MS = 2 * 3_600_000;

/** Fills in the `chaos` command group. */
export function registerChaos(chaos: Command): void {
  chaos.addHelpText('after', `
Examples:
  cairn chaos list
  cairn chaos run --scenario leader-crash --duration 20s
  cairn chaos run --all --seed 7 --out ./chaos-report          # every scenario (root: all of them)
  cairn chaos run --all --duration 300 --nodes 5                # the long soak
  cairn chaos check ./chaos-report/history.jsonl                # re-run the checkers
See docs/chaos.md for what each scenario does and checks.`);
  registerList(chaos);
  registerRun(chaos);
  registerCheck(chaos);
}

function registerList(chaos: Command): void {
  const command = chaos.command('list').description('the scenarios, one line each');
  addGlobalOptions(command, { client: false });
  command.action((options: { json?: boolean }) => {
    if (options.json === true) {
      writeJson({ scenarios: SCENARIOS.map((scenario) => ({ name: scenario.name, summary: scenario.summary, checks: scenario.checks, requires: scenario.requires })) });
      return;
    }
    writeLine(table(SCENARIOS.map((scenario) => [scenario.name, scenario.summary + (scenario.requires.length === 0 ? '' : ` [needs ${scenario.requires.join(', ')}]`)])));
  });
}

interface RunOptions {
  readonly scenario?: string[];
  readonly all?: boolean;
  readonly nodes: string;
  readonly duration: string;
  readonly seed?: string;
  readonly workload: string;
  readonly rate: string;
  readonly out?: string;
  readonly json?: boolean;
}

function registerRun(chaos: Command): void {
  const command = chaos.command('run')
    .description('start a cluster per scenario, run the workload and the faults, heal, check the history, write the report')
    .addOption(new Option('--scenario <name...>', 'scenarios to run (see `cairn chaos list`)'))
    .option('--all', 'run every scenario')
    .addOption(new Option('--nodes <n>', 'nodes per cluster').choices(['3', '5']).default('3'))
    .option('--duration <duration>', 'length of each scenario\'s fault phase: 20s, 5m (a bare number is seconds)', DEFAULT_DURATION)
    .option('--seed <n>', 'seed of the fault schedules and workloads (default: random, printed)')
    .addOption(new Option('--workload <kind>', 'what the clients do').choices(['kv', 'kafka', 'both']).default('both'))
    .option('--rate <ops>', 'KV operations per second (Kafka messages: half of it)', String(DEFAULT_RATE))
    .option('--out <dir>', 'directory for report.md, report.html, history.jsonl and the nodes\' logs (default ./chaos-<time>)');
  command.addHelpText('after', `
Exit status: 0 every scenario passed (or was skipped for a missing tool, never under CI=true),
1 a scenario failed or errored, 2 bad flags, 130 interrupted, ${STALL_EXIT_CODE} the run's event loop stood
still for ${STALL_LIMIT_MS / 1000} s (its stack is printed; the nodes are stopped first).`);
  addGlobalOptions(command, { client: false });
  command.action(async (options: RunOptions) => {
    await runCommand(options);
  });
}

function parseRun(options: RunOptions): Parameters<typeof runChaos>[0] {
  if (options.all === true && options.scenario !== undefined) throw usageError('give --scenario or --all, not both');
  if (options.all !== true && options.scenario === undefined) throw usageError('name the scenarios with --scenario <name...>, or give --all (see `cairn chaos list`)');
  const duplicate = options.scenario?.find((name, index) => options.scenario!.indexOf(name) !== index);
  if (duplicate !== undefined) throw usageError(`--scenario ${duplicate} is given twice; each scenario runs once per run (use --duration for a longer one)`);
  const scenarios = options.all === true ? SCENARIOS : options.scenario!.map((name) => {
    const scenario = scenarioByName(name);
    if (scenario === undefined) throw usageError(`there is no scenario ${JSON.stringify(name)}; \`cairn chaos list\` shows them`);
    return scenario;
  });
  if (options.seed !== undefined && !/^\d{1,10}$/.test(options.seed)) throw usageError(`--seed must be a whole number from 0 to ${2 ** 32 - 1}, not ${JSON.stringify(options.seed)}`);
  const seed = options.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(options.seed);
  if (seed >= 2 ** 32) throw usageError(`--seed must be a whole number from 0 to ${2 ** 32 - 1}`);
  const rate = Number(options.rate);
  if (!Number.isFinite(rate) || rate < 1 || rate > 5000) throw usageError('--rate must be a number of operations per second from 1 to 5000');
  const durationMs = parseDuration(options.duration, '--duration');
  if (durationMs < 2000) throw usageError('--duration must be at least 2s');
  // The history of one scenario holds at most 2 million entries (about 5 hours at the default rate).
  if (durationMs > DURATION_MAX_MS) throw usageError(`--duration must be at most ${DURATION_MAX_MS / 3_600_000}h per scenario; run several seeds for a longer soak`);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  // TEST ONLY: known bugs for the nodes, to prove the checkers catch them (test/chaos); read from
  // the environment, never a flag, and the nodes warn in their logs when it is set.
  const injectBugs = process.env[INJECT_BUGS_VARIABLE];
  return {
    scenarios, nodes: Number(options.nodes), seed, durationMs, workload: options.workload as WorkloadKind, rate,
    outDirectory: options.out ?? `chaos-${stamp}`, ...(injectBugs === undefined || injectBugs === '' ? {} : { injectBugs }),
  };
}

/** The live progress line: on a terminal rewritten in place; otherwise a line per phase. */
function progressPrinter(): (progress: ProgressInfo) => void {
  const tty = process.stderr.isTTY === true;
  let lastKey = '';
  return (progress) => {
    const ops = progress.operations;
    const leader = progress.leader === undefined ? 'no leader' : `leader ${progress.leader.id} (term ${progress.leader.term})`;
    const fault = progress.faults.length === 0 ? '' : ` | ${progress.faults.join('; ')}`;
    const line = `[${progress.position}/${progress.total}] ${progress.scenario} ${progress.phase} ${(progress.elapsedMs / 1000).toFixed(0)}/${(progress.durationMs / 1000).toFixed(0)}s ` +
      `ops ${ops.ok + ops.fail + ops.unknown} (${ops.fail} failed, ${ops.unknown} unknown) ${leader}${fault}`;
    if (tty) {
      process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      return;
    }
    const key = `${progress.scenario} ${progress.phase} ${progress.faults.join(';')}`;
    if (key !== lastKey) writeNote(line);
    lastKey = key;
  };
}

function resultLine(result: ScenarioResult): string[] {
  const failed = result.checks.filter((check) => check.status !== 'pass').map((check) => check.name);
  const detail = result.verdict === 'pass' ? `${result.checks.length} checks passed`
    : result.verdict === 'fail' ? `failed: ${failed.join(', ')}` : (result.reason ?? '').split('\n')[0]!;
  const ops = result.operations;
  return [result.scenario, result.verdict.toUpperCase(), `${ops.kv + ops.kafka} ops (${ops.fail} failed, ${ops.unknown} unknown)`, `${result.faults} faults`, `${(result.elapsedMs / 1000).toFixed(1)}s`, detail];
}

function resultJson(result: ScenarioResult): Record<string, unknown> {
  return {
    scenario: result.scenario, verdict: result.verdict, elapsedMs: Math.round(result.elapsedMs), operations: result.operations, faults: result.faults,
    checks: result.checks.map((check) => ({ name: check.name, status: check.status, summary: check.summary })), ...(result.reason === undefined ? {} : { reason: result.reason }),
  };
}

async function runCommand(options: RunOptions): Promise<void> {
  const parsed = parseRun(options);
  const controller = new AbortController();
  installProcessCleanupHooks();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      writeNote('\ninterrupted: stopping the scenario and cleaning up (Ctrl-C again to exit at once)...');
      controller.abort();
      return;
    }
    processCleanup.runAllSync();
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const json = options.json === true;
  if (parsed.injectBugs !== undefined) writeNote(`${INJECT_BUGS_VARIABLE}=${parsed.injectBugs}: the nodes run with known bugs switched on (tests only)`);
  writeNote(`cairn chaos: ${parsed.scenarios.length} scenario${parsed.scenarios.length === 1 ? '' : 's'}, seed ${parsed.seed}, ${parsed.nodes} nodes, ${parsed.durationMs / 1000}s of faults each, workload ${parsed.workload}; output in ${parsed.outDirectory}`);
  const printProgress = progressPrinter();
  const watchdog = startStallWatchdog({ stallMs: STALL_LIMIT_MS, what: 'cairn chaos run' });
  let summary: RunSummary;
  try {
    summary = await runChaos({
      ...parsed, signal: controller.signal, onProgress: printProgress,
      onResult: (result) => {
        if (process.stderr.isTTY === true) process.stderr.write('\r\x1b[K');
        writeNote(`${result.scenario}: ${result.verdict.toUpperCase()}${result.verdict === 'pass' ? '' : ` (${resultLine(result)[5]})`}`);
      },
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    watchdog.stop();
    exitSoonIfSomethingLingers();
  }
  printSummary(summary, parsed.seed, json);
  if (summary.interrupted) throw new CliError('interrupted', 'interrupted before every scenario ran', EXIT.interrupted);
  if (!summary.passed) throw new CliError('chaos-failed', `not every scenario passed: see ${shownPath(join(summary.directory, 'report.md'))}`, EXIT.failed);
}

/**
 * Kafka clients whose cluster died under them can keep retry timers running after disconnect()
 * gave up on them. Everything is cleaned up and reported by now: once the output is written, do
 * not wait for them (unref'd, so a process with nothing left exits at once as usual).
 */
function exitSoonIfSomethingLingers(): void {
  setTimeout(() => process.exit(), LINGER_BEFORE_EXIT_MS).unref();
}

/** A path as the user would type it: relative below the working directory, absolute elsewhere. */
function shownPath(path: string): string {
  const shown = relative(process.cwd(), path);
  if (shown === '') return '.';
  return shown.startsWith('..') || isAbsolute(shown) ? resolve(path) : shown;
}

function printSummary(summary: RunSummary, seed: number, json: boolean): void {
  const shown = shownPath(summary.directory);
  if (json) {
    writeJson({ directory: summary.directory, seed, passed: summary.passed, interrupted: summary.interrupted, results: summary.results.map(resultJson) });
    return;
  }
  writeLine(table(summary.results.map(resultLine)));
  writeLine(`report:  ${join(shown, 'report.html')} and ${join(shown, 'report.md')}`);
  writeLine(`history: ${join(shown, 'history.jsonl')} (re-check: cairn chaos check ${join(shown, 'history.jsonl')})`);
  writeLine(`replay:  the same schedules with --seed ${seed}`);
}

function registerCheck(chaos: Command): void {
  const command = chaos.command('check')
    .description('re-run every checker on a saved history (history.jsonl, or the directory holding it)')
    .argument('<history>', 'a history.jsonl written by `cairn chaos run`, or its directory');
  addGlobalOptions(command, { client: false });
  command.action(async (path: string, options: { json?: boolean }) => {
    await checkCommand(path, options.json === true);
  });
}

async function checkCommand(path: string, json: boolean): Promise<void> {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'history.jsonl') : path;
  if (!existsSync(file)) throw usageError(`${file} does not exist`);
  let entries;
  try {
    entries = await readHistoryFile(file, { fileBytesMax: HISTORY_BYTES_MAX });
  } catch (error) {
    throw new CliError('bad-history', (error as Error).message, EXIT.usage);
  }
  const results: { scenario: string; checks: CheckOutcome[] }[] = [];
  for (const [scenario, scenarioEntries] of groupByScenario(entries)) results.push({ scenario, checks: runChecks(scenarioEntries) });
  if (results.length === 0) throw usageError(`${file} holds no history`);
  const passed = results.every((result) => result.checks.every((check) => check.status === 'pass'));
  if (json) {
    writeJson({ file, passed, scenarios: results.map((result) => ({ scenario: result.scenario, passed: result.checks.every((check) => check.status === 'pass'), checks: result.checks })) });
  } else {
    for (const result of results) {
      writeLine(`${result.scenario}: ${result.checks.every((check) => check.status === 'pass') ? 'PASS' : 'FAIL'}`);
      writeLine(table(result.checks.map((check) => [`  ${check.name}`, check.status, check.summary])));
      for (const check of result.checks.filter((each) => each.status !== 'pass' && each.evidence !== undefined)) writeLine(`  evidence (${check.name}):\n${check.evidence!.split('\n').map((line) => `    ${line}`).join('\n')}`);
    }
  }
  if (!passed) throw new CliError('chaos-failed', 'a check failed', EXIT.failed);
}
