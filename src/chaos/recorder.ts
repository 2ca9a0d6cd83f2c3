// Records one scenario's history: every workload operation with its call and return time and
// outcome, every observation and every fault action, on one clock (milliseconds since the
// scenario started, monotonic). Bounded: past entriesMax the recorder stops recording and says
// so, and the checks refuse to call such a history complete.
import type { Outcome } from '../check/history.ts';
import type { ChaosEntry } from './types.ts';

export const DEFAULT_ENTRIES_MAX = 2_000_000;

export interface OperationHandle {
  readonly callTime: number;
  ok(output: unknown): void;
  fail(output?: unknown): void;
  unknown(): void;
}

/** What a workload needs of the recorder (a workload in a worker thread gets a relay of it). */
export interface WorkloadRecorder {
  now(): number;
  begin(process: string, input: unknown): OperationHandle;
  record(process: string, callTime: number, returnTime: number | null, input: unknown, output: unknown, outcome: Outcome): void;
}

export interface RecorderCounts {
  ok: number;
  fail: number;
  unknown: number;
  kv: number;
  kafka: number;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const KV_KINDS = new Set(['get', 'put', 'cas', 'delete']);

export class HistoryRecorder implements WorkloadRecorder {
  readonly scenario: string;
  readonly #origin: number;
  readonly #entries: ChaosEntry[] = [];
  readonly #entriesMax: number;
  #truncated = false;
  /** Workload operations only (KV and Kafka sends/commits), for the progress line. */
  readonly counts: RecorderCounts = { ok: 0, fail: 0, unknown: 0, kv: 0, kafka: 0 };

  constructor(scenario: string, options: { entriesMax?: number; origin?: number } = {}) {
    this.scenario = scenario;
    this.#origin = options.origin ?? performance.now();
    this.#entriesMax = options.entriesMax ?? DEFAULT_ENTRIES_MAX;
  }

  /** Milliseconds since the scenario started. */
  now(): number {
    return round(performance.now() - this.#origin);
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  entries(): readonly ChaosEntry[] {
    return this.#entries;
  }

  /** Records a finished entry. */
  record(process: string, callTime: number, returnTime: number | null, input: unknown, output: unknown, outcome: Outcome): void {
    if (this.#entries.length >= this.#entriesMax) {
      this.#truncated = true;
      return;
    }
    this.#entries.push({ scenario: this.scenario, process, callTime, returnTime, input, output: output ?? null, outcome });
    this.#count(input, outcome);
  }

  /** Starts an operation now; the handle records it once with its outcome. */
  begin(process: string, input: unknown): OperationHandle {
    const callTime = this.now();
    let done = false;
    const finish = (outcome: Outcome, output: unknown): void => {
      if (done) return;
      done = true;
      // For 'unknown' the return time is when the client gave up (the checkers ignore it).
      this.record(process, callTime, Math.max(callTime, this.now()), input, output, outcome);
    };
    return {
      callTime,
      ok: (output) => finish('ok', output),
      fail: (output) => finish('fail', output ?? null),
      unknown: () => finish('unknown', null),
    };
  }

  #count(input: unknown, outcome: Outcome): void {
    const kind = (input as { kind?: unknown } | null)?.kind;
    if (typeof kind !== 'string') return;
    // Workload writes and reads of KV, and Kafka sends: what the progress line calls operations.
    const kv = KV_KINDS.has(kind);
    if (!kv && kind !== 'send') return;
    this.counts[outcome]++;
    if (kv) this.counts.kv++;
    else this.counts.kafka++;
  }
}
