// `cairn chaos`: scenarios of real faults against real clusters, workloads recorded as histories,
// checkers, reports. Fault primitives are in ./faults (see its README).
export { SCENARIOS, planScenario, scenarioByName, WARMUP_MS, RECOVERY_MS } from './scenarios.ts';
export type { PlanOptions, Requirement, ScenarioDefinition } from './scenarios.ts';
export { runChaos, runScenario, CONVERGENCE_BOUND_MS } from './runner.ts';
export type { Phase, ProgressInfo, RunOptions, RunSummary } from './runner.ts';
export { runChecks, splitHistory, groupByScenario, checkLeaderPerTerm } from './checks.ts';
export type { CheckOptions, SplitHistory } from './checks.ts';
export { ChaosCluster, CHAOS_SERVE_ARGS, INJECT_BUGS_VARIABLE, sweepLeftovers } from './environment.ts';
export { HistoryRecorder } from './recorder.ts';
export { startStallWatchdog, STALL_EXIT_CODE } from './stall-watchdog.ts';
export { describeFault, describeExpectation } from './schedule.ts';
export { chartData } from './report/chart-data.ts';
export type { ScenarioCharts } from './report/chart-data.ts';
export { htmlReport, markdownReport, writeReports } from './report/write.ts';
export type * from './types.ts';
