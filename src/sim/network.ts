// The simulated network between nodes: every message gets a seeded delay (which reorders them),
// may be dropped or duplicated, and never crosses a cut link. Links are directed, so one-way
// partitions are just a cut in one direction.
import type { Message } from '../core/index.ts';
import type { SeededRandom } from '../util/random.ts';
import type { NetworkControl } from './cluster.ts';
import type { EventQueue } from './event-queue.ts';

export interface NetworkFaults {
  dropProbability: number;
  duplicateProbability: number;
  delayMinMs: number;
  delayMaxMs: number;
  /** Messages held far longer than the rest (retransmits, pauses): they arrive after later ones. */
  stragglerProbability: number;
  stragglerDelayMaxMs: number;
}

export const CALM_NETWORK: NetworkFaults = {
  dropProbability: 0, duplicateProbability: 0, delayMinMs: 1, delayMaxMs: 5, stragglerProbability: 0, stragglerDelayMaxMs: 0,
};

export class SimNetwork implements NetworkControl {
  faults: NetworkFaults = { ...CALM_NETWORK };
  private readonly cut = new Set<string>();
  delivered = 0;
  dropped = 0;
  private readonly events: EventQueue;
  private readonly random: SeededRandom;
  private readonly deliver: (message: Message) => boolean;
  private readonly onDropped: (message: Message, cause: 'link-down' | 'lost') => void;
  /** Called for delivered snapshots: a real transport knows when it finished streaming one. */
  onSnapshotDelivered: (message: Message) => void = () => {};

  /**
   * `deliver` returns false when the recipient is down. `onDropped` tells the sender's side what
   * a real transport would notice: a connection that cannot be made, a snapshot not delivered.
   */
  constructor(events: EventQueue, random: SeededRandom, deliver: (message: Message) => boolean,
    onDropped: (message: Message, cause: 'link-down' | 'lost') => void) {
    this.events = events;
    this.random = random;
    this.deliver = deliver;
    this.onDropped = onDropped;
  }

  private drop(message: Message, cause: 'link-down' | 'lost'): void {
    this.dropped++;
    this.events.schedule(1, () => this.onDropped(message, cause));
  }

  send(message: Message): void {
    if (!this.linkUp(message.from, message.to)) return this.drop(message, 'link-down');
    if (this.random.chance(this.faults.dropProbability)) return this.drop(message, 'lost');
    const copies = this.random.chance(this.faults.duplicateProbability) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      let delay = this.random.int(this.faults.delayMinMs, this.faults.delayMaxMs);
      if (this.random.chance(this.faults.stragglerProbability)) delay += this.random.int(0, this.faults.stragglerDelayMaxMs);
      this.events.schedule(delay, () => {
        // A partition that started while the message was in flight still stops it.
        if (!this.linkUp(message.from, message.to)) return this.drop(message, 'link-down');
        if (!this.deliver(message)) return this.drop(message, 'link-down');
        this.delivered++;
        if (message.type === 'snapshot') this.events.schedule(1, () => this.onSnapshotDelivered(message));
      });
    }
  }

  /** Faults are read at every send: nothing to recompute. */
  faultsChanged(): void {}

  linkUp(from: number, to: number): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Splits the nodes into groups that cannot reach each other (symmetric). */
  partition(groups: readonly (readonly number[])[]): void {
    this.heal();
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const from of group) for (const to of other) this.cutLink(from, to);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  describeCuts(): string {
    return [...this.cut].sort().join(' ');
  }
}
