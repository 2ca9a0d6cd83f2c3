// A sorted map of byte keys for the memory store (and the overlay store's deltas): keys kept in chunks of at most 2 * chunkKeys
// sorted entries, so an insert moves at most one chunk's worth of pointers instead of the whole
// table (a plain sorted array made a 200k-key table crawl). Binary search over the chunks'
// first keys, then within the chunk.
import { assert } from '../core/assert.ts';

const DEFAULT_CHUNK_KEYS = 64;

interface Chunk<Value> {
  /** The keys as latin1 strings: one char per byte, so string order is byte order, and string
   * comparison is far cheaper than Buffer.compare's argument checks on every probe. */
  names: string[];
  keys: Buffer[];
  values: Value[];
}

const nameOf = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

export interface Position {
  chunk: number;
  index: number;
}

/** Values are Buffers by default; the overlay store also keeps `null` (a deletion) as a value. */
export class SortedChunks<Value = Buffer> {
  #chunks: Chunk<Value>[] = [{ names: [], keys: [], values: [] }];
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

  get(key: Uint8Array): Value | undefined {
    const { chunk, index, found } = this.#find(key);
    return found ? this.#chunks[chunk]!.values[index] : undefined;
  }

  /** Returns the previous value, if any. */
  set(key: Buffer, value: Value): Value | undefined {
    const name = nameOf(key);
    const { chunk, index, found } = this.#findName(name);
    const target = this.#chunks[chunk]!;
    if (found) {
      const previous = target.values[index];
      target.values[index] = value;
      return previous;
    }
    target.names.splice(index, 0, name);
    target.keys.splice(index, 0, key);
    target.values.splice(index, 0, value);
    this.#size++;
    if (target.names.length > this.#chunkKeys * 2) this.#split(chunk);
    return undefined;
  }

  /** Returns the removed value, if any. */
  delete(key: Uint8Array): Value | undefined {
    const { chunk, index, found } = this.#find(key);
    if (!found) return undefined;
    const target = this.#chunks[chunk]!;
    const previous = target.values[index];
    target.names.splice(index, 1);
    target.keys.splice(index, 1);
    target.values.splice(index, 1);
    this.#size--;
    if (target.names.length === 0 && this.#chunks.length > 1) this.#chunks.splice(chunk, 1);
    return previous;
  }

  clear(): void {
    this.#chunks = [{ names: [], keys: [], values: [] }];
    this.#size = 0;
  }

  /** Entries with start <= key < end, ascending or descending. */
  *range(start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean): Generator<{ key: Buffer; value: Value }> {
    const startName = start === undefined ? undefined : nameOf(start);
    const endName = end === undefined ? undefined : nameOf(end);
    if (!reverse) {
      let { chunk, index } = startName === undefined ? { chunk: 0, index: 0 } : this.#findName(startName);
      for (; chunk < this.#chunks.length; chunk++, index = 0) {
        const current = this.#chunks[chunk]!;
        for (; index < current.names.length; index++) {
          if (endName !== undefined && current.names[index]! >= endName) return;
          yield { key: current.keys[index]!, value: current.values[index]! };
        }
      }
      return;
    }
    let { chunk, index } = endName === undefined ? this.#last() : this.#findName(endName);
    if (endName !== undefined) index--; // #find gives the first key >= end
    for (; chunk >= 0; chunk--, index = chunk >= 0 ? this.#chunks[chunk]!.names.length - 1 : 0) {
      const current = this.#chunks[chunk]!;
      for (; index >= 0; index--) {
        if (startName !== undefined && current.names[index]! < startName) return;
        yield { key: current.keys[index]!, value: current.values[index]! };
      }
    }
  }

  #last(): Position {
    const chunk = this.#chunks.length - 1;
    return { chunk, index: this.#chunks[chunk]!.names.length - 1 };
  }

  #find(key: Uint8Array): Position & { found: boolean } {
    return this.#findName(nameOf(key));
  }

  /** The chunk that holds (or would hold) `name`, and the index of the first name >= it there. */
  #findName(name: string): Position & { found: boolean } {
    let low = 0;
    let high = this.#chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      const first = this.#chunks[middle]!.names[0];
      assert(first !== undefined, 'sorted chunks: empty chunk in the middle');
      if (first <= name) low = middle;
      else high = middle - 1;
    }
    const names = this.#chunks[low]!.names;
    let left = 0;
    let right = names.length;
    while (left < right) {
      const middle = (left + right) >>> 1;
      const probe = names[middle]!;
      if (probe === name) return { chunk: low, index: middle, found: true };
      if (probe < name) left = middle + 1;
      else right = middle;
    }
    return { chunk: low, index: left, found: false };
  }

  #split(chunk: number): void {
    const target = this.#chunks[chunk]!;
    const half = target.names.length >>> 1;
    const upper: Chunk<Value> = { names: target.names.splice(half), keys: target.keys.splice(half), values: target.values.splice(half) };
    this.#chunks.splice(chunk + 1, 0, upper);
  }
}
