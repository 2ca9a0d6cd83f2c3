// What a scenario schedules: faults that start at t and stop at t + d. A Fault is anything with an
// idempotent start/stop pair (a partition on a proxy mesh, packet loss in a namespace, a paused
// process). The timeline always stops what it started: on normal end, on abort (SIGINT reaches
// the runner as an AbortSignal) and when a start or stop throws.
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultError, invalidArgument, requireNumberInRange } from './errors.ts';
import type { FaultLogger } from './logger.ts';
import { SILENT_FAULT_LOGGER } from './logger.ts';

export interface Fault {
  readonly name: string;
  start(): Promise<void>;
  /** Undoes start(); a no-op when not started. */
  stop(): Promise<void>;
}

/** A Fault from two functions, made idempotent: start twice starts once, stop before start does nothing. */
export function defineFault(name: string, start: () => Promise<void> | void, stop: () => Promise<void> | void): Fault {
  let active = false;
  return {
    name,
    async start() {
      if (active) return;
      await start();
      active = true;
    },
    async stop() {
      if (!active) return;
      active = false;
      await stop();
    },
  };
}

export interface ScheduledFault {
  /** Milliseconds after the timeline starts. */
  readonly atMs: number;
  readonly durationMs: number;
  readonly fault: Fault;
}

export interface FaultEvent {
  readonly kind: 'start' | 'stop' | 'error';
  readonly name: string;
  /** Milliseconds after the timeline started, measured. */
  readonly atMs: number;
  readonly error?: string;
}

export interface FaultTimelineOptions {
  readonly logger?: FaultLogger;
  readonly onEvent?: (event: FaultEvent) => void;
}

const MAX_SCHEDULED = 10_000;
const MAX_TIMELINE_MS = 7 * 24 * 3600 * 1000;

interface Step {
  readonly atMs: number;
  readonly kind: 'start' | 'stop';
  readonly entry: number;
}

function stepsOf(entries: readonly ScheduledFault[]): Step[] {
  const steps = entries.flatMap((entry, index): Step[] => [
    { atMs: entry.atMs, kind: 'start', entry: index },
    { atMs: entry.atMs + entry.durationMs, kind: 'stop', entry: index },
  ]);
  // At equal times stops go first, so back-to-back windows of one fault do not overlap; but a
  // zero-length window's stop comes after its own start.
  const rank = (step: Step): number => (step.kind === 'start' ? 1 : entries[step.entry]!.durationMs === 0 ? 2 : 0);
  return steps.sort((a, b) => a.atMs - b.atMs || rank(a) - rank(b) || a.entry - b.entry);
}

export class FaultTimeline {
  readonly #entries: readonly ScheduledFault[];
  readonly #logger: FaultLogger;
  readonly #onEvent: (event: FaultEvent) => void;
  readonly #events: FaultEvent[] = [];

  constructor(entries: readonly ScheduledFault[], options: FaultTimelineOptions = {}) {
    if (entries.length > MAX_SCHEDULED) throw invalidArgument(`at most ${MAX_SCHEDULED} scheduled faults, got ${entries.length}`);
    for (const entry of entries) {
      requireNumberInRange(`${entry.fault.name}: atMs`, entry.atMs, 0, MAX_TIMELINE_MS);
      requireNumberInRange(`${entry.fault.name}: durationMs`, entry.durationMs, 0, MAX_TIMELINE_MS);
    }
    this.#entries = entries;
    this.#logger = options.logger ?? SILENT_FAULT_LOGGER;
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Everything that happened so far (also returned by run()). */
  events(): readonly FaultEvent[] {
    return this.#events;
  }

  /**
   * Runs the schedule. Resolves with the events when every fault has been stopped; rejects with
   * the first error (after stopping everything that was started) or when `signal` aborts.
   */
  async run(signal?: AbortSignal): Promise<readonly FaultEvent[]> {
    const startedAt = performance.now();
    const active = new Set<number>();
    let firstError: unknown;
    try {
      for (const step of stepsOf(this.#entries)) {
        const waitMs = step.atMs - (performance.now() - startedAt);
        if (waitMs > 0) await sleep(waitMs, undefined, { signal });
        signal?.throwIfAborted();
        await this.#perform(step, active, startedAt);
      }
    } catch (error) {
      firstError = error;
    } finally {
      for (const entry of [...active].reverse()) {
        await this.#perform({ atMs: 0, kind: 'stop', entry }, active, startedAt).catch((error: unknown) => {
          firstError ??= error;
        });
      }
    }
    if (firstError !== undefined) throw firstError;
    return this.#events;
  }

  async #perform(step: Step, active: Set<number>, startedAt: number): Promise<void> {
    const fault = this.#entries[step.entry]!.fault;
    try {
      if (step.kind === 'start') {
        active.add(step.entry);
        await fault.start();
      } else {
        if (!active.delete(step.entry)) return;
        await fault.stop();
      }
      this.#record({ kind: step.kind, name: fault.name, atMs: performance.now() - startedAt });
    } catch (error) {
      const message = (error as Error).message;
      this.#record({ kind: 'error', name: fault.name, atMs: performance.now() - startedAt, error: `${step.kind}: ${message}` });
      throw error instanceof FaultError ? error : new FaultError('command-failed', `fault '${fault.name}' ${step.kind} failed: ${message}`, { cause: error });
    }
  }

  #record(event: FaultEvent): void {
    this.#events.push(event);
    this.#logger.info({ fault: event.name, kind: event.kind, atMs: Math.round(event.atMs), error: event.error }, `fault ${event.kind}`);
    this.#onEvent(event);
  }
}
