// Snapshots in parts, without sockets: the sender's frames through the send queue, the
// receiver's joining of them, and its refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../core/raft/types.ts';
import { DEFAULT_MESSAGE_LIMITS } from '../codec/message-wire.ts';
import { WireError } from '../codec/wire-reader.ts';
import { appendMessage, snapshotMessage } from '../testing/conformance.ts';
import { decodeFrame, encodeRaft } from './frames.ts';
import type { Frame, SnapshotPartFrame } from './frames.ts';
import { SendQueue } from './send-queue.ts';
import { OutgoingSnapshot, SnapshotAssembler } from './snapshot-parts.ts';

const CONTEXT = { peerId: 1, localId: 2, limits: DEFAULT_MESSAGE_LIMITS };

function decode(frame: Buffer): Frame {
  return decodeFrame(new Uint8Array(frame.buffer, frame.byteOffset + 4, frame.length - 4), CONTEXT);
}

function randomSnapshot(dataBytes: number): Message {
  const message = snapshotMessage(1, 2, dataBytes);
  const data = message.snapshot!.data as Uint8Array;
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >>> 8)) & 0xff;
  return message;
}

/** Feeds decoded frames to an assembler the way an inbound connection does. */
function receive(frames: Frame[], assembler: SnapshotAssembler): Message[] {
  const messages: Message[] = [];
  for (const frame of frames) {
    if (frame.kind === 'snapshot-part') assembler.add(frame);
    else if (frame.kind === 'raft') messages.push(assembler.complete(frame.message));
    else assert.fail(`unexpected ${frame.kind} frame`);
  }
  return messages;
}

function assertRejects(action: () => void, code: string): void {
  assert.throws(action, (error: unknown) => error instanceof WireError && error.code === code);
}

test('a snapshot leaves in parts between the messages around it, in order, and arrives whole', () => {
  const snapshot = randomSnapshot(10_000);
  const queue = new SendQueue(100, 1 << 20);
  queue.push({ frame: encodeRaft(appendMessage(1, 2, 1)), isMessage: true, isSnapshot: false, requestId: 0 });
  queue.push({ frame: Buffer.alloc(0), parts: { snapshot: new OutgoingSnapshot(snapshot, 3000), partBytes: 3000 }, isMessage: true, isSnapshot: true, requestId: 0 });
  queue.push({ frame: encodeRaft(appendMessage(1, 2, 2)), isMessage: true, isSnapshot: false, requestId: 0 });
  // The parts item counts as one part, so messages behind it are still admitted.
  assert.equal(queue.bytes, encodeRaft(appendMessage(1, 2, 1)).length * 2 + 3000);

  const batches = [];
  while (queue.count > 0) batches.push(queue.takeBatch(1 << 20, () => true));
  // The append alone (the parts item stops the batch), 4 parts, the snapshot message, the append.
  assert.deepEqual(batches.map((batch) => [batch.frames.length, batch.messages, batch.snapshots]), [
    [1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0],
  ]);
  assert.equal(queue.bytes, 0);
  const frames = batches.flatMap((batch) => batch.frames).map(decode);
  assert.deepEqual(frames.map((frame) => frame.kind), ['raft', 'snapshot-part', 'snapshot-part', 'snapshot-part', 'snapshot-part', 'raft', 'raft']);
  assert.deepEqual(frames.filter((frame) => frame.kind === 'snapshot-part').map((frame) => (frame as SnapshotPartFrame).offset), [0, 3000, 6000, 9000]);

  const messages = receive(frames, new SnapshotAssembler(1 << 20));
  assert.deepEqual(messages.map((message) => message.type), ['append', 'snapshot', 'append']);
  assert.deepEqual(messages[1], { ...snapshot, snapshot: { metadata: snapshot.snapshot!.metadata, data: Uint8Array.from(snapshot.snapshot!.data) } });
});

test('a snapshot message without parts before it passes unchanged', () => {
  const snapshot = snapshotMessage(1, 2, 100);
  assert.equal(new SnapshotAssembler(1000).complete(snapshot), snapshot);
});

test('the receiver refuses parts out of order, too large in total, or missing', () => {
  const part = (totalBytes: number, offset: number, length: number): SnapshotPartFrame =>
    ({ kind: 'snapshot-part', totalBytes, offset, bytes: new Uint8Array(length).fill(1) });
  const emptyData = (() => {
    const message = snapshotMessage(1, 2, 0);
    return message;
  })();

  assertRejects(() => new SnapshotAssembler(1000).add(part(1001, 0, 10)), 'FRAME_TOO_LARGE');
  assertRejects(() => new SnapshotAssembler(1000).add(part(100, 10, 10)), 'FRAME_MALFORMED'); // no beginning
  const gap = new SnapshotAssembler(1000);
  gap.add(part(100, 0, 10));
  assertRejects(() => gap.add(part(100, 20, 10)), 'FRAME_MALFORMED');
  const otherTotal = new SnapshotAssembler(1000);
  otherTotal.add(part(100, 0, 10));
  assertRejects(() => otherTotal.add(part(200, 10, 10)), 'FRAME_MALFORMED');
  assertRejects(() => new SnapshotAssembler(1000).add(part(100, 0, 101)), 'FRAME_MALFORMED'); // beyond its total
  assertRejects(() => new SnapshotAssembler(1000).add(part(100, 0, 0)), 'FRAME_MALFORMED');
  const short = new SnapshotAssembler(1000);
  short.add(part(100, 0, 60));
  assertRejects(() => short.complete(emptyData), 'FRAME_MALFORMED');
  const withData = new SnapshotAssembler(1000);
  withData.add(part(100, 0, 100));
  assertRejects(() => withData.complete(snapshotMessage(1, 2, 5)), 'FRAME_MALFORMED');

  // A new beginning replaces a transfer that was abandoned.
  const restarted = new SnapshotAssembler(1000);
  restarted.add(part(100, 0, 50));
  restarted.add(part(20, 0, 20));
  assert.equal(restarted.complete(emptyData).snapshot!.data.byteLength, 20);
  assert.equal(restarted.bufferedBytes, 0);
});
