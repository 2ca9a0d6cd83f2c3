import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupRegistry } from './cleanup.ts';
import { FaultTimeline, defineFault } from './fault-timeline.ts';

function recordingFault(name: string, log: string[], failOn?: 'start' | 'stop') {
  return defineFault(name, () => {
    if (failOn === 'start') throw new Error('boom');
    log.push(`start ${name}`);
  }, () => {
    if (failOn === 'stop') throw new Error('boom');
    log.push(`stop ${name}`);
  });
}

test('faults start at atMs and stop at atMs + durationMs, in time order', async () => {
  const log: string[] = [];
  const timeline = new FaultTimeline([
    { atMs: 60, durationMs: 40, fault: recordingFault('b', log) },
    { atMs: 0, durationMs: 50, fault: recordingFault('a', log) },
    { atMs: 50, durationMs: 0, fault: recordingFault('c', log) },
  ]);
  const events = await timeline.run();
  assert.deepEqual(log, ['start a', 'stop a', 'start c', 'stop c', 'start b', 'stop b']);
  const startB = events.find((event) => event.name === 'b' && event.kind === 'start')!;
  const stopB = events.find((event) => event.name === 'b' && event.kind === 'stop')!;
  // Both steps are scheduled on the timeline's clock (atMs, atMs + durationMs), so a late start
  // (a busy machine: CI once started b 13 ms late) does not move the stop.
  assert.ok(startB.atMs >= 55 && stopB.atMs >= 95, JSON.stringify(events));
});

test('an abort stops every started fault, and the run rejects', async () => {
  const log: string[] = [];
  const controller = new AbortController();
  const timeline = new FaultTimeline([
    { atMs: 0, durationMs: 10_000, fault: recordingFault('long', log) },
    { atMs: 5000, durationMs: 10, fault: recordingFault('never', log) },
  ]);
  setTimeout(() => controller.abort(), 30);
  await assert.rejects(timeline.run(controller.signal), { name: 'AbortError' });
  assert.deepEqual(log, ['start long', 'stop long']);
});

test('a failing start still stops what was started; a failing stop is reported after the others stop', async () => {
  const log: string[] = [];
  await assert.rejects(new FaultTimeline([
    { atMs: 0, durationMs: 1000, fault: recordingFault('ok', log) },
    { atMs: 10, durationMs: 1000, fault: recordingFault('bad', log, 'start') },
  ]).run(), /fault 'bad' start failed: boom/);
  assert.deepEqual(log, ['start ok', 'stop ok']);
  const more: string[] = [];
  const timeline = new FaultTimeline([
    { atMs: 0, durationMs: 5, fault: recordingFault('stuck', more, 'stop') },
    { atMs: 0, durationMs: 50, fault: recordingFault('fine', more) },
  ]);
  await assert.rejects(timeline.run(), /stuck' stop failed/);
  assert.deepEqual(more, ['start stuck', 'start fine', 'stop fine']);
  assert.equal(timeline.events().filter((event) => event.kind === 'error').length, 1);
});

test('defineFault is idempotent; the timeline validates its schedule', async () => {
  const log: string[] = [];
  const fault = recordingFault('x', log);
  await fault.stop();
  await fault.start();
  await fault.start();
  await fault.stop();
  await fault.stop();
  assert.deepEqual(log, ['start x', 'stop x']);
  assert.throws(() => new FaultTimeline([{ atMs: -1, durationMs: 1, fault }]), /atMs/);
});

test('the cleanup registry runs newest first, keeps going after a failure, and unregisters', async () => {
  const registry = new CleanupRegistry();
  const log: string[] = [];
  const action = (name: string, fail = false) => ({
    name,
    run: async () => {
      log.push(name);
      if (fail) throw new Error('cannot');
    },
    runSync: () => log.push(`sync ${name}`),
  });
  registry.add(action('first'));
  const remove = registry.add(action('removed'));
  registry.add(action('failing', true));
  registry.add(action('last'));
  remove();
  assert.deepEqual(registry.names(), ['first', 'failing', 'last']);
  assert.equal(await registry.runAll(), 1);
  assert.deepEqual(log, ['last', 'failing', 'first']);
  assert.equal(registry.size, 0);
  registry.add(action('a'));
  registry.add(action('b'));
  registry.runAllSync();
  assert.deepEqual(log.slice(3), ['sync b', 'sync a']);
});
