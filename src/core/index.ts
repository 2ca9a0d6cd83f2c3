// The public API of the Raft core. Code outside src/core imports from here only.
export * from './types.ts';
export { InvariantError, assert } from './assert.ts';
export type { LogStorage } from './raft/storage.ts';
export { MemoryLogStorage, limitEntriesBySize } from './raft/storage.ts';
export { RawNode, leaderMaySendEarly } from './raft/raw-node.ts';
export type { ProposeResult, RequestResult, Refusal } from './raft/raft.ts';
export { RaftConfigError, INJECTED_RAFT_BUGS } from './raft/config.ts';
export type { RaftConfig, RaftLogger, InjectedRaftBug } from './raft/config.ts';
export type { RaftStatus, ProgressStatus } from './raft/status.ts';
export { encodeConfChange, decodeConfChange } from './confchange/codec.ts';
export { MajorityConfig } from './quorum/majority.ts';
export { JointConfig } from './quorum/joint.ts';
