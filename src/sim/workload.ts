// Simulated clients: each runs one operation at a time (get, put or compare-and-swap on a few
// keys, always with unique values) against some node, and records call time, return time and
// outcome. A write whose fate the client cannot know ends 'unknown', never 'fail'.
import type { HistoryEntry } from '../check/history.ts';
import type { KvInput, KvOutput } from '../check/kv-model.ts';
import type { SeededRandom } from '../util/random.ts';
import type { EventQueue } from './event-queue.ts';
import type { ReadOutcome, SimulatedNode, WriteOutcome } from './simulated-node.ts';
import type { RegisterCommand } from './register-store.ts';

export type KvHistoryEntry = HistoryEntry<KvInput, KvOutput>;

export interface AcknowledgedWrite {
  readonly index: number;
  readonly term: number;
  readonly content: string;
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly operations: number;
  readonly keys: number;
  readonly timeoutMs: number;
  readonly thinkTimeMaxMs: number;
}

export class Workload {
  readonly history: KvHistoryEntry[] = [];
  readonly acknowledged: AcknowledgedWrite[] = [];
  started = 0;
  completed = 0;
  private valueCounter = 0;
  private leaderHint = 0;
  private stopped = false;
  private readonly inFlight = new Set<number>();
  private readonly options: WorkloadOptions;
  private readonly events: EventQueue;
  private readonly random: SeededRandom;
  private readonly liveNodes: () => SimulatedNode[];

  constructor(options: WorkloadOptions, events: EventQueue, random: SeededRandom, liveNodes: () => SimulatedNode[]) {
    this.options = options;
    this.events = events;
    this.random = random;
    this.liveNodes = liveNodes;
  }

  start(): void {
    for (let client = 1; client <= this.options.clients; client++) {
      this.events.schedule(this.random.int(0, this.options.thinkTimeMaxMs), () => this.runNext(client));
    }
  }

  /** Stops issuing new operations; those in flight still finish. */
  stop(): void {
    this.stopped = true;
  }

  get pending(): number {
    return this.inFlight.size;
  }

  get done(): boolean {
    return this.started >= this.options.operations && this.inFlight.size === 0;
  }

  private runNext(client: number): void {
    if (this.stopped || this.started >= this.options.operations) return;
    this.started++;
    const input = this.nextInput();
    const node = this.chooseNode();
    const entry: KvHistoryEntry = { process: client, callTime: this.events.now, returnTime: null, input, output: null, outcome: 'unknown' };
    this.history.push(entry);
    this.inFlight.add(client);
    let finished = false;
    const finish = (outcome: KvHistoryEntry['outcome'], output: KvOutput): void => {
      if (finished) return;
      finished = true;
      entry.outcome = outcome;
      entry.output = output;
      entry.returnTime = outcome === 'unknown' ? null : this.events.now;
      this.inFlight.delete(client);
      this.completed++;
      this.events.schedule(this.random.int(1, this.options.thinkTimeMaxMs), () => this.runNext(client));
    };
    this.events.schedule(this.options.timeoutMs, () => finish('unknown', null));
    if (node === undefined) {
      this.events.schedule(1, () => finish('fail', null));
      return;
    }
    if (input.kind === 'get') node.read(input.key, (outcome) => this.onRead(outcome, finish));
    else node.write(this.commandOf(input), (outcome) => this.onWrite(outcome, finish));
  }

  private onRead(outcome: ReadOutcome, finish: (outcome: KvHistoryEntry['outcome'], output: KvOutput) => void): void {
    if (outcome.kind === 'read') finish('ok', { value: outcome.value });
    else if (outcome.kind === 'refused') {
      this.leaderHint = outcome.leaderId;
      finish('fail', null);
    } else finish('unknown', null);
  }

  private onWrite(outcome: WriteOutcome, finish: (outcome: KvHistoryEntry['outcome'], output: KvOutput) => void): void {
    switch (outcome.kind) {
      case 'applied': {
        this.acknowledged.push({ index: outcome.index, term: outcome.term, content: outcome.content });
        const output: KvOutput = outcome.result.op === 'cas' ? { swapped: outcome.result.swapped } : null;
        finish('ok', output);
        return;
      }
      case 'refused':
        this.leaderHint = outcome.leaderId;
        finish('fail', null);
        return;
      case 'lost':
        finish('fail', null);
        return;
      case 'unknown':
        finish('unknown', null);
        return;
    }
  }

  private nextInput(): KvInput {
    const key = `k${this.random.int(1, this.options.keys)}`;
    const roll = this.random.next();
    if (roll < 0.4) return { kind: 'get', key };
    const value = `v${++this.valueCounter}`;
    if (roll < 0.8) return { kind: 'put', key, value };
    // Compare against a recent value so that some swaps succeed.
    const expected = this.valueCounter > 1 && this.random.chance(0.8) ? `v${this.random.int(Math.max(1, this.valueCounter - 6), this.valueCounter - 1)}` : null;
    return { kind: 'cas', key, expected, value };
  }

  private commandOf(input: KvInput): RegisterCommand {
    if (input.kind === 'put') return { op: 'put', key: input.key, value: String(input.value) };
    if (input.kind === 'cas') return { op: 'cas', key: input.key, expected: input.expected === null ? null : String(input.expected), value: String(input.value) };
    throw new Error(`not a write: ${input.kind}`);
  }

  /** Mostly the node believed to lead; sometimes any live node (followers forward reads, refuse writes). */
  private chooseNode(): SimulatedNode | undefined {
    const live = this.liveNodes();
    if (live.length === 0) return undefined;
    const hinted = live.find((node) => node.id === this.leaderHint);
    if (hinted !== undefined && this.random.chance(0.8)) return hinted;
    const leader = live.find((node) => node.view()?.role === 'leader');
    if (leader !== undefined && this.random.chance(0.5)) return leader;
    return this.random.pick(live);
  }
}
