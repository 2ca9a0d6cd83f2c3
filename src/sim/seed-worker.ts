// Worker thread body: runs the seeds it is sent, one at a time.
import { parentPort } from 'node:worker_threads';
import { runSimulation } from './simulation.ts';
import type { InjectedBug, SimulationOptions } from './simulation.ts';

type WireOptions = Omit<SimulationOptions, 'injectedBugs'> & { injectedBugs: InjectedBug[] };

parentPort?.on('message', (options: WireOptions) => {
  void runSimulation({ ...options, injectedBugs: new Set(options.injectedBugs) }).then((result) => parentPort!.postMessage(result));
});
