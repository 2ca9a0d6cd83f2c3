// Helpers for the state tests and the simulator: entry builders and a JSON-friendly view of
// results (bytes shown as UTF-8 when printable, else hex) so results compare with deepEqual.
import type { AppliedEntry } from '../types.ts';
import { encodeKvCommand } from './commands.ts';
import type { KvCommand } from './commands.ts';

export class EntryFeed {
  #index: number;
  readonly term: number;

  constructor(firstIndex = 1, term = 1) {
    this.#index = firstIndex - 1;
    this.term = term;
  }

  command(command: KvCommand, options: { system?: boolean } = {}): AppliedEntry {
    return { index: ++this.#index, term: this.term, kind: 'command', data: encodeKvCommand(command, options) };
  }

  raw(data: Uint8Array): AppliedEntry {
    return { index: ++this.#index, term: this.term, kind: 'command', data };
  }

  noop(): AppliedEntry {
    return { index: ++this.#index, term: this.term, kind: 'noop', data: new Uint8Array(0) };
  }

  nextIndex(): number {
    return this.#index + 1;
  }
}

/** Replaces every Uint8Array by a readable string, recursively; drops error messages. */
export function plain(value: unknown, keepMessages = false): unknown {
  if (value instanceof Uint8Array) {
    const text = Buffer.from(value).toString('utf8');
    return /^[\x20-\x7e]*$/.test(text) ? text : `0x${Buffer.from(value).toString('hex')}`;
  }
  if (Array.isArray(value)) return value.map((item) => plain(item, keepMessages));
  if (typeof value === 'object' && value !== null) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      if (key === 'message' && !keepMessages) continue;
      result[key] = plain(item, keepMessages);
    }
    return result;
  }
  return value;
}
