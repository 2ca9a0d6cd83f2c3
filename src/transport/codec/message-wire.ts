// Raft messages on the wire (protocol version 1): one positional msgpack array per message, so
// no field names travel and both ends agree on the layout through the handshake's version.
//
//   [FRAME_RAFT, type, from, to, term, logTerm, index, entries, commit, reject, rejectHint,
//    snapshot, context]
//   entries  = flat [term, index, entryType, data, term, index, entryType, data, ...]
//   snapshot = null | [index, term, voters, learners, votersOutgoing, learnersNext, autoLeave, data]
//   context  = null | bin
//
// Extra trailing elements are ignored, so a later minor version may append fields without
// breaking older readers; anything else needs a new protocol version.
import type { ConfState, Entry, EntryType, Message, MessageType, NodeId, Snapshot } from '../../core/raft/types.ts';
import { FRAME_RAFT } from './frame-kinds.ts';
import {
  readArray,
  readBoolean,
  readBytes,
  readCount,
  readNodeId,
  readNodeIds,
  readOptionalBytes,
  reject,
} from './wire-reader.ts';

/** Wire codes of MessageType: the index in this list. Append only. */
export const MESSAGE_TYPE_CODES: readonly MessageType[] = [
  'append',
  'append-response',
  'vote',
  'vote-response',
  'pre-vote',
  'pre-vote-response',
  'heartbeat',
  'heartbeat-response',
  'snapshot',
  'timeout-now',
  'read-index',
  'read-index-response',
];

const ENTRY_TYPE_CODES: readonly EntryType[] = ['normal', 'conf-change'];
const TYPE_CODE_BY_NAME = new Map(MESSAGE_TYPE_CODES.map((type, code) => [type, code]));
const ENTRY_FIELDS = 4;
const MESSAGE_FIELDS = 13;
/** More members than this in one configuration is not a configuration, it is an attack. */
const MAX_MEMBERS = 10_000;

export interface MessageLimits {
  /** Entries per decoded message; keep above what the core's bytes-per-message limit allows. */
  readonly maxEntriesPerMessage: number;
}

export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxEntriesPerMessage: 1_000_000 };

export function encodeMessageWire(message: Message): unknown[] {
  const typeCode = TYPE_CODE_BY_NAME.get(message.type);
  if (typeCode === undefined) throw new TypeError(`cannot encode a message of unknown type ${String(message.type)}`);
  const entries = message.entries;
  const flat = new Array<unknown>(entries.length * ENTRY_FIELDS);
  for (let i = 0, j = 0; i < entries.length; i++, j += ENTRY_FIELDS) {
    const entry = entries[i]!;
    flat[j] = entry.term;
    flat[j + 1] = entry.index;
    flat[j + 2] = entry.type === 'normal' ? 0 : 1;
    flat[j + 3] = entry.data;
  }
  return [
    FRAME_RAFT, typeCode, message.from, message.to, message.term, message.logTerm, message.index, flat,
    message.commit, message.reject, message.rejectHint,
    message.snapshot === undefined ? null : encodeSnapshot(message.snapshot),
    message.context ?? null,
  ];
}

/** msgpack's largest encoding of one integer, boolean or null (a uint64 or float64: 9 bytes). */
const MAX_SCALAR_BYTES = 9;
/** The largest header of a msgpack array or bin (array32 / bin32). */
const MAX_HEADER_BYTES = 5;

/**
 * An upper bound of the bytes encodeMessageWire(message) packs into, so that a large message
 * can be packed into one buffer of its size (packFrame's `payloadBytesAtMost`).
 */
export function messageWireBytesAtMost(message: Message): number {
  let bytes = MAX_HEADER_BYTES + MESSAGE_FIELDS * MAX_SCALAR_BYTES + 3 * MAX_HEADER_BYTES;
  bytes += message.entries.length * (3 * MAX_SCALAR_BYTES + MAX_HEADER_BYTES);
  for (const entry of message.entries) bytes += entry.data.byteLength;
  if (message.context !== undefined) bytes += message.context.byteLength;
  const snapshot = message.snapshot;
  if (snapshot !== undefined) {
    const { voters, learners, votersOutgoing, learnersNext } = snapshot.metadata.confState;
    const members = voters.length + learners.length + votersOutgoing.length + learnersNext.length;
    bytes += 8 * (MAX_HEADER_BYTES + MAX_SCALAR_BYTES) + members * MAX_SCALAR_BYTES + snapshot.data.byteLength;
  }
  return bytes;
}

