// Generates KV histories from a real (simulated) concurrent execution against one correct
// register per key: every operation takes effect at a single instant strictly inside its
// [call, return] window, so the history is linearizable by construction. Used by the checker's
// property tests and benchmark; mutate the result to get illegal histories.

import type { HistoryEntry } from './history.ts';
import type { KvInput, KvOutput, KvValue } from './kv-model.ts';

export interface KvWorkloadOptions {
  /** Uniform [0, 1) source; pass a seeded PRNG for reproducible histories. */
  random: () => number;
  operations: number;
  keys: number;
  clients: number;
  /** Fraction of operations whose reply is lost: recorded 'unknown', applied or not at random. */
  unknownRate?: number;
  /** Fraction of operations rejected before taking effect: recorded 'fail'. */
  failRate?: number;
  /** Relative weights of the operation kinds (default get 5, put 3, cas 2, delete 0). */
  mix?: Partial<Record<KvInput['kind'], number>>;
  /** Upper bound of each of the two latency halves (call -> effect -> return), in time units. */
  latencyMax?: number;
  /** Upper bound of the pause between a client's operations. */
  thinkTimeMax?: number;
}

type KvEntry = HistoryEntry<KvInput, KvOutput>;

interface ClientState {
  process: number;
  /** 'idle': next event is a call; 'called': the effect instant; 'effected': the return. */
  phase: 'idle' | 'called' | 'effected' | 'done';
  time: number;
  entry?: KvEntry;
  fate?: 'ok' | 'unknown-applied' | 'unknown-skipped' | 'fail';
  /** Last value this client saw per key, to make cas guesses that sometimes succeed. */
  lastSeen: Map<string, KvValue | null>;
}

export function generateKvHistory(options: KvWorkloadOptions): KvEntry[] {
  const generator = new Generator(options);
  return generator.run();
}

class Generator {
  private readonly options: KvWorkloadOptions;
  private readonly store = new Map<string, KvValue>();
  private readonly history: KvEntry[] = [];
  private readonly clients: ClientState[];
  private issued = 0;
  private nextValue = 1;

  constructor(options: KvWorkloadOptions) {
    this.options = options;
    this.clients = Array.from({ length: options.clients }, (_, process) => ({
      process, phase: 'idle' as const, time: this.randomInt(4), lastSeen: new Map(),
    }));
  }

  run(): KvEntry[] {
    for (;;) {
      const client = this.earliestClient();
      if (client === undefined) return this.history;
      if (client.phase === 'idle') this.call(client);
      else if (client.phase === 'called') this.takeEffect(client);
      else this.complete(client);
    }
  }

  private randomInt(maxExclusive: number): number {
    return Math.floor(this.options.random() * maxExclusive);
  }

  private earliestClient(): ClientState | undefined {
    let earliest: ClientState | undefined;
    for (const client of this.clients) {
      if (client.phase !== 'done' && (earliest === undefined || client.time < earliest.time)) earliest = client;
    }
    return earliest;
  }

  private latency(): number {
    return 1 + this.randomInt(this.options.latencyMax ?? 10);
  }

  private call(client: ClientState): void {
    if (this.issued >= this.options.operations) {
      client.phase = 'done';
      return;
    }
    this.issued++;
    const input = this.chooseInput(client);
    client.entry = { process: client.process, callTime: client.time, returnTime: null, input, output: null, outcome: 'ok' };
    client.fate = this.chooseFate();
    client.phase = 'called';
    client.time += this.latency();
  }

  private chooseFate(): ClientState['fate'] {
    const roll = this.options.random();
    const unknownRate = this.options.unknownRate ?? 0;
    if (roll < unknownRate) return this.options.random() < 0.5 ? 'unknown-applied' : 'unknown-skipped';
    return roll < unknownRate + (this.options.failRate ?? 0) ? 'fail' : 'ok';
  }

  private chooseInput(client: ClientState): KvInput {
    const key = `k${this.randomInt(this.options.keys)}`;
    const mix = { get: 5, put: 3, cas: 2, delete: 0, ...this.options.mix };
    let roll = this.options.random() * (mix.get + mix.put + mix.cas + mix.delete);
    if ((roll -= mix.get) < 0) return { kind: 'get', key };
    if ((roll -= mix.put) < 0) return { kind: 'put', key, value: this.nextValue++ };
    if ((roll -= mix.cas) < 0) {
      // Guess from what this client last saw; stale guesses make realistic failed cas.
      const guess = this.options.random() < 0.8 ? client.lastSeen.get(key) ?? null : this.store.get(key) ?? null;
      return { kind: 'cas', key, expected: guess, value: this.nextValue++ };
    }
    return { kind: 'delete', key };
  }

  /** The instant the operation happens (or, for failed and lost-and-skipped ones, does not). */
  private takeEffect(client: ClientState): void {
    const entry = client.entry!;
    if (client.fate === 'ok' || client.fate === 'unknown-applied') entry.output = this.apply(entry.input, client);
    client.phase = 'effected';
    client.time += this.latency();
  }

  private apply(input: KvInput, client: ClientState): KvOutput {
    const current = this.store.get(input.key) ?? null;
    switch (input.kind) {
      case 'get':
        client.lastSeen.set(input.key, current);
        return { value: current };
      case 'put':
        this.store.set(input.key, input.value);
        return null;
      case 'delete':
        this.store.delete(input.key);
        return null;
      case 'cas': {
        const swapped = current === input.expected;
        if (swapped) this.store.set(input.key, input.value);
        client.lastSeen.set(input.key, swapped ? input.value : current);
        return { swapped };
      }
    }
  }

  private complete(client: ClientState): void {
    const entry = client.entry!;
    if (client.fate === 'ok') entry.returnTime = client.time;
    else if (client.fate === 'fail') Object.assign(entry, { outcome: 'fail', returnTime: client.time, output: null });
    else Object.assign(entry, { outcome: 'unknown', returnTime: null, output: null });
    this.history.push(entry);
    client.entry = undefined;
    client.phase = 'idle';
    client.time += this.randomInt((this.options.thinkTimeMax ?? 3) + 1);
  }
}
