// Every fault primitive registers how to undo itself here, so nothing outlives the run: the
// normal path awaits `run()`; process exit, SIGINT, SIGTERM and SIGHUP run the sync form (an
// 'exit' listener cannot await, and a signal may arrive mid-await). Actions are idempotent and
// run last-in first-out (a mount before the directory that holds it, a namespace's processes
// before the namespace).
import type { FaultLogger } from './logger.ts';
import { SILENT_FAULT_LOGGER } from './logger.ts';

export interface CleanupAction {
  readonly name: string;
  run(): Promise<void>;
  /** Best effort without awaiting; must not throw. */
  runSync(): void;
}

const MAX_ACTIONS = 10_000;

export class CleanupRegistry {
  readonly #actions = new Map<number, CleanupAction>();
  #nextId = 0;

  /** Registers an action; the returned function unregisters it (call it once the resource is gone). */
  add(action: CleanupAction): () => void {
    if (this.#actions.size >= MAX_ACTIONS) {
      throw new Error(`more than ${MAX_ACTIONS} cleanup actions registered: a primitive is leaking registrations`);
    }
    const id = this.#nextId++;
    this.#actions.set(id, action);
    return () => {
      this.#actions.delete(id);
    };
  }

  get size(): number {
    return this.#actions.size;
  }

  names(): string[] {
    return [...this.#actions.values()].map((action) => action.name);
  }

  /** Runs and removes every action, newest first; failures are logged and the rest still run. */
  async runAll(logger: FaultLogger = SILENT_FAULT_LOGGER): Promise<number> {
    let failures = 0;
    for (const [id, action] of [...this.#actions].reverse()) {
      this.#actions.delete(id);
      try {
        await action.run();
      } catch (error) {
        failures++;
        logger.error({ action: action.name, error: (error as Error).message }, 'cleanup action failed');
      }
    }
    return failures;
  }

  runAllSync(): void {
    for (const [id, action] of [...this.#actions].reverse()) {
      this.#actions.delete(id);
      try {
        action.runSync();
      } catch {
        // exit path: keep going, there is nobody left to tell
      }
    }
  }
}

/** The registry the primitives use unless given another one. */
export const processCleanup = new CleanupRegistry();

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooksInstalled = false;

/**
 * Makes process exit and SIGINT/SIGTERM/SIGHUP run `processCleanup` synchronously. Idempotent.
 * After cleaning up on a signal, if nobody else listens for it, the signal is raised again so
 * the process dies the way it would have without us (exit status 128 + signal).
 */
export function installProcessCleanupHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => processCleanup.runAllSync());
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      processCleanup.runAllSync();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}
