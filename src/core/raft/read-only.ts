// Pending ReadIndex requests on the leader. Each request records the commit index at arrival and
// becomes answerable once a quorum has acknowledged a heartbeat carrying its context (proving
// that this node was still the leader when the read arrived).
import type { NodeId } from '../types.ts';

export interface ReadRequest {
  readonly index: number;
  /** The node that asked (this node for local reads). */
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly acks: Map<NodeId, boolean>;
}

/** Contexts are compared by content; a latin1 string of the bytes is a cheap exact key. */
export function contextKey(context: Uint8Array): string {
  let key = '';
  for (let position = 0; position < context.length; position++) key += String.fromCharCode(context[position]!);
  return key;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];
  readonly requestsMax: number;

  constructor(requestsMax: number) {
    this.requestsMax = requestsMax;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Returns false if the request is a duplicate of a pending one or the queue is full. */
  add(index: number, from: NodeId, context: Uint8Array): boolean {
    const key = contextKey(context);
    if (this.pending.has(key) || this.queue.length >= this.requestsMax) return false;
    this.pending.set(key, { index, from, context, acks: new Map() });
    this.queue.push(key);
    return true;
  }

  /** Records a heartbeat acknowledgement; returns the acks so far, or undefined for an unknown context. */
  recordAck(from: NodeId, context: Uint8Array): Map<NodeId, boolean> | undefined {
    const request = this.pending.get(contextKey(context));
    if (request === undefined) return undefined;
    request.acks.set(from, true);
    return request.acks;
  }

  /**
   * The request with `context` is confirmed: it and every request queued before it are answered
   * (they were confirmed by the same or a later heartbeat round).
   */
  advance(context: Uint8Array): ReadRequest[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const confirmed = this.queue.slice(0, position + 1).map((item) => this.pending.get(item)!);
    for (const item of this.queue.slice(0, position + 1)) this.pending.delete(item);
    this.queue = this.queue.slice(position + 1);
    return confirmed;
  }

  lastPendingContext(): Uint8Array | undefined {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? undefined : this.pending.get(last)!.context;
  }

  clear(): void {
    this.pending.clear();
    this.queue = [];
  }
}
