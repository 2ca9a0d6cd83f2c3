// Worker thread body: runs the seeds it is sent, one at a time.
import { parentPort } from 'node:worker_threads';
import type { InjectedRaftBug } from '../core/index.ts';
import { runSimulation } from './simulation.ts';
import type { SimulationOptions } from './simulation.ts';

type WireOptions = Omit<SimulationOptions, 'injectedBugs'> & { injectedBugs: InjectedRaftBug[] };

parentPort?.on('message', (options: WireOptions) => {
  parentPort!.postMessage(runSimulation({ ...options, injectedBugs: new Set(options.injectedBugs) }));
});
