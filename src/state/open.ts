// Opening a node's whole replicated state: one store (lmdb directory, or memory) shared by the
// KV, the Kafka log and the member directory, under one applied index. On disk the store is an
// OverlayStore over lmdb: applies go to memory and reach lmdb in one transaction every 100 ms,
// off the event loop (overlay-store.ts says why and what it costs).
import { KvState } from './kv/kv-state.ts';
import type { KvResult, KvStateOptions } from './kv/kv-state.ts';
import { LmdbStore } from './lmdb-store.ts';
import { LogState } from './log/log-state.ts';
import type { LogStateOptions } from './log/log-state.ts';
import type { LogResult } from './log/results.ts';
import { MemberDirectory } from './members/member-directory.ts';
import type { MembersResult } from './members/member-directory.ts';
import { MemoryStore } from './memory-store.ts';
import { OverlayStore } from './overlay-store.ts';
import { ReplicatedState } from './replicated-state.ts';
import type { StateModule } from './replicated-state.ts';
import type { OrderedStore } from './store.ts';

export type NodeResult = KvResult | LogResult | MembersResult;

export interface NodeState {
  readonly state: ReplicatedState<NodeResult>;
  readonly kv: KvState;
  readonly log: LogState;
  readonly members: MemberDirectory;
}

export interface OpenNodeStateOptions extends KvStateOptions {
  /** lmdb environment directory; omitted = in memory. */
  readonly path?: string;
  readonly mapSizeBytes?: number;
  /** Limits and topic defaults of the Kafka log (every member must use the same). */
  readonly log?: LogStateOptions;
  /** Opens the store instead of lmdb or memory (the simulator's durable store). */
  readonly openStore?: (tableNames: readonly string[]) => OrderedStore;
}

export function openNodeState(options: OpenNodeStateOptions = {}): NodeState {
  const kv = new KvState(options);
  const log = new LogState(options.log ?? {});
  const members = new MemberDirectory();
  const modules: StateModule<NodeResult>[] = [kv, log, members];
  const tableNames = ReplicatedState.tableNames(modules);
  const store: OrderedStore = options.openStore !== undefined ? options.openStore(tableNames) : options.path === undefined
    ? new MemoryStore(tableNames)
    : new OverlayStore(new LmdbStore(options.mapSizeBytes === undefined ? { path: options.path, tableNames } : { path: options.path, tableNames, mapSizeBytes: options.mapSizeBytes }));
  return { state: new ReplicatedState(store, modules), kv, log, members };
}
