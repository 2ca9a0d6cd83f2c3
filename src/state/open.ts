// Opening a node's whole replicated state: one store (lmdb directory, or memory) shared by the
// KV, the member directory and (later) the Kafka log, under one applied index.
import { KvState } from './kv/kv-state.ts';
import type { KvResult, KvStateOptions } from './kv/kv-state.ts';
import { LmdbStore } from './lmdb-store.ts';
import { MemberDirectory } from './members/member-directory.ts';
import type { MembersResult } from './members/member-directory.ts';
import { MemoryStore } from './memory-store.ts';
import { ReplicatedState } from './replicated-state.ts';
import type { StateModule } from './replicated-state.ts';
import type { OrderedStore } from './store.ts';

export type NodeResult = KvResult | MembersResult;

export interface NodeState {
  readonly state: ReplicatedState<NodeResult>;
  readonly kv: KvState;
  readonly members: MemberDirectory;
}

export interface OpenNodeStateOptions extends KvStateOptions {
  /** lmdb environment directory; omitted = in memory. */
  readonly path?: string;
  readonly mapSizeBytes?: number;
}

export function openNodeState(options: OpenNodeStateOptions = {}): NodeState {
  const kv = new KvState(options);
  const members = new MemberDirectory();
  const modules: StateModule<NodeResult>[] = [kv, members];
  const tableNames = ReplicatedState.tableNames(modules);
  const store: OrderedStore = options.path === undefined
    ? new MemoryStore(tableNames)
    : new LmdbStore(options.mapSizeBytes === undefined ? { path: options.path, tableNames } : { path: options.path, tableNames, mapSizeBytes: options.mapSizeBytes });
  return { state: new ReplicatedState(store, modules), kv, members };
}
