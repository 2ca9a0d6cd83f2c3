// Runs scenarios: for each, a fresh cluster (through LocalCluster, like `cairn local up`), the
// workloads, the fault schedule, the heal, a recovery period, the final reads, the convergence
// check, the Kafka drain, and every checker on the recorded history. The history (one
// history.jsonl for the whole run), the nodes' logs and the reports go to the output directory.
// Whatever happens (a failed start, an exception, Ctrl-C as an AbortSignal), the cluster and every
// fault resource are removed before the next scenario or the exit.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectFaketime, FaultTimeline, isRoot, SILENT_FAULT_LOGGER } from './faults/index.ts';
import type { FaultLogger } from './faults/index.ts';
import { runChecks } from './checks.ts';
import { ChaosCluster, sweepLeftovers } from './environment.ts';
import { scheduledFaults } from './nemesis.ts';
import type { NemesisState } from './nemesis.ts';
import { Observer } from './observer.ts';
import { HistoryRecorder } from './recorder.ts';
import type { RecorderCounts } from './recorder.ts';
import { chartData } from './report/chart-data.ts';
import type { ScenarioCharts } from './report/chart-data.ts';
import { writeReports } from './report/write.ts';
import { planScenario } from './scenarios.ts';
import type { Requirement, ScenarioDefinition } from './scenarios.ts';
import type { ChaosEntry, ScenarioPlan, ScenarioResult, Verdict, WorkloadKind } from './types.ts';
import { IsolatedKafkaWorkload } from './workloads/isolated-kafka.ts';
import { KvWorkload } from './workloads/kv.ts';

export const CONVERGENCE_BOUND_MS = 20_000;
const DRAIN_TIMEOUT_MS = 25_000;
const PROGRESS_INTERVAL_MS = 500;

export type Phase = 'starting' | 'warm-up' | 'faults' | 'healing' | 'recovery' | 'stopping' | 'final reads' | 'convergence' | 'drain' | 'checking' | 'cleanup' | 'done';

export interface ProgressInfo {
  readonly scenario: string;
  /** 1-based position and count of scenarios in this run. */
  readonly position: number;
  readonly total: number;
  readonly phase: Phase;
  /** Since the workload started (0 before). */
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly operations: Readonly<RecorderCounts>;
  readonly faults: readonly string[];
  readonly leader: { readonly id: number; readonly term: number } | undefined;
}

export interface RunOptions {
  readonly scenarios: readonly ScenarioDefinition[];
  readonly nodes: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly workload: WorkloadKind;
  readonly rate: number;
  readonly outDirectory: string;
  /** CAIRN_INJECT_BUGS for the nodes (tests only). */
  readonly injectBugs?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ProgressInfo) => void;
  /** Called once a scenario's result is known. */
  readonly onResult?: (result: ScenarioResult) => void;
  readonly logger?: FaultLogger;
  /** Linearizability search budget per scenario (default 20 s). */
  readonly linearizabilityBudgetMs?: number;
}

export interface RunSummary {
  readonly directory: string;
  readonly historyPath: string;
  readonly results: readonly ScenarioResult[];
  /** True when every scenario passed or was skipped for a missing requirement (under CI=true a missing requirement is an error). */
  readonly passed: boolean;
  readonly interrupted: boolean;
}

async function missingRequirement(requires: readonly Requirement[]): Promise<string | undefined> {
  for (const requirement of requires) {
    if (requirement === 'root' && !isRoot()) return 'needs root (network namespaces, iptables, loop devices)';
    if (requirement === 'faketime') {
      const faketime = await detectFaketime();
      if (!faketime.available) return `needs libfaketime: ${faketime.reason ?? 'apt-get install faketime'}`;
    }
  }
  return undefined;
}

