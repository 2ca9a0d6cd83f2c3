// The JSON shapes of the HTTP API (docs/http-api.md), shared by the server and src/client. Keys
// and values travel as strings: UTF-8 text by default, base64 with `?encoding=base64`. A key
// value pair whose bytes are not valid UTF-8 is sent in base64 even in text mode, and says so
// with `encoding: "base64"`, so no byte is ever lost.

export type WireEncoding = 'utf8' | 'base64';

export interface WireKeyValue {
  readonly key: string;
  /** Omitted for keysOnly scans. */
  readonly value?: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** 0 = no lease. */
  readonly lease: number;
  /** Present (always "base64") when this pair is base64 although the request asked for text. */
  readonly encoding?: 'base64';
}

/** Every error answer: a stable code, a message for people, and details for some codes. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  /** Whether the same request may be retried as is (possibly on another node). */
  readonly retryable?: boolean;
  /** For not-leader / no-leader: who leads, when known. */
  readonly leaderId?: number;
  /** The leader's client (HTTP) address, when known. */
  readonly leaderEndpoint?: string;
  readonly compactRevision?: number;
  readonly currentRevision?: number;
  readonly resumeRevision?: number;
  /** For compare-failed: the store's revision and the key's current state (null: absent). */
  readonly revision?: number;
  readonly kv?: WireKeyValue | null;
}

export interface WireGetResponse {
  readonly revision: number;
  readonly kv: WireKeyValue;
}

export interface WirePutRequest {
  readonly value: string;
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Conditional put: all given expectations must hold, else 409 compare-failed. */
  readonly expectValue?: string;
  /** 0 = the key must not exist. */
  readonly expectModRevision?: number;
  readonly expectVersion?: number;
  readonly expectAbsent?: boolean;
}

export interface WirePutResponse {
  readonly revision: number;
  readonly prevKv?: WireKeyValue;
  /** Present for conditional puts (always true in a 200 answer). */
  readonly succeeded?: boolean;
}

export interface WireDeleteResponse {
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: readonly WireKeyValue[];
  readonly succeeded?: boolean;
}

export interface WireRangeResponse {
  readonly revision: number;
  readonly kvs: readonly WireKeyValue[];
  readonly more: boolean;
  readonly continuation?: string;
  readonly count?: number;
}

/** One of key, prefix, or start (with an optional exclusive end). */
export interface WireRange {
  readonly key?: string;
  readonly prefix?: string;
  readonly start?: string;
  readonly end?: string;
}

export type WireCompareTarget = 'value' | 'version' | 'createRevision' | 'modRevision' | 'lease' | 'exists';

export interface WireCompare {
  readonly key: string;
  readonly target: WireCompareTarget;
  /** Default "=". */
  readonly operator?: '=' | '!=' | '<' | '>';
  readonly value: string | number | boolean;
}

export type WireTxnOperation =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: number; readonly prevKv?: boolean }
  | (WireRange & { readonly type: 'delete'; readonly prevKv?: boolean })
  | (WireRange & {
      readonly type: 'range' | 'get';
      readonly limit?: number;
      readonly revision?: number;
      readonly keysOnly?: boolean;
      readonly countOnly?: boolean;
    });

export interface WireTxnRequest {
  readonly compare?: readonly WireCompare[];
  readonly success?: readonly WireTxnOperation[];
  readonly failure?: readonly WireTxnOperation[];
}

export type WireTxnResult =
  | { readonly type: 'put'; readonly revision: number; readonly prevKv?: WireKeyValue }
  | { readonly type: 'delete'; readonly revision: number; readonly deleted: number; readonly prevKvs?: readonly WireKeyValue[] }
  | ({ readonly type: 'range' } & WireRangeResponse)
  | { readonly type: 'error'; readonly revision: number; readonly error: WireError };

export interface WireTxnResponse {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly results: readonly WireTxnResult[];
}

export interface WireCompactResponse {
  readonly revision: number;
  readonly compactRevision: number;
}

// ---- watch (Server-Sent Events) ----

export interface WireWatchCreated {
  readonly watchId: number;
  readonly nodeId: number;
  /** The first revision this stream delivers. */
  readonly fromRevision: number;
  readonly currentRevision: number;
}

export interface WireWatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: WireKeyValue;
  readonly prevKv?: WireKeyValue;
}

export interface WireWatchProgress {
  /** Every change up to this revision has been delivered. */
  readonly revision: number;
}

// ---- leases ----

export interface WireLeaseGrantResponse {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly revision: number;
}

export interface WireLeaseKeepAliveResponse {
  readonly id: number;
  readonly ttlSeconds: number;
}

