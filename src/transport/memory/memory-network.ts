// An in-process network for tests: MemoryTransports attach to a MemoryNetwork, which carries
// their messages in one FIFO. Delivery is deterministic and uses no timers: by default the queue
// drains in a microtask after a send (so a handler never runs inside the sender's call stack);
// with `autoDeliver: false` nothing moves until the test calls deliver(). Timers are used only
// for links given a delay. Faults: links down (one way or both), partitions, isolation, a drop
// filter, per-link delays. The simulator has its own network model; this one stays simple.
import type { Message, NodeId } from '../../core/raft/types.ts';
import { REAL_CLOCK } from '../types.ts';
import type { TransportClock } from '../types.ts';
import { MemoryTransport } from './memory-transport.ts';
import type { MemoryTransportOptions } from './memory-transport.ts';

/** What travels between memory transports. */
export type Envelope =
  | { readonly kind: 'message'; readonly from: NodeId; readonly to: NodeId; readonly message: Message; readonly wire: Uint8Array | undefined }
  | { readonly kind: 'request'; readonly from: NodeId; readonly to: NodeId; readonly requestId: number; readonly payload: Uint8Array }
  | {
      readonly kind: 'response';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly requestId: number;
      readonly payload: Uint8Array | undefined;
      readonly error: { readonly code: string; readonly message: string } | undefined;
    };

/** Returns true to lose the message silently (as a lossy network would). Only Raft messages are filtered. */
export type DropFilter = (message: Message) => boolean;

export interface MemoryNetworkOptions {
  /** Drain the queue in a microtask after each send (default true); false: only deliver() moves messages. */
  readonly autoDeliver?: boolean;
  /** Encode, decode and validate every Raft message with the TCP wire codec (default true). */
  readonly encodeMessages?: boolean;
  /** For request timeouts and link delays. Default: real time. */
  readonly clock?: TransportClock;
  /** Envelopes in flight per directed link before sends are dropped. Default 10,000. */
  readonly maxQueueMessages?: number;
}

interface LinkDelay {
  delayMs: number;
  lastAtMs: number;
  readonly delayed: { readonly atMs: number; readonly envelope: Envelope }[];
  timer: unknown;
}

export class MemoryNetwork {
  readonly autoDeliver: boolean;
  readonly encodeMessages: boolean;
  readonly clock: TransportClock;
  readonly maxQueueMessages: number;
  readonly #transports = new Map<NodeId, MemoryTransport>();
  readonly #downLinks = new Set<string>();
  readonly #delays = new Map<string, LinkDelay>();
  readonly #inFlight = new Map<string, number>();
  #ready: Envelope[] = [];
  #readyHead = 0;
  #drainScheduled = false;
  #dropFilter: DropFilter | undefined;

  constructor(options: MemoryNetworkOptions = {}) {
    this.autoDeliver = options.autoDeliver ?? true;
    this.encodeMessages = options.encodeMessages ?? true;
    this.clock = options.clock ?? REAL_CLOCK;
    this.maxQueueMessages = options.maxQueueMessages ?? 10_000;
  }

  /** A transport on this network; it joins when started. Node ids must be unique on the network. */
  createTransport(nodeId: NodeId, options: MemoryTransportOptions = {}): MemoryTransport {
    return new MemoryTransport(this, nodeId, options);
  }

  /** Envelopes waiting for delivery (not counting delayed ones). */
  get pendingCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  /** Delivers the envelopes queued now (not those their delivery produces); returns how many. */
  deliver(): number {
    const count = this.pendingCount;
    for (let i = 0; i < count; i++) this.#deliverOne(this.#ready[this.#readyHead++]!);
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
    return count;
  }

  /** Delivers until the queue is empty or `maxRounds` rounds ran; returns the total delivered. */
  deliverAll(maxRounds = 1000): number {
    let total = 0;
    for (let round = 0; round < maxRounds && this.pendingCount > 0; round++) total += this.deliver();
    return total;
  }

  // ---- faults ----

  /** Cuts (or restores) the directed link from -> to. */
  setLinkDown(from: NodeId, to: NodeId, down: boolean): void {
    if (down) this.#downLinks.add(linkKey(from, to));
    else this.#downLinks.delete(linkKey(from, to));
    this.#refreshLinks();
  }

  /** Nodes in different groups cannot reach each other; links within a group are restored. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    this.#downLinks.clear();
    const groupOf = new Map<NodeId, number>();
    groups.forEach((group, index) => group.forEach((id) => groupOf.set(id, index)));
    for (const [a, groupA] of groupOf) {
      for (const [b, groupB] of groupOf) if (a !== b && groupA !== groupB) this.#downLinks.add(linkKey(a, b));
    }
    this.#refreshLinks();
  }

  /** Cuts every link to and from `nodeId` (others untouched). */
  isolate(nodeId: NodeId): void {
    for (const other of this.#transports.keys()) {
      if (other === nodeId) continue;
      this.#downLinks.add(linkKey(nodeId, other));
      this.#downLinks.add(linkKey(other, nodeId));
    }
    this.#refreshLinks();
  }

