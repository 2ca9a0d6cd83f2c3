// Watches: catch-up then live with no gap and no duplicate (also under random interleavings),
// filters, prevKv, compaction errors, slow watchers, cancel, restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openKvState } from './open.ts';
import type { KvNodeState } from './open.ts';
import { EntryFeed } from './testing.ts';
import { utf8 } from './encoding.ts';
import { WatchHub } from './watch-hub.ts';
import type { Watch, WatchHubOptions, WatchNotice, WatchRequest } from './watch-hub.ts';
import type { KvError } from './errors.ts';

const text = (value: Uint8Array): string => Buffer.from(value).toString('utf8');

class Setup {
  readonly node: KvNodeState = openKvState();
  readonly feed = new EntryFeed();
  readonly queue: (() => void)[] = [];
  readonly hub: WatchHub;

  constructor(options: WatchHubOptions = {}) {
    this.hub = new WatchHub(this.node.kv, { schedule: (step) => this.queue.push(step), ...options });
  }

  put(key: string, value = 'v', system = false): void {
    this.node.state.apply([this.feed.command({ type: 'put', key: utf8(key), value: utf8(value) }, { system })]);
  }

  remove(key: string): void {
    this.node.state.apply([this.feed.command({ type: 'delete', range: { key: utf8(key) } })]);
  }

  /** Runs scheduled catch-up steps, at most `limit`. */
  drain(limit = 1000): void {
    for (let step = 0; step < limit && this.queue.length > 0; step++) this.queue.shift()!();
  }

  watch(request: WatchRequest, pauseWhen: () => boolean = () => false): { watch: Watch; seen: string[]; errors: KvError[]; revisions: number[] } {
    const seen: string[] = [];
    const errors: KvError[] = [];
    const revisions: number[] = [];
    const watch = this.hub.watch(request, (notice: WatchNotice) => {
      if (notice.type === 'cancelled') {
        errors.push(notice.error);
        return;
      }
      for (const event of notice.events) {
        seen.push(`${event.type}:${text(event.kv.key)}@${event.kv.modRevision}${event.prevKv === undefined ? '' : `<${text(event.prevKv.value)}`}`);
        revisions.push(event.kv.modRevision);
      }
      return !pauseWhen();
    });
    assert.ok(!('code' in watch), JSON.stringify(watch));
    return { watch, seen, errors, revisions };
  }
}

test('catch-up from history hands over to live events without gap or duplicate', () => {
  const setup = new Setup({ catchUpChunkEvents: 3 });
  for (let index = 1; index <= 10; index++) setup.put(`k${index % 3}`);
  const { seen, revisions } = setup.watch({ range: { prefix: utf8('k') }, fromRevision: 2 });
  assert.equal(seen.length, 0, 'nothing is delivered synchronously inside watch()');
  setup.drain(1); // one chunk
  setup.put('k1'); // 11: arrives while catching up
  setup.drain(1);
  setup.put('k2'); // 12
  setup.drain();
  setup.put('k0'); // 13: live
  assert.deepEqual(revisions, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
});

test('each delivery says where the watch stands; fromRevision 0 means from now on', () => {
  const setup = new Setup({ catchUpChunkEvents: 2 });
  for (let index = 0; index < 5; index++) setup.put(index % 2 === 0 ? 'a' : 'b');
  const positions: number[] = [];
  const watch = setup.hub.watch({ range: { key: utf8('a') }, fromRevision: 1 }, (notice) => {
    if (notice.type === 'events') positions.push(notice.nextRevision);
  });
  assert.ok(!('code' in watch));
  setup.drain();
  assert.deepEqual(positions, [3, 5, 6], 'chunks of revisions 1-2, 3-4, 5');
  setup.put('a');
  assert.deepEqual(positions, [3, 5, 6, 7]);
  const fromNow = setup.watch({ range: { key: utf8('a') }, fromRevision: 0 });
  setup.drain();
  setup.put('a');
  assert.deepEqual(fromNow.revisions, [7]);
});

test('random interleavings of writes, catch-up steps, pauses and resumes deliver exactly the history', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 12 }),
      fc.array(fc.oneof(fc.constant('write'), fc.constant('step'), fc.constant('pause'), fc.constant('resume'), fc.constant('delete')), { maxLength: 60 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 14 }),
      (initialWrites, actions, chunk, fromRevision) => {
        const setup = new Setup({ catchUpChunkEvents: chunk, maxPendingEvents: 1000 });
        let counter = 0;
        for (let index = 0; index < initialWrites; index++) setup.put(`w/${counter++ % 4}`);
        let pause = false;
        const start = Math.min(fromRevision, setup.node.kv.currentRevision() + 1);
        const { watch, revisions } = setup.watch({ range: { prefix: utf8('w/') }, fromRevision: start }, () => pause);
        for (const action of actions) {
          if (action === 'write') setup.put(`w/${counter++ % 4}`);
          else if (action === 'delete') setup.remove(`w/${counter % 4}`);
          else if (action === 'step') setup.drain(1);
          else if (action === 'pause') pause = true;
          else {
            pause = false;
            watch.resume();
          }
        }
        pause = false;
        watch.resume();
        setup.drain();
        const expected = setup.node.kv.history(start, 1_000_000, false).events.map((event) => event.kv.modRevision);
        assert.deepEqual(revisions, expected);
        assert.equal(watch.nextRevision(), setup.node.kv.currentRevision() + 1);
      },
    ),
    { numRuns: 200 },
  );
});

