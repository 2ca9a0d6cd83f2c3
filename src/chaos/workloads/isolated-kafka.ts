// The Kafka workload with its kafkajs clients in a worker thread (kafka-thread.ts), so that the
// client library cannot stop the runner. kafkajs 2.2.4 can spin forever on resolved promises: a
// consumer stopped while its fetch manager rebuilds its fetchers (after a change in the broker
// list, KafkaJSFetcherRebalanceError) gets fetchers its stop() never saw, and each of their
// fetches returns [] at once because the consumer is no longer running (stack: fetcher.js:55 ->
// fetchManager.js:57 -> runner.js:343). In the runner's thread that froze the fault proxies and
// every deadline with them: CI's run of membership-under-faults, whose membership changes change
// the broker list, stood still for 10 minutes; here 2 runs of it in 11 did. That bug is fixed
// where it starts (src/client/kafkajs-stop-fix.ts); this thread is the guard against the next
// one: every command has a deadline; a thread that misses it is terminated, the operations it had
// in flight are recorded as the client left them (writes unknown, reads failed), the history says
// so, and the run goes on. A drain after that runs in a fresh thread.
import { Worker } from 'node:worker_threads';
import type { Outcome } from '../../check/history.ts';
import type { FaultLogger } from '../faults/index.ts';
import type { HistoryRecorder } from '../recorder.ts';
import type { WorkloadPlan } from '../types.ts';

export interface KafkaThreadData {
  readonly options: { readonly brokers: readonly string[]; readonly plan: WorkloadPlan; readonly scenario: string };
  /** process.hrtime.bigint() at the scenario's time 0. */
  readonly originNs: bigint;
}

export type KafkaThreadCommand = { readonly type: 'start' } | { readonly type: 'stop' } | { readonly type: 'drain'; readonly timeoutMs: number } | { readonly type: 'close' };

export type KafkaThreadEvent =
  | { readonly type: 'begin'; readonly id: number; readonly process: string; readonly input: unknown; readonly callTime: number }
  | { readonly type: 'end'; readonly id: number; readonly outcome: Outcome; readonly output: unknown; readonly returnTime: number }
  | { readonly type: 'record'; readonly process: string; readonly callTime: number; readonly returnTime: number | null; readonly input: unknown; readonly output: unknown; readonly outcome: Outcome }
  | { readonly type: 'done'; readonly command: KafkaThreadCommand['type']; readonly error?: string };

export interface KafkaThreadDeadlines {
  readonly startMs: number;
  readonly stopMs: number;
  readonly closeMs: number;
  /** Beyond the drain's own timeout. */
  readonly drainMarginMs: number;
}

export const KAFKA_THREAD_DEADLINES: KafkaThreadDeadlines = {
  // Connecting the admin client, creating the topic and connecting each producer: each retried up to 30 s.
  startMs: 150_000,
  // The send loops are given 10 s (a send's own deadline is 8 s), then the clients' 3 s disconnects.
  stopMs: 16_000,
  closeMs: 30_000,
  // Connecting the admin client and the drain consumer, and disconnecting them.
  drainMarginMs: 30_000,
};
/** Input kinds that change state: in flight when the thread is terminated, they may have taken effect. */
const WRITE_KINDS = new Set(['send', 'commit']);

export interface IsolatedKafkaOptions {
  readonly brokers: readonly string[];
  readonly plan: WorkloadPlan;
  readonly scenario: string;
  readonly recorder: HistoryRecorder;
  readonly logger: FaultLogger;
  /** Tests only: another thread script speaking the same messages, other deadlines. */
  readonly threadScript?: URL;
  readonly deadlines?: KafkaThreadDeadlines;
}

interface PendingOperation {
  readonly process: string;
  readonly input: unknown;
  readonly callTime: number;
}

interface Thread {
  readonly worker: Worker;
  /** Resolves the command in flight with its error (undefined: it succeeded). */
  settle?: (error: string | undefined) => void;
}

