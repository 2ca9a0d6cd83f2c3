// A follower's handling of what the leader sends: entries, heartbeats and snapshots.
import { restore as restoreConfig } from '../confchange/changer.ts';
import type { Message, Snapshot } from '../types.ts';
import { switchToConfig } from './membership.ts';
import type { Raft } from './raft.ts';

export function handleAppendEntries(raft: Raft, message: Message): void {
  const { log } = raft;
  if (message.index < log.committed) {
    // Everything up to our commit index is already settled; tell the leader where we are.
    raft.send({ type: 'append-response', to: message.from, index: log.committed });
    return;
  }
  if (raft.config.injectedBugs.has('accept-append-without-match') && message.entries.length > 0 && message.index <= log.lastIndex() && !log.matchTerm(message.index, message.logTerm)) {
    acceptWithoutMatch(raft, message);
    return;
  }
  const lastNewIndex = log.maybeAppend(message.index, message.logTerm, message.commit, message.entries);
  if (lastNewIndex !== undefined) {
    raft.send({ type: 'append-response', to: message.from, index: lastNewIndex });
    return;
  }
  // Reject, with a hint: the last index at or below the leader's probe whose term is not
  // greater than the leader's term there. The leader can skip straight past conflicting terms.
  const hint = log.findConflictByTerm(Math.min(message.index, log.lastIndex()), message.logTerm);
  raft.send({ type: 'append-response', to: message.from, index: message.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
}

/** Injected bug: take the leader's entries without checking that the previous entry matches. */
function acceptWithoutMatch(raft: Raft, message: Message): void {
  const { log } = raft;
  const entries = message.entries.filter((entry) => entry.index > log.committed);
  if (entries.length > 0) log.append(entries);
  const lastNewIndex = message.index + message.entries.length;
  log.commitTo(Math.min(message.commit, lastNewIndex));
  raft.send({ type: 'append-response', to: message.from, index: lastNewIndex });
}

export function handleHeartbeat(raft: Raft, message: Message): void {
  raft.log.commitTo(message.commit);
  raft.send({ type: 'heartbeat-response', to: message.from, context: message.context });
}

export function handleSnapshot(raft: Raft, message: Message): void {
  const snapshot = message.snapshot;
  if (snapshot === undefined) return;
  if (restoreSnapshot(raft, snapshot)) {
    raft.config.logger?.info(`node ${raft.id} restored snapshot at ${snapshot.metadata.index} (term ${snapshot.metadata.term})`);
    raft.send({ type: 'append-response', to: message.from, index: raft.log.lastIndex() });
  } else {
    raft.send({ type: 'append-response', to: message.from, index: raft.log.committed });
  }
}

/** Installs a snapshot from the leader. Returns false when it brings nothing new. */
function restoreSnapshot(raft: Raft, snapshot: Snapshot): boolean {
  const { index, term, confState } = snapshot.metadata;
  if (index <= raft.log.committed) return false;
  if (raft.role !== 'follower') return false;
  // A snapshot may predate this node's own addition (a new learner gets the leader's latest
  // snapshot, which can be older than the change that added it). Take it anyway: the entries
  // after it, which the leader sends next, carry the change that makes this node a member.
  if (raft.log.matchTerm(index, term)) {
    // Our log already has the snapshot's last entry: just fast-forward the commit index.
    raft.log.commitTo(index);
    return false;
  }
  raft.log.restore(snapshot);
  switchToConfig(raft, restoreConfig(raft.tracker, confState, raft.log.lastIndex()));
  raft.configIndex = index;
  return true;
}
