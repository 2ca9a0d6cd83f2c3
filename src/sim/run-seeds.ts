// Runs many seeds, spread over worker threads (each seed is independent and single-threaded),
// and gathers their results in seed order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { InjectedBug, SeedResult, SimulationMode, SimulationOptions } from './simulation.ts';
import { runSimulation } from './simulation.ts';

export interface SeedPlan {
  readonly seeds: readonly number[];
  /** Nodes per seed: a fixed size, or alternating 3 and 5 when undefined. */
  readonly nodes: number | undefined;
  readonly operations: number;
  readonly injectedBugs: readonly InjectedBug[];
  readonly mode?: SimulationMode;
  readonly workers: number;
  /** Stop scheduling new seeds once one fails (used to look for a bug quickly). */
  readonly stopOnFailure: boolean;
  readonly keepHistory?: boolean;
}

export function optionsForSeed(plan: SeedPlan, seed: number): SimulationOptions {
  return {
    seed,
    nodes: plan.nodes ?? (seed % 2 === 0 ? 5 : 3),
    operations: plan.operations,
    injectedBugs: new Set(plan.injectedBugs),
    mode: plan.mode ?? 'core',
    keepHistory: plan.keepHistory ?? false,
  };
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}

/** Runs the plan; `onResult` sees each result as it arrives (for progress output). */
export async function runSeeds(plan: SeedPlan, onResult: (result: SeedResult) => void): Promise<SeedResult[]> {
  if (plan.workers <= 1 || plan.seeds.length <= 1) return runInline(plan, onResult);
  const results: SeedResult[] = [];
  let nextPosition = 0;
  let failed = false;
  const runWorker = async (): Promise<void> => {
    const worker = new Worker(new URL('./seed-worker.ts', import.meta.url));
    try {
      while (nextPosition < plan.seeds.length && !(plan.stopOnFailure && failed)) {
        const seed = plan.seeds[nextPosition++]!;
        const result = await requestSeed(worker, optionsForSeed(plan, seed));
        if (result.violationCount > 0) failed = true;
        results.push(result);
        onResult(result);
      }
    } finally {
      await worker.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.workers, plan.seeds.length) }, runWorker));
  return results.sort((a, b) => plan.seeds.indexOf(a.seed) - plan.seeds.indexOf(b.seed));
}

async function runInline(plan: SeedPlan, onResult: (result: SeedResult) => void): Promise<SeedResult[]> {
  const results: SeedResult[] = [];
  for (const seed of plan.seeds) {
    const result = await runSimulation(optionsForSeed(plan, seed));
    results.push(result);
    onResult(result);
    if (plan.stopOnFailure && result.violationCount > 0) break;
  }
  return results;
}

function requestSeed(worker: Worker, options: SimulationOptions): Promise<SeedResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (result: SeedResult): void => {
      worker.off('error', onError);
      resolve(result);
    };
    const onError = (error: Error): void => {
      worker.off('message', onMessage);
      reject(error);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.postMessage({ ...options, injectedBugs: [...options.injectedBugs] });
  });
}
