// The bounded FIFO of encoded frames waiting for one peer's socket. Bounded in count and bytes;
// an empty queue admits one frame of any size (up to the frame limit) so a snapshot larger than
// the byte bound can still leave. A snapshot sent in parts is one item that yields its frames one
// by one, each in a batch of its own; the items behind it wait until its last frame is taken.
import type { OutgoingSnapshot } from './snapshot-parts.ts';

export interface QueuedFrame {
  /** Length prefix included. Empty for a snapshot sent in parts. */
  readonly frame: Buffer;
  /** A snapshot sent in parts: its frames come from here, and it counts as one part's bytes. */
  readonly parts?: { readonly snapshot: OutgoingSnapshot; readonly partBytes: number };
  /** A Raft message (counted in messagesSent) rather than a request. */
  readonly isMessage: boolean;
  readonly isSnapshot: boolean;
  /** 0 for Raft messages. */
  readonly requestId: number;
}

export interface Batch {
  readonly frames: Buffer[];
  readonly bytes: number;
  readonly messages: number;
  readonly snapshots: number;
}

export class SendQueue {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #items: QueuedFrame[] = [];
  #head = 0;
  #bytes = 0;

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  get count(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  admits(frameBytes: number): boolean {
    const count = this.count;
    return count === 0 || (count < this.#maxCount && this.#bytes + frameBytes <= this.#maxBytes);
  }

  push(item: QueuedFrame): void {
    this.#items.push(item);
    this.#bytes += sizeOf(item);
  }

  /** Takes frames in order up to `maxBytes` (at least one), skipping those `keep` refuses. */
  takeBatch(maxBytes: number, keep: (item: QueuedFrame) => boolean): Batch {
    const frames: Buffer[] = [];
    let bytes = 0;
    let messages = 0;
    let snapshots = 0;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      if (item.parts !== undefined) {
        if (frames.length > 0) break;
        return this.#takePart(item.parts.snapshot);
      }
      if (frames.length > 0 && bytes + item.frame.length > maxBytes) break;
      this.#head++;
      this.#bytes -= item.frame.length;
      if (!keep(item)) continue;
      frames.push(item.frame);
      bytes += item.frame.length;
      if (item.isMessage) messages++;
      if (item.isSnapshot) snapshots++;
    }
    this.#compact();
    return { frames, bytes, messages, snapshots };
  }

  /** The next frame of the snapshot at the head, alone; the item leaves with its last frame. */
  #takePart(snapshot: OutgoingSnapshot): Batch {
    const frame = snapshot.nextFrame();
    if (!snapshot.finished) return { frames: [frame], bytes: frame.length, messages: 0, snapshots: 0 };
    this.#bytes -= sizeOf(this.#items[this.#head]!);
    this.#head++;
    this.#compact();
    return { frames: [frame], bytes: frame.length, messages: 1, snapshots: 1 };
  }

  /** Removes the items `predicate` selects; returns them in order. */
  remove(predicate: (item: QueuedFrame) => boolean): QueuedFrame[] {
    const removed: QueuedFrame[] = [];
    const kept: QueuedFrame[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      (predicate(item) ? removed : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    this.#bytes = kept.reduce((total, item) => total + sizeOf(item), 0);
    return removed;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

function sizeOf(item: QueuedFrame): number {
  return item.parts === undefined ? item.frame.length : item.parts.partBytes;
}
