// Opening a replicated state with the log module alone (tests, benchmarks, tools): on lmdb (a
// directory) or in memory. A node opens one ReplicatedState with every module instead:
//   const kv = new KvState(...); const log = new LogState(...);
//   new ReplicatedState(store, [kv, log]) over a store opened with ReplicatedState.tableNames([kv, log]).
import { LmdbStore } from '../lmdb-store.ts';
import { MemoryStore } from '../memory-store.ts';
import { ReplicatedState } from '../replicated-state.ts';
import type { UnknownCommandResult } from '../replicated-state.ts';
import type { OrderedStore } from '../store.ts';
import { LogState } from './log-state.ts';
import type { LogStateOptions } from './log-state.ts';
import type { LogResult } from './results.ts';

export type LogApplyResult = LogResult | UnknownCommandResult;

export interface LogNodeState {
  readonly state: ReplicatedState<LogResult>;
  readonly log: LogState;
}

export interface OpenLogStateOptions extends LogStateOptions {
  /** lmdb environment directory; omitted = in memory. */
  readonly path?: string;
  readonly mapSizeBytes?: number;
}

export function openLogState(options: OpenLogStateOptions = {}): LogNodeState {
  const log = new LogState(options);
  const tableNames = ReplicatedState.tableNames([log]);
  const store: OrderedStore = options.path === undefined
    ? new MemoryStore(tableNames)
    : new LmdbStore(options.mapSizeBytes === undefined ? { path: options.path, tableNames } : { path: options.path, tableNames, mapSizeBytes: options.mapSizeBytes });
  return { state: new ReplicatedState(store, [log]), log };
}