export interface WireLeaseRevokeResponse {
  readonly id: number;
  readonly revision: number;
  readonly deleted: number;
}

export interface WireLease {
  readonly id: number;
  readonly ttlSeconds: number;
  /** Milliseconds left (the leader's clock); null when the answering node could not tell. */
  readonly remainingMs: number | null;
  /** With ?keys=true: up to 1000 attached keys. */
  readonly keys?: readonly string[];
}

export interface WireLeaseList {
  readonly leases: readonly { readonly id: number; readonly ttlSeconds: number }[];
}

// ---- cluster ----

export type WireMembership = 'voter' | 'learner' | 'voter-outgoing' | 'voter-incoming' | 'none';

export interface WireMemberAddresses {
  readonly peer: string;
  readonly client: string;
  readonly kafka?: string;
  readonly name?: string;
  readonly autoPromote?: boolean;
}

export interface WireProgress {
  readonly match: number;
  readonly next: number;
  readonly state: string;
  /** Entries the member is behind the leader's last index. */
  readonly lagEntries: number;
  readonly recentActive: boolean;
  readonly paused: boolean;
  readonly pendingSnapshot: number;
}

/** What one node says about itself (GET /v1/cluster?scope=local). */
export interface WireNodeStatus {
  readonly nodeId: number;
  readonly name?: string;
  readonly clusterId: string | null;
  readonly phase: 'uninitialized' | 'initializing' | 'running' | 'stopping' | 'failed';
  readonly role: string | null;
  readonly term: number;
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly isLearner: boolean;
  readonly revision: number;
  readonly compactRevision: number;
  readonly pendingProposals: number;
  readonly pendingReads: number;
  readonly watchers: number;
  readonly peerAddress: string | null;
  readonly clientAddress: string;
  readonly failure?: string;
}

export interface WireMember extends WireMemberAddresses {
  readonly id: number;
  readonly membership: WireMembership;
  readonly isLeader: boolean;
  /** The leader's view of this member's replication (absent when no leader answered). */
  readonly progress?: WireProgress;
  /** What the member said about itself; absent with scope=local or when it did not answer. */
  readonly status?: WireNodeStatus;
  /** Why the member's own status is missing. */
  readonly statusError?: string;
  /** Reachable, knows the leader, and (per the leader) close behind it. */
  readonly healthy?: boolean;
}

export interface WireClusterConfig {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly votersOutgoing: readonly number[];
  readonly learnersNext: readonly number[];
  readonly joint: boolean;
}

export interface WireClusterStatus {
  readonly clusterId: string | null;
  readonly leaderId: number;
  readonly term: number;
  readonly config: WireClusterConfig;
  readonly members: readonly WireMember[];
  /** The node that answered. */
  readonly node: WireNodeStatus;
}

export interface WireMemberChange {
  readonly action: 'add-voter' | 'add-learner' | 'remove';
  readonly nodeId: number;
  /** Addresses of a node being added (needed unless it is already known). */
  readonly peer?: string;
  readonly client?: string;
  readonly kafka?: string;
  readonly name?: string;
  readonly autoPromote?: boolean;
}

export interface WireMembershipRequest {
  readonly changes: readonly WireMemberChange[];
  /** 'auto' (default): leave a joint configuration automatically; 'explicit': wait for an empty change. */
  readonly transition?: 'auto' | 'explicit';
}

export interface WireMembershipResponse {
  readonly config: WireClusterConfig;
}

export interface WireInitRequest {
  readonly clusterId?: string;
}

export interface WireInitResponse {
  readonly clusterId: string;
  readonly nodeId: number;
}

export interface WireJoinRequest extends WireMemberAddresses {
  readonly nodeId: number;
  readonly timestampMs: number;
  /** hex HMAC-SHA256 of the join transcript with the cluster secret (see join-proof.ts). */
  readonly proof: string;
}

export interface WireJoinResponse {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly members: readonly (WireMemberAddresses & { readonly id: number })[];
}

export interface WireHealth {
  readonly status: 'ok' | 'failed';
  readonly nodeId: number;
  readonly phase: WireNodeStatus['phase'];
  readonly uptimeSeconds: number;
}

export interface WireReady {
  readonly ready: boolean;
  readonly nodeId: number;
  readonly leaderId: number;
  readonly appliedIndex: number;
  readonly commitIndex: number;
  /** Why not ready (code of the failed check). */
  readonly reason?: string;
  readonly message?: string;
}

/** The prefix of a cluster ticket: `cairn1.` + base64url(JSON of WireTicket). */
export const TICKET_PREFIX = 'cairn1.';

export interface WireTicket {
  readonly clusterId: string;
  readonly endpoints: readonly string[];
}
