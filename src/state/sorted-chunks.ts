// A sorted map of byte keys for the memory store: keys kept in chunks of at most 2 * chunkKeys
// sorted entries, so an insert moves at most one chunk's worth of pointers instead of the whole
// table (a plain sorted array made a 200k-key table crawl). Binary search over the chunks'
// first keys, then within the chunk.
import { assert } from '../core/assert.ts';

const DEFAULT_CHUNK_KEYS = 256;

interface Chunk {
  keys: Buffer[];
  values: Buffer[];
}

export interface Position {
  chunk: number;
  index: number;
}

export class SortedChunks {
  #chunks: Chunk[] = [{ keys: [], values: [] }];
  #size = 0;
  readonly #chunkKeys: number;

  /** A chunk splits in two when it grows past 2 * chunkKeys keys. */
  constructor(chunkKeys = DEFAULT_CHUNK_KEYS) {
    assert(Number.isInteger(chunkKeys) && chunkKeys >= 1, 'sorted chunks: chunkKeys must be >= 1');
    this.#chunkKeys = chunkKeys;
  }

  get size(): number {
    return this.#size;
  }

  get(key: Uint8Array): Buffer | undefined {
    const { chunk, index, found } = this.#find(key);
    return found ? this.#chunks[chunk]!.values[index] : undefined;
  }

  /** Returns the previous value, if any. */
  set(key: Buffer, value: Buffer): Buffer | undefined {
    const { chunk, index, found } = this.#find(key);
    const target = this.#chunks[chunk]!;
    if (found) {
      const previous = target.values[index];
      target.values[index] = value;
      return previous;
    }
    target.keys.splice(index, 0, key);
    target.values.splice(index, 0, value);
    this.#size++;
    if (target.keys.length > this.#chunkKeys * 2) this.#split(chunk);
    return undefined;
  }

  /** Returns the removed value, if any. */
  delete(key: Uint8Array): Buffer | undefined {
    const { chunk, index, found } = this.#find(key);
    if (!found) return undefined;
    const target = this.#chunks[chunk]!;
    const previous = target.values[index];
    target.keys.splice(index, 1);
    target.values.splice(index, 1);
    this.#size--;
    if (target.keys.length === 0 && this.#chunks.length > 1) this.#chunks.splice(chunk, 1);
    return previous;
  }

  clear(): void {
    this.#chunks = [{ keys: [], values: [] }];
    this.#size = 0;
  }

  /** Entries with start <= key < end, ascending or descending. */
  *range(start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean): Generator<{ key: Buffer; value: Buffer }> {
    if (!reverse) {
      let { chunk, index } = start === undefined ? { chunk: 0, index: 0 } : this.#find(start);
      for (; chunk < this.#chunks.length; chunk++, index = 0) {
        const current = this.#chunks[chunk]!;
        for (; index < current.keys.length; index++) {
          const key = current.keys[index]!;
          if (end !== undefined && Buffer.compare(key, end) >= 0) return;
          yield { key, value: current.values[index]! };
        }
      }
      return;
    }
    let { chunk, index } = end === undefined ? this.#last() : this.#find(end);
    if (end !== undefined) index--; // #find gives the first key >= end
    for (; chunk >= 0; chunk--, index = chunk >= 0 ? this.#chunks[chunk]!.keys.length - 1 : 0) {
      const current = this.#chunks[chunk]!;
      for (; index >= 0; index--) {
        const key = current.keys[index]!;
        if (start !== undefined && Buffer.compare(key, start) < 0) return;
        yield { key, value: current.values[index]! };
      }
    }
  }

  #last(): Position {
    const chunk = this.#chunks.length - 1;
    return { chunk, index: this.#chunks[chunk]!.keys.length - 1 };
  }

  /** The chunk that holds (or would hold) `key`, and the index of the first key >= `key` in it. */
  #find(key: Uint8Array): Position & { found: boolean } {
    let low = 0;
    let high = this.#chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      const first = this.#chunks[middle]!.keys[0];
      assert(first !== undefined, 'sorted chunks: empty chunk in the middle');
      if (Buffer.compare(first, key) <= 0) low = middle;
      else high = middle - 1;
    }
    const keys = this.#chunks[low]!.keys;
    let left = 0;
    let right = keys.length;
    while (left < right) {
      const middle = (left + right) >>> 1;
      const order = Buffer.compare(keys[middle]!, key);
      if (order === 0) return { chunk: low, index: middle, found: true };
      if (order < 0) left = middle + 1;
      else right = middle;
    }
    return { chunk: low, index: left, found: false };
  }

  #split(chunk: number): void {
    const target = this.#chunks[chunk]!;
    const half = target.keys.length >>> 1;
    const upper: Chunk = { keys: target.keys.splice(half), values: target.values.splice(half) };
    this.#chunks.splice(chunk + 1, 0, upper);
  }
}
