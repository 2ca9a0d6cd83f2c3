// Helpers for the log tests, benchmarks and the simulator: an entry builder for log commands.
import type { AppliedEntry } from '../types.ts';
import { encodeLogCommand } from './commands.ts';
import type { LogCommand } from './commands.ts';

export class LogEntryFeed {
  #index: number;
  readonly term: number;

  constructor(firstIndex = 1, term = 1) {
    this.#index = firstIndex - 1;
    this.term = term;
  }

  command(command: LogCommand): AppliedEntry {
    return { index: ++this.#index, term: this.term, kind: 'command', data: encodeLogCommand(command) };
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
