// Linearizable reads without a log entry (ReadIndex, Raft thesis §6.4): the leader records its
// commit index when the read arrives, confirms it is still the leader with a heartbeat round,
// and then lets the read proceed once the state machine has applied up to that index.
import type { Message, NodeId } from '../types.ts';
import type { Raft } from './raft.ts';
import { bcastHeartbeat } from './replication.ts';

/** A leader serves reads only after committing an entry of its own term (it then knows the true commit index). */
function committedEntryInCurrentTerm(raft: Raft): boolean {
  return raft.log.term(raft.log.committed) === raft.term;
}

/** Handles a read request from this node (message.from === raft.id) or a follower; leader only. */
export function handleReadIndex(raft: Raft, message: Message): boolean {
  const context = message.context ?? new Uint8Array(0);
  if (!committedEntryInCurrentTerm(raft)) {
    if (raft.pendingReadIndexMessages.length >= raft.config.readIndexRequestsMax) return false;
    raft.pendingReadIndexMessages.push(message);
    return true;
  }
  return confirmWithHeartbeat(raft, message.from, context);
}

function confirmWithHeartbeat(raft: Raft, from: NodeId, context: Uint8Array): boolean {
  if (raft.config.injectedBugs.has('read-without-quorum')) {
    // Injected bug: serve the read without confirming leadership, so a deposed leader that has
    // not noticed yet (partitioned, paused) answers with stale state.
    answer(raft, from, raft.log.committed, context);
    return true;
  }
  // With this node as the only voter there is nobody to confirm leadership with.
  if (raft.tracker.isSingleton() && raft.tracker.config.voters.incoming.has(raft.id)) {
    answer(raft, from, raft.log.committed, context);
    return true;
  }
  if (!raft.readOnly.add(raft.log.committed, from, context)) return false;
  raft.readOnly.recordAck(raft.id, context);
  bcastHeartbeat(raft, context);
  return true;
}

export function releasePendingReadIndexMessages(raft: Raft): void {
  if (raft.pendingReadIndexMessages.length === 0 || !committedEntryInCurrentTerm(raft)) return;
  const pending = raft.pendingReadIndexMessages;
  raft.pendingReadIndexMessages = [];
  for (const message of pending) confirmWithHeartbeat(raft, message.from, message.context ?? new Uint8Array(0));
}

/** A heartbeat response carried a read context: answer every read a quorum has now confirmed. */
export function answerConfirmedReads(raft: Raft, from: NodeId, context: Uint8Array): void {
  const acks = raft.readOnly.recordAck(from, context);
  if (acks === undefined || raft.tracker.config.voters.voteResult(acks) !== 'won') return;
  for (const request of raft.readOnly.advance(context)) answer(raft, request.from, request.index, request.context);
}

function answer(raft: Raft, to: NodeId, index: number, context: Uint8Array): void {
  if (to === raft.id) raft.readStates.push({ index, context });
  else raft.send({ type: 'read-index-response', to, index, context });
}

/** A follower receives the leader's answer to a read it forwarded. */
export function handleReadIndexResponse(raft: Raft, message: Message): void {
  raft.readStates.push({ index: message.index, context: message.context ?? new Uint8Array(0) });
}
