// A reference model of what the WAL stream says, for the crash and fuzz tests: the effects of
// each call in write order, applied one at a time (a torn write keeps a prefix of them), and the
// reconciliation with a snapshot file that recovery performs. Test support only.
import { isDeepStrictEqual } from 'node:util';
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE } from '../core/index.ts';
import type { Entry, HardState, Snapshot } from '../core/index.ts';

/** What the WAL stream says, one step at a time (entries one by one: a torn write keeps a prefix). */
export type Effect =
  | { readonly kind: 'install'; readonly index: number; readonly term: number }
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'compact'; readonly index: number };

export const NO_SNAPSHOT: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) };

export class LogState {
  baseIndex = 0;
  baseTerm = 0;
  entries: Entry[] = [];
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot = NO_SNAPSHOT;

  get last(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    return index > this.baseIndex && index <= this.last ? this.entries[index - this.baseIndex - 1]!.term : undefined;
  }

  clone(): LogState {
    return Object.assign(new LogState(), { ...this, entries: [...this.entries] });
  }

  apply(effect: Effect): void {
    switch (effect.kind) {
      case 'install':
        this.baseIndex = effect.index;
        this.baseTerm = effect.term;
        this.entries = [];
        break;
      case 'entry':
        if (effect.entry.index <= this.baseIndex) break;
        this.entries.length = effect.entry.index - this.baseIndex - 1;
        this.entries.push(effect.entry);
        break;
      case 'hard-state':
        this.hardState = effect.hardState;
        break;
      case 'compact':
        if (effect.index <= this.baseIndex) break;
        this.baseTerm = this.termAt(effect.index)!;
        this.entries = this.entries.slice(effect.index - this.baseIndex);
        this.baseIndex = effect.index;
        break;
    }
  }

  /** What recovery makes of this WAL state and the newest snapshot file (see replay.ts). */
  reconciledWith(snapshot: Snapshot): LogState {
    const state = this.clone();
    const { index, term } = snapshot.metadata;
    if (state.termAt(index) !== term) {
      state.baseIndex = index;
      state.baseTerm = term;
      state.entries = [];
    }
    state.snapshot = snapshot;
    if (state.hardState.commit < index) state.hardState = { ...state.hardState, commit: index };
    return state;
  }

  observe(): unknown {
    const first = this.baseIndex + 1;
    const terms: (number | undefined)[] = [];
    for (let index = Math.max(0, first - 2); index <= this.last + 1; index++) terms.push(this.termAt(index));
    return {
      state: { hardState: this.hardState, confState: this.snapshot.metadata.confState },
      first,
      last: this.last,
      terms,
      entries: this.entries,
      snapshot: { metadata: this.snapshot.metadata, data: [...this.snapshot.data] },
    };
  }
}

/** A small seeded generator (mulberry32): deterministic randomness for the simulated disk. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}


/**
 * The state recovery may legitimately produce whose observation equals `actual`: `start` with the
 * first `count` effects applied, for some count >= minimumCount, reconciled with one of
 * `snapshots` (the snapshot files that may be the newest on disk). With `compactedUpTo`, the
 * state may also be compacted further, up to its snapshot (after damage took a compact record
 * whose entries were already deleted, recovery restarts the log at the snapshot).
 */
export function findAdmissiblePrefix(
  start: LogState, effects: readonly Effect[], minimumCount: number, snapshots: readonly Snapshot[], actual: unknown,
  compactedUpTo?: number,
): LogState | undefined {
  const state = start.clone();
  for (let count = 0; count <= effects.length; count++) {
    if (count > 0) state.apply(effects[count - 1]!);
    if (count < minimumCount) continue;
    for (const snapshot of snapshots) {
      const candidate = state.reconciledWith(snapshot);
      if (isDeepStrictEqual(candidate.observe(), actual)) return candidate;
      if (compactedUpTo !== undefined && compactedUpTo > candidate.baseIndex && compactedUpTo <= snapshot.metadata.index) {
        candidate.apply({ kind: 'compact', index: compactedUpTo });
        if (isDeepStrictEqual(candidate.observe(), actual)) return candidate;
      }
    }
  }
  return undefined;
}