export class IsolatedKafkaWorkload {
  readonly #options: IsolatedKafkaOptions;
  readonly #pending = new Map<number, PendingOperation>();
  readonly #deadlines: KafkaThreadDeadlines;
  #thread: Thread | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: IsolatedKafkaOptions) {
    this.#options = options;
    this.#deadlines = options.deadlines ?? KAFKA_THREAD_DEADLINES;
  }

  /** Creates the topic and starts producing and consuming; throws if that fails or takes too long. */
  async start(): Promise<void> {
    const error = await this.#command({ type: 'start' }, this.#deadlines.startMs, { spawn: true });
    if (error !== undefined) throw new Error(`the Kafka workload did not start: ${error}`);
  }

  /** Stops producing and consuming; never throws. */
  async stop(): Promise<void> {
    await this.#command({ type: 'stop' }, this.#deadlines.stopMs, { spawn: false });
  }

  /** Reads every partition to its end (in a fresh thread if the last one was terminated); never throws. */
  async drain(timeoutMs: number): Promise<void> {
    await this.#command({ type: 'drain', timeoutMs }, timeoutMs + this.#deadlines.drainMarginMs, { spawn: true });
  }

  /** Closes every client and ends the thread; never throws. */
  async close(): Promise<void> {
    await this.#command({ type: 'close' }, this.#deadlines.closeMs, { spawn: false });
    const thread = this.#thread;
    this.#thread = undefined;
    await thread?.worker.terminate();
  }

  /** Runs the commands one at a time; resolves with the command's error, if any. */
  #command(command: KafkaThreadCommand, deadlineMs: number, options: { spawn: boolean }): Promise<string | undefined> {
    const result = this.#queue.then(() => this.#send(command, deadlineMs, options.spawn));
    this.#queue = result;
    return result;
  }

  #send(command: KafkaThreadCommand, deadlineMs: number, spawn: boolean): Promise<string | undefined> {
    if (this.#thread === undefined && !spawn) return Promise.resolve(undefined);
    const thread = this.#thread ?? this.#startThread();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#abandon(thread, `the Kafka client did not finish '${command.type}' within ${deadlineMs / 1000} s`), deadlineMs);
      thread.settle = (error) => {
        clearTimeout(timer);
        thread.settle = undefined;
        resolve(error);
      };
      thread.worker.postMessage(command);
    });
  }

  #startThread(): Thread {
    const { brokers, plan, scenario, recorder } = this.#options;
    const originNs = process.hrtime.bigint() - BigInt(Math.round(recorder.now() * 1e6));
    const workerData: KafkaThreadData = { options: { brokers, plan, scenario }, originNs };
    const thread: Thread = { worker: new Worker(this.#options.threadScript ?? new URL('./kafka-thread.ts', import.meta.url), { workerData }) };
    thread.worker.on('message', (event: KafkaThreadEvent) => this.#receive(thread, event));
    thread.worker.on('error', (error) => this.#abandon(thread, `the Kafka client's thread failed: ${error.message}`));
    thread.worker.on('exit', (code) => {
      if (this.#thread === thread) this.#abandon(thread, `the Kafka client's thread exited (code ${code})`);
    });
    this.#thread = thread;
    return thread;
  }

  #receive(thread: Thread, event: KafkaThreadEvent): void {
    const { recorder } = this.#options;
    switch (event.type) {
      case 'begin':
        this.#pending.set(event.id, { process: event.process, input: event.input, callTime: event.callTime });
        return;
      case 'end': {
        const operation = this.#pending.get(event.id);
        if (operation === undefined) return;
        this.#pending.delete(event.id);
        recorder.record(operation.process, operation.callTime, event.returnTime, operation.input, event.output, event.outcome);
        return;
      }
      case 'record':
        recorder.record(event.process, event.callTime, event.returnTime, event.input, event.output, event.outcome);
        return;
      case 'done':
        if (event.error !== undefined) this.#options.logger.warn({ scenario: this.#options.scenario, command: event.command, error: event.error }, 'Kafka workload command failed');
        thread.settle?.(event.error);
    }
  }

  /** Terminates the thread, records what it had in flight as the client left it, and says so in the history. */
  #abandon(thread: Thread, reason: string): void {
    if (this.#thread !== thread) return;
    this.#thread = undefined;
    void thread.worker.terminate();
    const { recorder, logger, scenario } = this.#options;
    const now = recorder.now();
    for (const operation of this.#pending.values()) {
      const kind = (operation.input as { kind?: unknown } | null)?.kind;
      const outcome: Outcome = typeof kind === 'string' && WRITE_KINDS.has(kind) ? 'unknown' : 'fail';
      recorder.record(operation.process, operation.callTime, Math.max(operation.callTime, now), operation.input, null, outcome);
    }
    const inFlight = this.#pending.size;
    this.#pending.clear();
    recorder.record('runner', now, now, { kind: 'runner', action: 'kafka-client-terminated' }, { reason, inFlight }, 'ok');
    logger.warn({ scenario, inFlight }, `${reason}: its thread was terminated`);
    thread.settle?.(reason);
  }
}
