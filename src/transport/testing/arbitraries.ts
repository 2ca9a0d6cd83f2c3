// fast-check generators shared by the transport's property and fuzz tests.
import fc from 'fast-check';
import { makeMessage } from '../../core/raft/types.ts';
import type { Entry, Message } from '../../core/raft/types.ts';
import { MESSAGE_TYPE_CODES } from '../codec/message-wire.ts';

export const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
export const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => new Uint8Array(array));
const nodeIds = fc.array(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxLength: 5 });

export const entryArbitrary: fc.Arbitrary<Entry> = fc.record({
  term: count,
  index: count,
  type: fc.constantFrom('normal' as const, 'conf-change' as const),
  data: bytes,
}, { noNullPrototype: true });

export const messageArbitrary: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...MESSAGE_TYPE_CODES),
    term: count,
    logTerm: count,
    index: count,
    entries: fc.array(entryArbitrary, { maxLength: 8 }),
    commit: count,
    reject: fc.boolean(),
    rejectHint: count,
    snapshot: fc.option(
      fc.record({
        metadata: fc.record({
          index: count,
          term: count,
          confState: fc.record({ voters: nodeIds, learners: nodeIds, votersOutgoing: nodeIds, learnersNext: nodeIds, autoLeave: fc.boolean() }, { noNullPrototype: true }),
        }, { noNullPrototype: true }),
        data: bytes,
      }, { noNullPrototype: true }),
      { nil: undefined },
    ),
    context: fc.option(bytes, { nil: undefined }),
  })
  .map((fields) => {
    const snapshot = fields.type === 'snapshot' && fields.snapshot === undefined
      ? { metadata: { index: 1, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array(1) }
      : fields.snapshot;
    return makeMessage({ ...fields, from: 1, to: 2, snapshot });
  });
