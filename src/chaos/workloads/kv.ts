// The KV register workload: concurrent clients doing get / put / cas on a few keys, every written
// value unique, every operation recorded with its call and return time and outcome. A write
// that timed out or lost its connection is 'unknown' (it may still take effect), never 'fail';
// the client that saw it continues as a new process with a new connection (Jepsen's rule: a
// process with an operation in doubt never issues another one).
import { createPrng } from '../../check/prng.ts';
import type { KvOutput } from '../../check/kv-model.ts';
import { CairnClient, isCairnClientError } from '../../client/index.ts';
import type { HistoryRecorder, OperationHandle } from '../recorder.ts';
import type { WorkloadPlan } from '../types.ts';

/** Deadline of one operation, retries included (above the nodes' 2 s request timeout). */
export const KV_OPERATION_TIMEOUT_MS = 3000;
const FINAL_READ_TIMEOUT_MS = 15_000;

export interface KvWorkloadOptions {
  readonly endpoints: readonly string[];
  readonly plan: WorkloadPlan;
  readonly recorder: HistoryRecorder;
  readonly seed: number;
}

export function kvKey(index: number): string {
  return `k${index}`;
}

export class KvWorkload {
  readonly #options: KvWorkloadOptions;
  #running = false;
  #workers: Promise<void>[] = [];

  constructor(options: KvWorkloadOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#workers = Array.from({ length: this.#options.plan.kvClients }, (_, index) => this.#worker(index));
  }

  /** Stops issuing operations and waits for those in flight (each bounded by its deadline). */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
  }

  /** After the heal: one linearizable read of every key, retried until it succeeds (or 15 s). */
  async finalReads(): Promise<void> {
    const { endpoints, plan, recorder } = this.#options;
    const client = new CairnClient({ endpoints, timeoutMs: KV_OPERATION_TIMEOUT_MS, maxAttempts: 6 });
    try {
      await Promise.all(Array.from({ length: plan.kvKeys }, async (_, index) => {
        const deadline = performance.now() + FINAL_READ_TIMEOUT_MS;
        for (let attempt = 0; ; attempt++) {
          const done = await this.#get(client, recorder.begin(`final-${index}`, { kind: 'get', key: kvKey(index) }), kvKey(index));
          if (done !== 'fail' || performance.now() > deadline) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** attempt)));
        }
      }));
    } finally {
      client.close();
    }
  }

  #client(worker: number, incarnation: number): CairnClient {
    const { endpoints } = this.#options;
    // Each incarnation starts at another node, as a reconnecting client would.
    const first = (worker + incarnation) % endpoints.length;
    const rotated = [...endpoints.slice(first), ...endpoints.slice(0, first)];
    return new CairnClient({ endpoints: rotated, timeoutMs: KV_OPERATION_TIMEOUT_MS, maxAttempts: 6, retryBaseMs: 25, retryMaxMs: 250 });
  }

  async #worker(worker: number): Promise<void> {
    const { plan, recorder, seed } = this.#options;
    const random = createPrng((seed * 7919 + worker * 104_729) >>> 0);
    const intervalMs = (1000 * plan.kvClients) / Math.max(0.1, plan.kvRate);
    const lastSeen = new Map<string, string | null>();
    let incarnation = 0;
    let sequence = 0;
    let client = this.#client(worker, incarnation);
    let next = performance.now() + random.next() * intervalMs;
    try {
      while (this.#running) {
        const waitMs = next - performance.now();
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        if (!this.#running) break;
        next = Math.max(next + intervalMs, performance.now());
        const key = kvKey(random.nextInt(plan.kvKeys));
        const process = `kv-${worker}.${incarnation}`;
        const roll = random.next();
        const value = `${worker}.${sequence++}`;
        let outcome: 'ok' | 'fail' | 'unknown';
        if (roll < 0.5) {
          outcome = await this.#get(client, recorder.begin(process, { kind: 'get', key }), key, lastSeen);
        } else if (roll < 0.8) {
          outcome = await this.#put(client, recorder.begin(process, { kind: 'put', key, value }), key, value, lastSeen);
        } else {
          const expected = lastSeen.get(key) ?? null;
          outcome = await this.#cas(client, recorder.begin(process, { kind: 'cas', key, expected, value }), key, expected, value, lastSeen);
        }
        if (outcome === 'unknown') {
          client.close();
          incarnation++;
          client = this.#client(worker, incarnation);
        }
      }
    } finally {
      client.close();
    }
  }

  async #get(client: CairnClient, handle: OperationHandle, key: string, lastSeen?: Map<string, string | null>): Promise<'ok' | 'fail' | 'unknown'> {
    try {
      const kv = await client.get(key);
      const value = kv === undefined ? null : kv.value.toString('utf8');
      lastSeen?.set(key, value);
      handle.ok({ value } satisfies KvOutput);
      return 'ok';
    } catch {
      // A read that failed changed nothing, whatever the reason.
      handle.fail();
      return 'fail';
    }
  }

  async #put(client: CairnClient, handle: OperationHandle, key: string, value: string, lastSeen: Map<string, string | null>): Promise<'ok' | 'fail' | 'unknown'> {
    try {
      await client.put(key, value);
      lastSeen.set(key, value);
      handle.ok(null satisfies KvOutput);
      return 'ok';
    } catch (error) {
      return writeFailed(handle, error);
    }
  }

  async #cas(client: CairnClient, handle: OperationHandle, key: string, expected: string | null, value: string, lastSeen: Map<string, string | null>): Promise<'ok' | 'fail' | 'unknown'> {
    try {
      const result = await client.cas(key, expected ?? undefined, value);
      if (result.succeeded) lastSeen.set(key, value);
      else lastSeen.delete(key);
      handle.ok({ swapped: result.succeeded } satisfies KvOutput);
      return 'ok';
    } catch (error) {
      return writeFailed(handle, error);
    }
  }
}

/** A write's error: 'fail' only when the client is sure it did not take effect. */
function writeFailed(handle: OperationHandle, error: unknown): 'fail' | 'unknown' {
  if (isCairnClientError(error) && error.outcome === 'failed') {
    handle.fail({ error: error.code });
    return 'fail';
  }
  handle.unknown();
  return 'unknown';
}

