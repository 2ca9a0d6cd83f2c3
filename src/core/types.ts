// The data types of the Raft core: what goes into the log, what is persisted, what travels
// between peers and what the application receives. Plain objects only, so any layer can
// serialize them (msgpack on the wire, the WAL on disk) without knowing the core.

/** A node id. 0 is never a valid id; it means "no node" (no vote, no known leader). */
export type NodeId = number;
export const NO_NODE: NodeId = 0;

export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** For 'normal': application bytes (empty for the leader's no-op). For 'conf-change': an encoded ConfChange. */
  readonly data: Uint8Array;
}

/** What must be durable before this node says anything that depends on it. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** The membership of the cluster. In a joint configuration `votersOutgoing` is non-empty. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** The old voter set while in a joint configuration; empty otherwise. */
  readonly votersOutgoing: readonly NodeId[];
  /** Voters that become learners when the joint configuration is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The application's state at metadata.index, opaque to the core. */
  readonly data: Uint8Array;
}

export type ConfChangeAction = 'add-voter' | 'add-learner' | 'remove';

export interface ConfChangeSingle {
  readonly action: ConfChangeAction;
  readonly nodeId: NodeId;
}

/**
 * A membership change. Zero changes means "leave the joint configuration". One change that does
 * not affect voters is applied directly; anything else enters a joint configuration.
 * `transition` forces the choice: 'auto' (default) leaves joint automatically once committed,
 * 'explicit' waits for an empty change, 'implicit' behaves like 'auto'.
 */
export interface ConfChange {
  readonly changes: readonly ConfChangeSingle[];
  readonly transition?: 'auto' | 'explicit' | 'joint-implicit';
  /** Opaque application context carried with the change (for example the new member's address). */
  readonly context?: Uint8Array;
}

export type MessageType =
  | 'append'
  | 'append-response'
  | 'vote'
  | 'vote-response'
  | 'pre-vote'
  | 'pre-vote-response'
  | 'heartbeat'
  | 'heartbeat-response'
  | 'snapshot'
  | 'timeout-now'
  | 'read-index'
  | 'read-index-response';

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** append: term of the entry at `index`. vote/pre-vote: the candidate's last log term. append-response reject: term hint. */
  readonly logTerm: number;
  /** append: index preceding `entries`. vote: candidate's last index. append-response: last matched index (or rejected index). read-index-response: the read index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** append-response reject: the follower's hint of where the leader should probe next. */
  readonly rejectHint: number;
  readonly snapshot: Snapshot | undefined;
  /** heartbeat / read-index: the read request context. vote: campaign reason ('transfer'). */
  readonly context: Uint8Array | undefined;
}

export type RoleName = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** A linearizable read that may proceed once the application has applied up to `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/** The soft state: changes often, never persisted. */
export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: RoleName;
}

/**
 * Everything the application must act on, in this order: persist `snapshot`, `entries` and
 * `hardState` (fsync if `mustSync`), then send `messages`, then apply `committedEntries`, answer
 * `readStates` once applied up to their index, then call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}

export function isEmptyHardState(state: HardState): boolean {
  return state.term === 0 && state.vote === NO_NODE && state.commit === 0;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };

export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** Builds a message with every optional field at its neutral value. */
export function makeMessage(fields: Pick<Message, 'type' | 'from' | 'to' | 'term'> & Partial<Message>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: undefined,
    context: undefined,
    ...fields,
  };
}

/** Messages that carry a request for votes (real or pre-). */
export function isVoteRequest(type: MessageType): boolean {
  return type === 'vote' || type === 'pre-vote';
}

export function isResponse(type: MessageType): boolean {
  return type.endsWith('-response');
}

export function entrySizeBytes(entry: Entry): number {
  // The data dominates; a fixed overhead stands for term, index and type on the wire.
  return entry.data.byteLength + 24;
}