test('filters: key, prefix, range; reserved keys only for system watches; prevKv on request', () => {
  const setup = new Setup();
  const key = setup.watch({ range: { key: utf8('a') } });
  const prefix = setup.watch({ range: { prefix: utf8('a') }, prevKv: true });
  const range = setup.watch({ range: { start: utf8('b'), end: utf8('c') } });
  const everything = setup.watch({ range: { start: new Uint8Array(0) } });
  const system = setup.watch({ range: { start: new Uint8Array(0) }, system: true });
  setup.put('a', '1');
  setup.put('ab', '2');
  setup.put('a', '3');
  setup.put('b', '4');
  setup.put('_cairn/meta', '5', true);
  setup.remove('ab');
  assert.deepEqual(key.seen, ['put:a@1', 'put:a@3']);
  assert.deepEqual(prefix.seen, ['put:a@1', 'put:ab@2', 'put:a@3<1', 'delete:ab@6<2']);
  assert.deepEqual(range.seen, ['put:b@4']);
  assert.deepEqual(everything.seen, ['put:a@1', 'put:ab@2', 'put:a@3', 'put:b@4', 'delete:ab@6']);
  assert.deepEqual(system.seen, ['put:a@1', 'put:ab@2', 'put:a@3', 'put:b@4', 'put:_cairn/meta@5', 'delete:ab@6']);
  const refused = setup.hub.watch({ range: { prefix: utf8('_cairn/') } }, () => undefined);
  assert.ok('code' in refused && refused.code === 'reserved-key');
});

test('prevKv during catch-up comes from history', () => {
  const setup = new Setup();
  setup.put('a', '1');
  setup.put('a', '2');
  setup.remove('a');
  const { seen } = setup.watch({ range: { key: utf8('a') }, fromRevision: 1, prevKv: true });
  setup.drain();
  assert.deepEqual(seen, ['put:a@1', 'put:a@2<1', 'delete:a@3<2']);
});

test('compacted: refused at creation with the compact revision, and cancelled if compaction overtakes catch-up', () => {
  const setup = new Setup({ catchUpChunkEvents: 2 });
  for (let index = 0; index < 10; index++) setup.put('k');
  setup.node.state.apply([setup.feed.command({ type: 'compact', revision: 4 })]);
  const refused = setup.hub.watch({ range: { key: utf8('k') }, fromRevision: 3 }, () => undefined);
  assert.ok('code' in refused);
  assert.equal(refused.code, 'compacted');
  assert.equal(refused.compactRevision, 4);
  assert.match(refused.message, /revision 3 is compacted; watch from revision 4 or later/);
  const { revisions, errors } = setup.watch({ range: { key: utf8('k') }, fromRevision: 4 });
  setup.drain(1);
  assert.deepEqual(revisions, [4, 5]);
  setup.node.state.apply([setup.feed.command({ type: 'compact', revision: 8 })]);
  setup.drain();
  assert.deepEqual(revisions, [4, 5]);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'compacted');
  assert.equal(errors[0]!.compactRevision, 8);
  assert.equal(setup.hub.size, 0);
});

