// Fuzzing WAL recovery: write a random workload (all synced), then truncate WAL segments and flip
// bits at random, anywhere or only in the zeros preallocated after a segment's records. Reopening
// must either refuse with 'wal-corrupt' / 'snapshot-corrupt', or serve exactly a prefix of what was
// written: never an entry, term or hard state that differs from it. Damage confined to the zeros
// of the last segment (a torn write there) or cutting only zeros off must lose nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { Snapshot } from '../core/index.ts';
import { entriesFrom, observe } from './conformance.ts';
import { FileStorage } from './file-storage.ts';
import type { Effect } from './log-model.ts';
import { findAdmissiblePrefix, LogState, NO_SNAPSHOT } from './log-model.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';
import { isStorageError } from './types.ts';
import { parseSegmentName, scanSegment } from './wal/segment.ts';

const WAL = '/node/wal';
const CONF_STATE = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

interface Step {
  readonly kind: 'append' | 'overwrite' | 'commit' | 'snapshot-and-compact';
  readonly count: number;
  readonly dataBytes: number;
}

interface Damage {
  readonly kind: 'truncate' | 'flip';
  /** Which segment: the last one (where a torn tail is legitimate) or any (modulo their number). */
  readonly last: boolean;
  readonly segment: number;
  /** Where in it, as a fraction of its size, or of its zeros after the records. */
  readonly position: number;
  readonly inZeros: boolean;
  readonly bit: number;
}

const stepArbitrary: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom('append', 'append', 'append', 'overwrite', 'commit', 'snapshot-and-compact'),
  count: fc.integer({ min: 1, max: 6 }),
  dataBytes: fc.nat(120),
});

const damageArbitrary: fc.Arbitrary<Damage> = fc.record({
  kind: fc.constantFrom('truncate', 'flip', 'flip'),
  last: fc.boolean(),
  segment: fc.nat(),
  position: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  inZeros: fc.boolean(),
  bit: fc.nat(7),
});

/** Writes the workload; returns the effects in write order and the snapshot written, if any. */
async function writeWorkload(storage: FileStorage, steps: readonly Step[]): Promise<{ effects: Effect[]; snapshot: Snapshot }> {
  const effects: Effect[] = [];
  let snapshot = NO_SNAPSHOT;
  let term = 1;
  for (const step of steps) {
    const commit = storage.initialState().hardState.commit;
    const last = storage.lastIndex();
    if (step.kind === 'append' || (step.kind === 'overwrite' && last > commit)) {
      const start = step.kind === 'append' ? last + 1 : Math.max(commit + 1, last - step.count + 1);
      if (step.kind === 'overwrite') term++;
      const entries = entriesFrom(start, step.count, term, step.dataBytes);
      const hardState = { term, vote: 1, commit };
      await storage.save({ entries, hardState }, true);
      effects.push(...entries.map((entry): Effect => ({ kind: 'entry', entry })), { kind: 'hard-state', hardState });
    } else if (step.kind === 'commit' && last > commit) {
      const hardState = { term, vote: 1, commit: last };
      await storage.save({ entries: [], hardState }, true);
      effects.push({ kind: 'hard-state', hardState });
    } else if (step.kind === 'snapshot-and-compact' && commit > snapshot.metadata.index) {
      snapshot = { metadata: { index: commit, term: storage.term(commit)!, confState: CONF_STATE }, data: new Uint8Array([commit & 0xff]) };
      await storage.saveSnapshot(snapshot);
      const compactIndex = Math.max(storage.firstIndex() - 1, commit - step.count);
      if (compactIndex > storage.firstIndex() - 1) {
        await storage.compact(compactIndex);
        effects.push({ kind: 'compact', index: compactIndex });
      }
    }
  }
  return { effects, snapshot };
}

/** Applies the damages; returns whether every one was a flip in the zeros of the last segment, or a cut in zeros. */
function damage(fileSystem: SimulatedFileSystem, damages: readonly Damage[]): boolean {
  let harmless = true;
  for (const item of damages) {
    const names = fileSystem.peekDirectory(WAL);
    if (names.length === 0) return harmless;
    const index = item.last ? names.length - 1 : item.segment % names.length;
    const path = `${WAL}/${names[index]}`;
    const content = fileSystem.peek(path);
    const recordsEnd = scanSegment(content, parseSegmentName(names[index]!)!, 1 << 26).validBytes;
    const inZeros = item.inZeros && recordsEnd < content.length;
    const at = inZeros ? recordsEnd + Math.floor(item.position * (content.length - recordsEnd)) : Math.floor(item.position * content.length);
    harmless &&= inZeros && (item.kind === 'truncate' || index === names.length - 1);
    if (item.kind === 'truncate') fileSystem.overwrite(path, content.subarray(0, at));
    else if (content.length > 0) {
      content[at]! ^= 1 << item.bit;
      fileSystem.overwrite(path, content);
    }
  }
  return harmless;
}

test('damaged WAL segments are either refused or recovered to exactly a prefix of what was written', async () => {
  const outcomes = { refused: 0, recoveredShorter: 0, recoveredWhole: 0, harmlessDamage: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArbitrary, { minLength: 3, maxLength: 40, size: 'max' }),
      fc.array(damageArbitrary, { minLength: 1, maxLength: 3 }),
      async (steps, damages) => {
        const fileSystem = new SimulatedFileSystem();
        const open = (): Promise<FileStorage> => FileStorage.open({ fileSystem, directory: '/node', segmentMaxBytes: 512 });
        const storage = await open();
        const { effects, snapshot } = await writeWorkload(storage, steps);
        const written = observe(storage);
        await storage.close();
        const harmless = damage(fileSystem, damages);
        let recovered: FileStorage;
        try {
          recovered = await open();
        } catch (error) {
          const tornTailOnly = damages.every((item) => item.kind === 'truncate' && item.last);
          assert.ok(!tornTailOnly, `cutting the end of the last segment must be repaired, not refused: ${String(error)}`);
          assert.ok(!harmless, `damage in the zeros only must be repaired, not refused: ${String(error)}`);
          assert.ok(isStorageError(error, 'wal-corrupt') || isStorageError(error, 'snapshot-corrupt'), `unexpected failure: ${String(error)}`);
          assert.ok(error.file !== undefined && error.file !== '', 'the error names a file');
          outcomes.refused++;
          return;
        }
        const actual = observe(recovered);
        const match = findAdmissiblePrefix(new LogState(), effects, 0, [snapshot], actual, recovered.firstIndex() - 1);
        assert.ok(match !== undefined, `recovered state is not a prefix of what was written: ${JSON.stringify(actual).slice(0, 400)}`);
        if (isDeepStrictEqual(actual, written)) outcomes.recoveredWhole++;
        else outcomes.recoveredShorter++;
        if (harmless) {
          assert.deepEqual(actual, written, 'damage in the zeros only loses nothing');
          outcomes.harmlessDamage++;
        }
        await recovered.close();
      },
    ),
    { numRuns: 300 },
  );
  // Every outcome must actually occur, or the fuzzer is not testing what it claims.
  assert.ok(outcomes.refused > 30, JSON.stringify(outcomes));
  assert.ok(outcomes.recoveredShorter > 10, JSON.stringify(outcomes));
  assert.ok(outcomes.harmlessDamage > 10, JSON.stringify(outcomes));
});