function encodeSnapshot(snapshot: Snapshot): unknown[] {
  const { index, term, confState } = snapshot.metadata;
  return [
    index, term, confState.voters, confState.learners, confState.votersOutgoing, confState.learnersNext,
    confState.autoLeave, snapshot.data,
  ];
}

/** Who a decoded message must come from and be addressed to (from the connection's handshake). */
export interface MessageExpectation {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** Validates every field of a raft frame's array and builds a fresh Message. Throws WireError. */
export function decodeMessageWire(wire: unknown, expected: MessageExpectation, limits: MessageLimits): Message {
  const fields = readArray(wire, 'message', MESSAGE_FIELDS, Number.MAX_SAFE_INTEGER);
  if (fields[0] !== FRAME_RAFT) reject('MESSAGE_INVALID', 'message: not a raft frame');
  const type = MESSAGE_TYPE_CODES[readCount(fields[1], 'message.type')];
  if (type === undefined) reject('MESSAGE_INVALID', `message.type: unknown code ${String(fields[1])}`);
  const from = readNodeId(fields[2], 'message.from');
  const to = readNodeId(fields[3], 'message.to');
  if (from !== expected.from) reject('MESSAGE_WRONG_SENDER', `message from node ${from} on the connection of node ${expected.from}`);
  if (to !== expected.to) reject('MESSAGE_WRONG_SENDER', `message to node ${to} arrived at node ${expected.to}`);
  const snapshot = fields[11] === null ? undefined : decodeSnapshot(fields[11]);
  if (type === 'snapshot' && snapshot === undefined) reject('MESSAGE_INVALID', 'message: a snapshot message without a snapshot');
  return {
    type,
    from,
    to,
    term: readCount(fields[4], 'message.term'),
    logTerm: readCount(fields[5], 'message.logTerm'),
    index: readCount(fields[6], 'message.index'),
    entries: decodeEntries(fields[7], limits),
    commit: readCount(fields[8], 'message.commit'),
    reject: readBoolean(fields[9], 'message.reject'),
    rejectHint: readCount(fields[10], 'message.rejectHint'),
    snapshot,
    context: readOptionalBytes(fields[12], 'message.context'),
  };
}

function decodeEntries(value: unknown, limits: MessageLimits): Entry[] {
  const flat = readArray(value, 'message.entries', 0, limits.maxEntriesPerMessage * ENTRY_FIELDS);
  if (flat.length % ENTRY_FIELDS !== 0) reject('MESSAGE_INVALID', 'message.entries: not a whole number of entries');
  const entries = new Array<Entry>(flat.length / ENTRY_FIELDS);
  for (let i = 0, j = 0; j < flat.length; i++, j += ENTRY_FIELDS) {
    const type = ENTRY_TYPE_CODES[readCount(flat[j + 2], 'entry.type')];
    if (type === undefined) reject('MESSAGE_INVALID', `entry.type: unknown code ${String(flat[j + 2])}`);
    entries[i] = {
      term: readCount(flat[j], 'entry.term'),
      index: readCount(flat[j + 1], 'entry.index'),
      type,
      data: readBytes(flat[j + 3], 'entry.data'),
    };
  }
  return entries;
}

function decodeSnapshot(value: unknown): Snapshot {
  const fields = readArray(value, 'message.snapshot', 8, Number.MAX_SAFE_INTEGER);
  const confState: ConfState = {
    voters: readNodeIds(fields[2], 'snapshot.voters', MAX_MEMBERS),
    learners: readNodeIds(fields[3], 'snapshot.learners', MAX_MEMBERS),
    votersOutgoing: readNodeIds(fields[4], 'snapshot.votersOutgoing', MAX_MEMBERS),
    learnersNext: readNodeIds(fields[5], 'snapshot.learnersNext', MAX_MEMBERS),
    autoLeave: readBoolean(fields[6], 'snapshot.autoLeave'),
  };
  return {
    metadata: { index: readCount(fields[0], 'snapshot.index'), term: readCount(fields[1], 'snapshot.term'), confState },
    data: readBytes(fields[7], 'snapshot.data'),
  };
}

/** Rough wire size of a message, for byte counters where nothing is encoded (memory transport). */
export function estimateMessageBytes(message: Message): number {
  let bytes = 48 + (message.context?.byteLength ?? 0);
  for (const entry of message.entries) bytes += entry.data.byteLength + 16;
  if (message.snapshot !== undefined) bytes += message.snapshot.data.byteLength + 64;
  return bytes;
}