export async function runChaos(options: RunOptions): Promise<RunSummary> {
  const directory = resolve(options.outDirectory);
  mkdirSync(directory, { recursive: true });
  const historyPath = join(directory, 'history.jsonl');
  writeFileSync(historyPath, '');
  const logger = options.logger ?? SILENT_FAULT_LOGGER;
  await sweepLeftovers(logger);
  const results: ScenarioResult[] = [];
  const charts = new Map<string, ScenarioCharts>();
  for (const [index, definition] of options.scenarios.entries()) {
    if (options.signal?.aborted === true) break;
    const { result, entries } = await runScenario(definition, options, index + 1, directory);
    appendFileSync(historyPath, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    results.push(result);
    charts.set(definition.name, chartData(entries));
    options.onResult?.(result);
    writeReports(directory, results, charts, { seed: options.seed, nodes: options.nodes, durationMs: options.durationMs, workload: options.workload, rate: options.rate });
  }
  const interrupted = options.signal?.aborted === true;
  const passed = !interrupted && results.length === options.scenarios.length && results.every((result) => result.verdict === 'pass' || result.verdict === 'skipped');
  return { directory, historyPath, results, passed, interrupted };
}

interface Running {
  cluster?: ChaosCluster;
  recorder?: HistoryRecorder;
  observer?: Observer;
  kv?: KvWorkload;
  kafka?: IsolatedKafkaWorkload;
  phase: Phase;
  readonly nemesis: NemesisState;
}

function emptyResult(scenario: string, verdict: Verdict, plan: ScenarioPlan | null, reason: string, elapsedMs: number): ScenarioResult {
  return { scenario, verdict, plan, checks: [], reason, elapsedMs, operations: { kv: 0, kafka: 0, ok: 0, fail: 0, unknown: 0 }, faults: 0, logsDirectory: null };
}

/** One scenario, start to cleanup. Never throws: failures become an 'error' verdict. */
export async function runScenario(definition: ScenarioDefinition, options: RunOptions, position: number, directory: string): Promise<{ result: ScenarioResult; entries: ChaosEntry[] }> {
  const startedAt = performance.now();
  const plan = planScenario(definition, { nodes: options.nodes, seed: options.seed, durationMs: options.durationMs, workload: options.workload, rate: options.rate });
  const missing = await missingRequirement(definition.requires);
  if (missing !== undefined) {
    // Under CI a missing tool is a broken CI machine, not a reason to pass.
    if (process.env.CI === 'true') return { result: emptyResult(definition.name, 'error', plan, `CI=true, but this machine cannot run it: the scenario ${missing}`, 0), entries: [] };
    return { result: emptyResult(definition.name, 'skipped', plan, missing, 0), entries: [] };
  }
  const running: Running = { phase: 'starting', nemesis: { active: new Map() } };
  const progress = (): void => options.onProgress?.({
    scenario: definition.name, position, total: options.scenarios.length, phase: running.phase, elapsedMs: running.recorder?.now() ?? 0,
    durationMs: plan.warmupMs + plan.durationMs + plan.recoveryMs, operations: running.recorder?.counts ?? { ok: 0, fail: 0, unknown: 0, kv: 0, kafka: 0 },
    faults: [...running.nemesis.active.values()], leader: running.observer?.leader(),
  });
  const ticker = setInterval(progress, PROGRESS_INTERVAL_MS);
  const logsDirectory = join(directory, definition.name, 'logs');
  let failure: string | undefined;
  try {
    await execute(plan, options, running, progress);
  } catch (error) {
    failure = options.signal?.aborted === true ? 'interrupted' : (error as Error).stack ?? String(error);
  } finally {
    clearInterval(ticker);
    running.phase = 'cleanup';
    progress();
    await shutdown(running, logsDirectory, options.logger ?? SILENT_FAULT_LOGGER);
  }
  const entries = [...(running.recorder?.entries() ?? [])];
  const elapsedMs = performance.now() - startedAt;
  if (failure !== undefined) {
    return { result: { ...emptyResult(definition.name, 'error', plan, failure, elapsedMs), logsDirectory, operations: operationCounts(running) }, entries };
  }
  running.phase = 'checking';
  progress();
  const checks = runChecks(entries, { linearizabilityBudgetMs: options.linearizabilityBudgetMs ?? 20_000 });
  const verdict: Verdict = checks.every((check) => check.status === 'pass') ? 'pass' : 'fail';
  return { result: { scenario: definition.name, verdict, plan, checks, elapsedMs, operations: operationCounts(running), faults: plan.schedule.length, logsDirectory }, entries };
}

function operationCounts(running: Running): ScenarioResult['operations'] {
  const counts = running.recorder?.counts ?? { ok: 0, fail: 0, unknown: 0, kv: 0, kafka: 0 };
  return { kv: counts.kv, kafka: counts.kafka, ok: counts.ok, fail: counts.fail, unknown: counts.unknown };
}

async function execute(plan: ScenarioPlan, options: RunOptions, running: Running, progress: () => void): Promise<void> {
  const { signal } = options;
  const logger = options.logger ?? SILENT_FAULT_LOGGER;
  const cluster = await ChaosCluster.create({ plan, logger, ...(options.injectBugs === undefined ? {} : { injectBugs: options.injectBugs }) });
  running.cluster = cluster;
  await cluster.up();
  signal?.throwIfAborted();
  const recorder = new HistoryRecorder(plan.scenario);
  running.recorder = recorder;
  recorder.record('runner', 0, 0, { kind: 'plan', plan }, null, 'ok');
  running.observer = new Observer(cluster, recorder);
  running.observer.start();
  await startWorkloads(plan, cluster, running, logger);
  running.phase = 'warm-up';
  progress();
  await sleep(Math.max(0, plan.warmupMs - recorder.now()), undefined, { signal });
  running.phase = 'faults';
  progress();
  const timeline = new FaultTimeline(scheduledFaults(plan, cluster, recorder, running.nemesis, signal), { logger });
  const faultPhase = recorder.begin('runner', { kind: 'runner', action: 'faults' });
  await timeline.run(signal);
  faultPhase.ok({ events: timeline.events().length });
  running.phase = 'healing';
  progress();
  const heal = recorder.begin('runner', { kind: 'runner', action: 'heal' });
  try {
    heal.ok({ actions: await cluster.restoreAll() });
  } catch (error) {
    heal.fail({ error: (error as Error).message });
  }
  running.phase = 'recovery';
  progress();
  await sleep(plan.recoveryMs, undefined, { signal });
  await finish(plan, cluster, running, progress);
}

async function startWorkloads(plan: ScenarioPlan, cluster: ChaosCluster, running: Running, logger: FaultLogger): Promise<void> {
  const recorder = running.recorder!;
  if (plan.workload.kind !== 'kafka') {
    running.kv = new KvWorkload({ endpoints: cluster.endpoints(), plan: plan.workload, recorder, seed: plan.seed });
    running.kv.start();
  }
  if (plan.workload.kind !== 'kv') {
    running.kafka = new IsolatedKafkaWorkload({ brokers: cluster.kafkaBrokers(), plan: plan.workload, recorder, scenario: plan.scenario, logger });
    await running.kafka.start();
  }
}

async function finish(plan: ScenarioPlan, cluster: ChaosCluster, running: Running, progress: () => void): Promise<void> {
  const recorder = running.recorder!;
  running.phase = 'stopping';
  progress();
  await Promise.all([running.kv?.stop(), running.kafka?.stop()]);
  running.phase = 'final reads';
  progress();
  await running.kv?.finalReads();
  running.phase = 'convergence';
  progress();
  const convergence = recorder.begin('runner', { kind: 'convergence' });
  convergence.ok(await cluster.converge(CONVERGENCE_BOUND_MS));
  if (running.kafka !== undefined) {
    running.phase = 'drain';
    progress();
    await running.kafka.drain(DRAIN_TIMEOUT_MS);
  }
  await running.observer?.stop();
  recorder.record('runner', recorder.now(), recorder.now(), { kind: 'runner', action: 'done' }, { truncated: recorder.truncated, plan: plan.scenario }, 'ok');
}

async function shutdown(running: Running, logsDirectory: string, logger: FaultLogger): Promise<void> {
  const quietly = async (what: string, action: (() => Promise<unknown>) | undefined): Promise<void> => {
    try {
      await action?.();
    } catch (error) {
      logger.warn({ error: (error as Error).message }, `cleanup: ${what} failed`);
    }
  };
  await quietly('stopping the observer', running.observer === undefined ? undefined : () => running.observer!.stop());
  await quietly('stopping the KV workload', running.kv === undefined ? undefined : () => running.kv!.stop());
  await quietly('closing the Kafka clients', running.kafka === undefined ? undefined : () => running.kafka!.close());
  if (running.cluster !== undefined) {
    try {
      running.cluster.copyLogs(logsDirectory);
    } catch (error) {
      logger.warn({ error: (error as Error).message }, 'cleanup: copying the node logs failed');
    }
    await quietly('removing the cluster', () => running.cluster!.destroy());
  }
}