  /** Restores every link and removes the drop filter and all delays. */
  heal(): void {
    this.#downLinks.clear();
    this.#dropFilter = undefined;
    for (const delay of this.#delays.values()) delay.delayMs = 0;
    this.#refreshLinks();
  }

  setDropFilter(filter: DropFilter | undefined): void {
    this.#dropFilter = filter;
  }

  /** Delays every envelope on from -> to by `delayMs` (timers); order on the link is kept. 0 removes the delay. */
  setDelay(from: NodeId, to: NodeId, delayMs: number): void {
    const link = this.#delayOf(linkKey(from, to));
    link.delayMs = delayMs;
  }

  /** Whether `from` has `to` as a peer, i.e. over TCP it would hold a connection to `to`. @internal */
  dials(from: NodeId, to: NodeId): boolean {
    return this.#transports.get(from)?.hasPeer(to) === true;
  }

  isLinkUp(from: NodeId, to: NodeId): boolean {
    return !this.#downLinks.has(linkKey(from, to)) && this.#transports.has(from) && this.#transports.has(to);
  }

  // ---- used by MemoryTransport ----

  /** @internal */
  attach(transport: MemoryTransport): void {
    const existing = this.#transports.get(transport.localId);
    if (existing !== undefined && existing !== transport) throw new Error(`node id ${transport.localId} is already on this network`);
    this.#transports.set(transport.localId, transport);
    this.#refreshLinks();
  }

  /** @internal */
  detach(transport: MemoryTransport): void {
    if (this.#transports.get(transport.localId) !== transport) return;
    this.#transports.delete(transport.localId);
    this.#refreshLinks();
  }

  /** @internal Queues an envelope; false when the link's in-flight bound is reached. */
  enqueue(envelope: Envelope): boolean {
    const key = linkKey(envelope.from, envelope.to);
    const inFlight = this.#inFlight.get(key) ?? 0;
    if (inFlight >= this.maxQueueMessages) return false;
    this.#inFlight.set(key, inFlight + 1);
    const link = this.#delays.get(key);
    if (link === undefined || (link.delayMs === 0 && link.delayed.length === 0)) {
      this.#pushReady(envelope);
      return true;
    }
    const atMs = Math.max(this.clock.now() + link.delayMs, link.lastAtMs);
    link.lastAtMs = atMs;
    link.delayed.push({ atMs, envelope });
    if (link.delayed.length === 1) this.#armDelay(link);
    return true;
  }

  #pushReady(envelope: Envelope): void {
    this.#ready.push(envelope);
    this.#scheduleDrain();
  }

  /** Envelopes produced while draining go out in the next microtask, so ping-pong never spins inside one. */
  #scheduleDrain(): void {
    if (!this.autoDeliver || this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.deliver();
      if (this.pendingCount > 0) this.#scheduleDrain();
    });
  }

  #armDelay(link: LinkDelay): void {
    const first = link.delayed[0]!;
    link.timer = this.clock.setTimer(() => {
      const now = this.clock.now();
      while (link.delayed.length > 0 && link.delayed[0]!.atMs <= now) this.#pushReady(link.delayed.shift()!.envelope);
      if (link.delayed.length > 0) this.#armDelay(link);
    }, Math.max(0, first.atMs - this.clock.now()));
  }

  #delayOf(key: string): LinkDelay {
    let link = this.#delays.get(key);
    if (link === undefined) {
      link = { delayMs: 0, lastAtMs: 0, delayed: [], timer: undefined };
      this.#delays.set(key, link);
    }
    return link;
  }

  #deliverOne(envelope: Envelope): void {
    const key = linkKey(envelope.from, envelope.to);
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 1) - 1);
    const target = this.#transports.get(envelope.to);
    if (target === undefined || this.#downLinks.has(key)) return;
    if (envelope.kind === 'message' && this.#dropFilter?.(envelope.message) === true) return;
    target.receive(envelope);
  }

  /** Tells every transport which of its peers it can reach now. */
  #refreshLinks(): void {
    for (const transport of this.#transports.values()) transport.refreshPeerStates();
  }

  /** Cancels delay timers (for test cleanup). Undelivered delayed envelopes are lost. */
  close(): void {
    for (const link of this.#delays.values()) {
      this.clock.clearTimer(link.timer);
      link.delayed.length = 0;
    }
    this.#ready = [];
    this.#readyHead = 0;
    this.#inFlight.clear();
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
