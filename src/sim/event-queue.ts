// A priority queue of timed events. Ties break by insertion order, so a run is a pure function
// of its seed (a heap alone would order equal times arbitrarily).

interface QueuedEvent {
  readonly time: number;
  readonly sequence: number;
  readonly run: () => void;
}

export class EventQueue {
  private heap: QueuedEvent[] = [];
  private sequence = 0;
  now = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `run` at `now + delayMs` (never in the past). */
  schedule(delayMs: number, run: () => void): void {
    this.push({ time: this.now + Math.max(0, delayMs), sequence: this.sequence++, run });
  }

  /** Runs the next event, advancing the clock; false when there is none before `untilMs`. */
  runNext(untilMs: number): boolean {
    const next = this.heap[0];
    if (next === undefined || next.time > untilMs) return false;
    this.pop();
    this.now = next.time;
    next.run();
    return true;
  }

  /** Runs events up to and including `untilMs`, then sets the clock there. */
  runUntil(untilMs: number, shouldStop: () => boolean = () => false): void {
    while (!shouldStop() && this.runNext(untilMs)) {
      // each event may schedule more
    }
    if (!shouldStop()) this.now = Math.max(this.now, untilMs);
  }

  /**
   * The same, for code that awaits (the real runtime): after every event, all promise
   * continuations it caused run before the next event, so the order stays a pure function of
   * the seed. setImmediate runs only once the microtask queue is empty.
   */
  async runUntilAsync(untilMs: number, shouldStop: () => boolean = () => false): Promise<void> {
    await drainMicrotasks();
    while (!shouldStop() && this.runNext(untilMs)) await drainMicrotasks();
    if (!shouldStop()) this.now = Math.max(this.now, untilMs);
  }

  private less(a: QueuedEvent, b: QueuedEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.sequence < b.sequence);
  }

  private push(event: QueuedEvent): void {
    const heap = this.heap;
    heap.push(event);
    let position = heap.length - 1;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (!this.less(heap[position]!, heap[parent]!)) break;
      [heap[position], heap[parent]] = [heap[parent]!, heap[position]!];
      position = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let position = 0;
    for (;;) {
      const left = position * 2 + 1;
      const right = left + 1;
      let smallest = position;
      if (left < heap.length && this.less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === position) return;
      [heap[position], heap[smallest]] = [heap[smallest]!, heap[position]!];
      position = smallest;
    }
  }
}

function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
