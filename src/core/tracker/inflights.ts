// The window of append messages sent to one follower and not yet acknowledged. Bounded by count
// and by bytes so a slow follower cannot make the leader buffer without limit.
import { assert } from '../assert.ts';

export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private start = 0;
  private totalBytes = 0;
  readonly messagesMax: number;
  readonly bytesMax: number;

  constructor(messagesMax: number, bytesMax: number) {
    this.messagesMax = messagesMax;
    this.bytesMax = bytesMax;
  }

  get count(): number {
    return this.indexes.length - this.start;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Records a message whose last entry is `index`; indexes must increase. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'inflights: add to a full window');
    const last = this.indexes.length > this.start ? this.indexes[this.indexes.length - 1]! : -1;
    assert(index > last, `inflights: index ${index} not above the last inflight ${last}`);
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Frees every message whose last entry is at or below `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.start < this.indexes.length && this.indexes[this.start]! <= index) {
      this.totalBytes -= this.sizes[this.start]!;
      this.start++;
    }
    // Compact occasionally so the arrays do not grow with the total number of messages ever sent.
    if (this.start > 64 && this.start * 2 > this.indexes.length) {
      this.indexes.splice(0, this.start);
      this.sizes.splice(0, this.start);
      this.start = 0;
    }
  }

  /** Frees the oldest message, whatever its index (it was probably lost). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count >= this.messagesMax || (this.bytesMax > 0 && this.totalBytes >= this.bytesMax);
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.start = 0;
    this.totalBytes = 0;
  }
}
