// Periodic snapshots: after enough applied entries, the state machine's state is written as a
// snapshot file (durably), and only then is the log compacted, keeping some entries so that
// followers a little behind can still catch up from the log.
import type { RawNode } from '../core/index.ts';
import type { StateMachine } from '../state/types.ts';
import type { DurableStorage } from '../storage/index.ts';
import type { NodeLogger } from './logger.ts';

export class Snapshotter {
  lastSnapshotIndex = 0;
  private readonly storage: DurableStorage;
  private readonly state: StateMachine<unknown>;
  private readonly logger: NodeLogger;
  private readonly everyEntries: number;
  private readonly keptEntries: number;

  constructor(storage: DurableStorage, state: StateMachine<unknown>, logger: NodeLogger, limits: { everyEntries: number; keptEntries: number }) {
    this.storage = storage;
    this.state = state;
    this.logger = logger;
    this.everyEntries = limits.everyEntries;
    this.keptEntries = limits.keptEntries;
  }

  /**
   * Called between Readys only: then the core's membership is exactly that of the applied
   * index, which is what the snapshot must record.
   */
  /** Returns whether a snapshot was taken. */
  async maybeSnapshot(raw: RawNode): Promise<boolean> {
    const applied = this.state.appliedIndex();
    if (applied - this.lastSnapshotIndex < this.everyEntries) return false;
    const snapshot = this.state.snapshot();
    const confState = raw.status().config;
    await this.storage.saveSnapshot({ metadata: { index: snapshot.index, term: snapshot.term, confState }, data: snapshot.data });
    this.lastSnapshotIndex = snapshot.index;
    await this.storage.compact(Math.max(0, snapshot.index - this.keptEntries));
    this.logger.info({ index: snapshot.index, bytes: snapshot.data.byteLength, firstIndex: this.storage.firstIndex() }, 'snapshot taken, log compacted');
    return true;
  }
}