test('a paused watcher buffers up to the limit, then is cancelled with the revision to resume from', () => {
  const setup = new Setup({ maxPendingEvents: 3 });
  let pause = true;
  const slow = setup.watch({ range: { prefix: utf8('s') } }, () => pause);
  setup.put('s1'); // delivered, then the listener pauses
  setup.put('s2');
  setup.put('s3');
  setup.put('x'); // not matching: never buffered
  setup.put('s4');
  assert.deepEqual(slow.revisions, [1]);
  pause = false;
  slow.watch.resume();
  assert.deepEqual(slow.revisions, [1, 2, 3, 5], 'resume delivers the buffered events');
  pause = true;
  setup.put('s5'); // 6: delivered, pauses
  for (let index = 6; index <= 9; index++) setup.put(`s${index}`); // 7..10: the 4th overflows
  assert.equal(slow.errors.length, 1);
  const error = slow.errors[0]!;
  assert.equal(error.code, 'watch-too-slow');
  assert.equal(error.resumeRevision, 7);
  assert.match(error.message, /re-watch from revision 7/);
  assert.equal(setup.hub.size, 0);
  const resumed = setup.watch({ range: { prefix: utf8('s') }, fromRevision: error.resumeRevision! });
  setup.drain();
  assert.deepEqual([...slow.revisions, ...resumed.revisions], [1, 2, 3, 5, 6, 7, 8, 9, 10], 'no gap, no duplicate across the re-watch');
});

test('cancel stops delivery; close cancels every watch with a resume revision; limits on watchers', () => {
  const setup = new Setup({ maxWatchers: 2 });
  const first = setup.watch({ range: { key: utf8('a') } });
  const second = setup.watch({ range: { key: utf8('a') } });
  const third = setup.hub.watch({ range: { key: utf8('a') } }, () => undefined);
  assert.ok('code' in third && third.code === 'too-many-watchers');
  first.watch.cancel();
  setup.put('a');
  assert.deepEqual(first.revisions, []);
  assert.equal(first.errors.length, 0, 'an explicit cancel sends no error');
  setup.hub.close();
  assert.equal(second.errors[0]?.code, 'watch-cancelled');
  assert.equal(second.errors[0]?.resumeRevision, 2);
  setup.put('a');
  assert.deepEqual(second.revisions, [1]);
});

test('a throwing listener cancels only its own watch', () => {
  const setup = new Setup();
  const errors: KvError[] = [];
  const bad = setup.hub.watch({ range: { key: utf8('a') } }, (notice) => {
    if (notice.type === 'cancelled') errors.push(notice.error);
    else throw new Error('listener bug');
  });
  assert.ok(!('code' in bad));
  const good = setup.watch({ range: { key: utf8('a') } });
  setup.put('a');
  setup.put('a');
  assert.deepEqual(good.revisions, [1, 2]);
  assert.equal(errors[0]?.code, 'watch-cancelled');
  assert.equal(errors[0]?.resumeRevision, 1);
});

test('after a restore, live watchers catch up through the snapshot history', () => {
  const setup = new Setup();
  const { revisions } = setup.watch({ range: { prefix: utf8('k') } });
  setup.put('k1');
  const leader = openKvState();
  const leaderFeed = new EntryFeed();
  leader.state.apply([1, 2, 3, 4].map((index) => leaderFeed.command({ type: 'put', key: utf8(`k${index}`), value: utf8('v') })));
  setup.node.state.restore(leader.state.snapshot());
  setup.drain();
  assert.deepEqual(revisions, [1, 2, 3, 4]);
});
