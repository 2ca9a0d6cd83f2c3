// Opening the node's replicated state with the KV module: on lmdb (a directory) for real nodes,
// or in memory for the simulator and fast tests. Both run the same KvState code.
import { LmdbStore } from '../lmdb-store.ts';
import { MemoryStore } from '../memory-store.ts';
import { ReplicatedState } from '../replicated-state.ts';
import type { UnknownCommandResult } from '../replicated-state.ts';
import type { OrderedStore } from '../store.ts';
import { KvState } from './kv-state.ts';
import type { KvResult, KvStateOptions } from './kv-state.ts';

export type KvApplyResult = KvResult | UnknownCommandResult;

export interface KvNodeState {
  /** The StateMachine the runtime drives (apply, snapshot, restore, durability). */
  readonly state: ReplicatedState<KvResult>;
  /** The KV's read API and change notifications. */
  readonly kv: KvState;
}

export interface OpenKvStateOptions extends KvStateOptions {
  /** lmdb environment directory; omitted = in memory. */
  readonly path?: string;
  readonly mapSizeBytes?: number;
}

export function openKvState(options: OpenKvStateOptions = {}): KvNodeState {
  const kv = new KvState(options);
  const tableNames = ReplicatedState.tableNames([kv]);
  const store: OrderedStore = options.path === undefined
    ? new MemoryStore(tableNames)
    : new LmdbStore(options.mapSizeBytes === undefined ? { path: options.path, tableNames } : { path: options.path, tableNames, mapSizeBytes: options.mapSizeBytes });
  return { state: new ReplicatedState(store, [kv]), kv };
}
