// The KV state machine module (etcd's MVCC store, after its semantics): a cluster revision bumped
// once per write command, per-key create/mod revision and version, history for past reads and
// watches until compacted, transactions, leases. Deterministic: apply reads nothing but the
// entries and the store, so every replica writes identical bytes.
import { assert } from '../../core/assert.ts';
import type { StateModule } from '../replicated-state.ts';
import type { OrderedStore } from '../store.ts';
import type { AppliedEntry } from '../types.ts';
import {
  DEFAULT_KV_LIMITS, KV_MODULE_TAG, MAX_ID, decodeKvCommand, rangeBounds, validateKvCommand,
} from './commands.ts';
import type {
  Compare, CompactCommand, DeleteOperation, KvCommand, KvLimits, LeaseCheckpointCommand, LeaseGrantCommand,
  LeaseRevokeCommand, PutOperation, RangeOperation, TxnCommand, TxnOperation,
} from './commands.ts';
import { kvError } from './errors.ts';
import type { KvError } from './errors.ts';
import { EMPTY_BYTES, concatBytes, escapeKey, keyRevisionKey, readUint64, revisionKey, uint64Bytes } from './encoding.ts';
import { KvReader } from './kv-reader.ts';
import type { GetResult, KvEvent, RangeResult } from './kv-reader.ts';
import {
  KIND_DELETE, KIND_PUT, decodeKeyRecord, decodeLeaseRecord, encodeHistoryRecord, encodeKeyRecord, encodeLeaseRecord,
} from './records.ts';
import type { KeyRecord, KeyValue, LeaseRecord } from './records.ts';
import { COMPACTION_STEP_ENTRIES, compactStep, LatestBelowMemo } from './compaction.ts';
import {
  KV_TABLES, KV_TABLE_NAMES, META_COMPACT_CURSOR, META_COMPACT_REVISION, META_LEASE_COUNT, META_REVISION, toKeyValue, visibleSegments,
} from './tables.ts';

export interface PutResult {
  readonly type: 'put';
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteResult {
  readonly type: 'delete';
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: readonly KeyValue[];
}

export interface KvErrorResult {
  readonly type: 'error';
  /** The store's revision (unchanged by the failed command). */
  readonly revision: number;
  readonly error: KvError;
}

export type TxnOperationResult = PutResult | DeleteResult | RangeResult | KvErrorResult;

export interface TxnResult {
  readonly type: 'txn';
  readonly revision: number;
  readonly succeeded: boolean;
  readonly results: readonly TxnOperationResult[];
}

export interface CompactResult {
  readonly type: 'compact';
  readonly revision: number;
  readonly compactRevision: number;
}

export interface LeaseGrantResult {
  readonly type: 'lease-grant';
  readonly revision: number;
  readonly id: number;
  readonly ttlSeconds: number;
}

export interface LeaseRevokeResult {
  readonly type: 'lease-revoke';
  readonly revision: number;
  readonly id: number;
  /** Keys deleted with the lease. */
  readonly deleted: number;
}

export interface LeaseCheckpointResult {
  readonly type: 'lease-checkpoint';
  readonly revision: number;
  readonly updated: number;
}

export type KvResult =
  | PutResult | DeleteResult | TxnResult | CompactResult | LeaseGrantResult | LeaseRevokeResult | LeaseCheckpointResult | KvErrorResult;

export interface LeaseInfo {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly remainingSeconds: number;
}

/** What one committed apply() changed, delivered to subscribers after the transaction commits. */
export interface KvCommitNotice {
  /** In (revision, sub) order: no gaps between notices. */
  readonly events: readonly KvEvent[];
  readonly currentRevision: number;
  readonly compactRevision: number;
  readonly leasesGranted: readonly LeaseInfo[];
  readonly leasesRevoked: readonly number[];
  /** The state was replaced by a snapshot: watchers must catch up from history, lessors reload. */
  readonly restored: boolean;
}

export type KvListener = (notice: KvCommitNotice) => void;

export interface KvStateOptions {
  /**
   * Must be the same on every member (apply enforces them, so members with different limits
   * would diverge). The runtime should also check them before proposing, for an early error.
   */
  readonly limits?: Partial<KvLimits>;
  /** History entries physical compaction examines per applied entry; the same on every member. */
  readonly compactionStepEntries?: number;
}

/** Per write command: the revision it will get if it changes anything, and its changes so far. */
interface WriteContext {
  readonly revision: number;
  sub: number;
  readonly events: KvEvent[];
}

export class KvState implements StateModule<KvResult> {
  readonly tag = KV_MODULE_TAG;
  readonly tableNames = KV_TABLE_NAMES;
  readonly limits: KvLimits;
  readonly #compactionStepEntries: number;
  #store!: OrderedStore;
  #reader!: KvReader;
  #revision = 0;
  #compactRevision = 0;
  #leaseCount = 0;
  /** #revision or #leaseCount changed in this batch: written once, in beforeCommit(). */
  #metaDirty = false;
  #compactionPending = false;
  /** Speeds up physical compaction; derived from the store, so cleared whenever the state is reloaded. */
  readonly #compactionMemo = new LatestBelowMemo();
  #pending: { events: KvEvent[]; granted: LeaseInfo[]; revoked: number[]; restored: boolean } = emptyPending();
  #listeners = new Set<KvListener>();

  constructor(options: KvStateOptions = {}) {
    this.limits = { ...DEFAULT_KV_LIMITS, ...options.limits };
    this.#compactionStepEntries = options.compactionStepEntries ?? COMPACTION_STEP_ENTRIES;
    assert(Number.isInteger(this.#compactionStepEntries) && this.#compactionStepEntries >= 1, 'compactionStepEntries must be a whole number >= 1');
  }

  /** Whether physical compaction still has history to walk (for tests and metrics). */
  compactionPending(): boolean {
    return this.#store.get(KV_TABLES.meta, META_COMPACT_CURSOR) !== undefined;
  }

  attach(store: OrderedStore): void {
    this.#store = store;
    this.#reader = new KvReader(store, { currentRevision: () => this.#revision, compactRevision: () => this.#compactRevision }, this.limits);
    this.#loadMeta();
  }

  // ---- Read API (the runtime calls these after ReadIndex, or directly for serializable reads) ----

  currentRevision(): number {
    return this.#revision;
  }

  compactRevision(): number {
    return this.#compactRevision;
  }

  /** The key at `revision` (0/omitted: now). `system` lets the caller read `_cairn/` keys. */
  get(key: Uint8Array, options: { revision?: number; system?: boolean } = {}): GetResult | KvError {
    return this.#reader.get(key, options.revision ?? 0, options.system === true);
  }

  range(operation: Omit<RangeOperation, 'type'>, options: { system?: boolean } = {}): RangeResult | KvError {
    return this.#reader.range({ ...operation, type: 'range' }, options.system === true);
  }

  /** Changes from `fromRevision` on, for watch catch-up; see KvReader.history. */
  history(fromRevision: number, maxEvents: number, withPrevKv: boolean): { events: KvEvent[]; nextRevision: number } {
    return this.#reader.history(fromRevision, maxEvents, withPrevKv);
  }

  lease(id: number): LeaseInfo | undefined {
    const bytes = this.#store.get(KV_TABLES.leases, uint64Bytes(id));
    return bytes === undefined ? undefined : { id, ...decodeLeaseRecord(bytes) };
  }

  /** Every lease, in id order (bounded by limits.maxLeases). */
  leases(): LeaseInfo[] {
    const leases: LeaseInfo[] = [];
    for (const entry of this.#store.range(KV_TABLES.leases)) leases.push({ id: readUint64(entry.key, 0), ...decodeLeaseRecord(entry.value) });
    return leases;
  }

  /** Up to `limit` keys attached to a lease. */
  leaseKeys(id: number, limit: number): Uint8Array[] {
    const prefix = uint64Bytes(id);
    const keys: Uint8Array[] = [];
    for (const entry of this.#store.range(KV_TABLES.leaseKeys, { start: prefix, end: uint64Bytes(id + 1), limit })) {
      keys.push(Uint8Array.from(entry.key.subarray(8)));
    }
    return keys;
  }

  /** Called after every committed apply() and restore(); returns an unsubscribe function. */
  subscribe(listener: KvListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- StateModule ----

  applyCommand(entry: AppliedEntry): KvResult {
    const decoded = decodeKvCommand(entry.data);
    if ('code' in decoded) return this.#error(decoded);
    const problem = validateKvCommand(decoded.command, this.limits, decoded.system);
    if (problem !== undefined) return this.#error(problem);
    return this.#dispatch(decoded.command, decoded.system, entry);
  }

  afterEntry(_entry: AppliedEntry): void {
    if (!this.#compactionPending) return;
    compactStep(this.#store, this.#compactRevision, this.#compactionStepEntries, this.#compactionMemo);
    this.#compactionPending = this.compactionPending();
  }

  beforeCommit(): void {
    if (!this.#metaDirty) return;
    this.#store.put(KV_TABLES.meta, META_REVISION, uint64Bytes(this.#revision));
    this.#store.put(KV_TABLES.meta, META_LEASE_COUNT, uint64Bytes(this.#leaseCount));
    this.#metaDirty = false;
  }

  committed(): void {
    const pending = this.#pending;
    this.#pending = emptyPending();
    if (pending.events.length === 0 && pending.granted.length === 0 && pending.revoked.length === 0 && !pending.restored) return;
    const notice: KvCommitNotice = {
      events: pending.events,
      currentRevision: this.#revision,
      compactRevision: this.#compactRevision,
      leasesGranted: pending.granted,
      leasesRevoked: pending.revoked,
      restored: pending.restored,
    };
    for (const listener of [...this.#listeners]) listener(notice);
  }

  aborted(): void {
    this.#pending = emptyPending();
    this.#loadMeta();
  }

  restored(): void {
    this.#loadMeta();
    this.#pending = { ...emptyPending(), restored: true };
    this.committed();
  }

  #loadMeta(): void {
    this.#revision = this.#readMeta(META_REVISION);
    this.#compactRevision = this.#readMeta(META_COMPACT_REVISION);
    this.#leaseCount = this.#readMeta(META_LEASE_COUNT);
    this.#metaDirty = false;
    this.#compactionPending = this.compactionPending();
    this.#compactionMemo.clear();
  }

  #readMeta(key: Uint8Array): number {
    const bytes = this.#store.get(KV_TABLES.meta, key);
    return bytes === undefined ? 0 : readUint64(bytes, 0);
  }

  #error(error: KvError): KvErrorResult {
    return { type: 'error', revision: this.#revision, error };
  }

  #dispatch(command: KvCommand, system: boolean, entry: AppliedEntry): KvResult {
    switch (command.type) {
      case 'put':
      case 'delete':
        return this.#applySingle(command, system);
      case 'txn':
        return this.#applyTxn(command, system);
      case 'compact':
        return this.#applyCompact(command);
      case 'lease-grant':
        return this.#applyLeaseGrant(command, entry);
      case 'lease-revoke':
        return this.#applyLeaseRevoke(command);
      case 'lease-checkpoint':
        return this.#applyLeaseCheckpoint(command);
    }
  }

  // ---- Writes ----

  #applySingle(operation: PutOperation | DeleteOperation, system: boolean): KvResult {
    const problem = this.#checkOperations([operation], system);
    if (problem !== undefined) return this.#error(problem);
    const context = this.#beginWrite();
    const result = this.#runOperation(context, operation, system);
    this.#finishWrite(context);
    return { ...result, revision: this.#revision } as KvResult;
  }

  #applyTxn(command: TxnCommand, system: boolean): KvResult {
    const succeeded = command.compare.every((compare) => this.#compare(compare));
    const operations = succeeded ? command.success : command.failure;
    const problem = this.#checkOperations(operations, system);
    if (problem !== undefined) return this.#error(problem);
    const context = this.#beginWrite();
    const results = operations.map((operation) => this.#runOperation(context, operation, system));
    this.#finishWrite(context);
    const revision = this.#revision;
    const withRevision = results.map((result) => (result.type === 'range' ? result : { ...result, revision }));
    return { type: 'txn', revision, succeeded, results: withRevision };
  }

  /** The state-dependent checks, all before the first write, so a command applies fully or not at all. */
  #checkOperations(operations: readonly TxnOperation[], system: boolean): KvError | undefined {
    for (const operation of operations) {
      if (operation.type === 'put' && operation.lease !== undefined && operation.lease !== 0 && this.lease(operation.lease) === undefined) {
        return kvError('lease-not-found', `lease ${operation.lease} does not exist (expired or revoked?); grant a new one`);
      }
      if (operation.type === 'delete') {
        const count = this.#countKeys(operation, system, this.limits.maxDeleteKeys + 1);
        if (count > this.limits.maxDeleteKeys) {
          return kvError('too-many-keys', `the delete would remove more than ${this.limits.maxDeleteKeys} keys; delete the range in smaller parts`);
        }
      }
    }
    return undefined;
  }

  #countKeys(operation: DeleteOperation, system: boolean, stopAt: number): number {
    const { start, end } = rangeBounds(operation.range);
    let count = 0;
    for (const [segmentStart, segmentEnd] of visibleSegments(start, end, system)) {
      const options = segmentEnd === undefined ? { start: segmentStart, limit: stopAt - count } : { start: segmentStart, end: segmentEnd, limit: stopAt - count };
      for (const _ of this.#store.range(KV_TABLES.current, options)) count++;
      if (count >= stopAt) break;
    }
    return count;
  }

  #runOperation(context: WriteContext, operation: TxnOperation, system: boolean): TxnOperationResult {
    switch (operation.type) {
      case 'put': {
        const previous = this.#putKey(context, operation.key, operation.value, operation.lease ?? 0);
        return operation.prevKv === true && previous !== undefined ? { type: 'put', revision: 0, prevKv: previous } : { type: 'put', revision: 0 };
      }
      case 'delete': {
        const deleted = this.#deleteRange(context, operation, system);
        return operation.prevKv === true ? { type: 'delete', revision: 0, deleted: deleted.length, prevKvs: deleted } : { type: 'delete', revision: 0, deleted: deleted.length };
      }
      case 'range': {
        const result = this.#reader.range(operation, system);
        return 'code' in result ? this.#error(result) : result;
      }
    }
  }

  #beginWrite(): WriteContext {
    return { revision: this.#revision + 1, sub: 0, events: [] };
  }

  /**
   * The first change of a command moves the store to the command's revision at once, so later
   * reads in the same transaction see the change at the revision they report (as in etcd).
   */
  #nextSub(context: WriteContext): number {
    this.#revision = context.revision;
    return context.sub++;
  }

  /** A command that changed at least one key takes the next revision (etcd: one per txn). */
  #finishWrite(context: WriteContext): void {
    if (context.sub === 0) return;
    this.#metaDirty = true;
    // A loop, not push(...events): a lease revoke can delete more keys than a call takes arguments.
    for (const event of context.events) this.#pending.events.push(event);
  }

  /** Returns the previous state of the key, if it existed. */
  #putKey(context: WriteContext, key: Uint8Array, value: Uint8Array, lease: number): KeyValue | undefined {
    const previousBytes = this.#store.get(KV_TABLES.current, key);
    const previous = previousBytes === undefined ? undefined : decodeKeyRecord(previousBytes);
    const record: KeyRecord = {
      createRevision: previous?.createRevision ?? context.revision,
      modRevision: context.revision,
      version: (previous?.version ?? 0) + 1,
      lease,
      value,
    };
    const sub = this.#nextSub(context);
    this.#store.put(KV_TABLES.current, key, encodeKeyRecord(record));
    this.#store.put(KV_TABLES.history, revisionKey(context.revision, sub), encodeHistoryRecord({ kind: 'put', key, ...record }));
    this.#store.put(KV_TABLES.keyRevisions, keyRevisionKey(escapeKey(key), context.revision, sub), Uint8Array.of(KIND_PUT));
    if (previous !== undefined && previous.lease !== 0 && previous.lease !== lease) this.#store.delete(KV_TABLES.leaseKeys, leaseKey(previous.lease, key));
    if (lease !== 0 && previous?.lease !== lease) this.#store.put(KV_TABLES.leaseKeys, leaseKey(lease, key), EMPTY_BYTES);
    const previousKv = previous === undefined ? undefined : toKeyValue(key, previous);
    const kv = toKeyValue(key, record);
    context.events.push(previousKv === undefined ? { type: 'put', kv } : { type: 'put', kv, prevKv: previousKv });
    return previousKv;
  }

  #deleteRange(context: WriteContext, operation: DeleteOperation, system: boolean): KeyValue[] {
    const { start, end } = rangeBounds(operation.range);
    const victims: { key: Uint8Array; record: KeyRecord }[] = [];
    for (const [segmentStart, segmentEnd] of visibleSegments(start, end, system)) {
      const options = segmentEnd === undefined ? { start: segmentStart } : { start: segmentStart, end: segmentEnd };
      for (const entry of this.#store.range(KV_TABLES.current, options)) {
        victims.push({ key: Uint8Array.from(entry.key), record: decodeKeyRecord(Uint8Array.from(entry.value)) });
      }
    }
    return victims.map(({ key, record }) => this.#deleteKey(context, key, record));
  }

  #deleteKey(context: WriteContext, key: Uint8Array, previous: KeyRecord): KeyValue {
    const sub = this.#nextSub(context);
    this.#store.delete(KV_TABLES.current, key);
    const tombstone = { kind: 'delete' as const, key, createRevision: 0, version: 0, lease: 0, value: EMPTY_BYTES };
    this.#store.put(KV_TABLES.history, revisionKey(context.revision, sub), encodeHistoryRecord(tombstone));
    this.#store.put(KV_TABLES.keyRevisions, keyRevisionKey(escapeKey(key), context.revision, sub), Uint8Array.of(KIND_DELETE));
    if (previous.lease !== 0) this.#store.delete(KV_TABLES.leaseKeys, leaseKey(previous.lease, key));
    const previousKv = toKeyValue(key, previous);
    const kv: KeyValue = { key: Uint8Array.from(key), value: EMPTY_BYTES, createRevision: 0, modRevision: context.revision, version: 0, lease: 0 };
    context.events.push({ type: 'delete', kv, prevKv: previousKv });
    return previousKv;
  }

  #compare(compare: Compare): boolean {
    const bytes = this.#store.get(KV_TABLES.current, compare.key);
    const record = bytes === undefined ? undefined : decodeKeyRecord(bytes);
    switch (compare.target) {
      case 'exists':
        return (record !== undefined) === (compare.operator === '=' ? compare.value : !compare.value);
      case 'value':
        // Like etcd: a value compare on a missing key is false whatever the operator.
        return record !== undefined && holds(Buffer.compare(record.value, compare.value), compare.operator);
      default: {
        const actual = record === undefined ? 0 : compareTargetValue(record, compare.target);
        return holds(actual < compare.value ? -1 : actual > compare.value ? 1 : 0, compare.operator);
      }
    }
  }

  #applyCompact(command: CompactCommand): KvResult {
    if (command.revision <= this.#compactRevision) {
      return this.#error(kvError('compacted', `revision ${command.revision} is already compacted (compact revision ${this.#compactRevision})`, { compactRevision: this.#compactRevision }));
    }
    if (command.revision > this.#revision) {
      return this.#error(kvError('future-revision', `cannot compact at ${command.revision}: the current revision is ${this.#revision}`, { currentRevision: this.#revision }));
    }
    this.#compactRevision = command.revision;
    this.#store.put(KV_TABLES.meta, META_COMPACT_REVISION, uint64Bytes(command.revision));
    // Restart the physical walk: entries kept for the old compact revision may now be superseded.
    this.#store.put(KV_TABLES.meta, META_COMPACT_CURSOR, EMPTY_BYTES);
    this.#compactionPending = true;
    return { type: 'compact', revision: this.#revision, compactRevision: command.revision };
  }

  // ---- Leases ----

  #applyLeaseGrant(command: LeaseGrantCommand, entry: AppliedEntry): KvResult {
    if (this.#leaseCount >= this.limits.maxLeases) {
      return this.#error(kvError('too-many-leases', `${this.#leaseCount} leases exist; the limit is ${this.limits.maxLeases}: revoke unused leases`));
    }
    let id = command.id ?? entry.index;
    if (command.id !== undefined && this.lease(id) !== undefined) {
      return this.#error(kvError('lease-exists', `lease ${id} already exists; choose another id or omit it`));
    }
    // A derived id may collide with a client-chosen one: take the next free id, deterministically.
    while (this.lease(id) !== undefined) id = id >= MAX_ID ? 1 : id + 1;
    const record: LeaseRecord = { ttlSeconds: command.ttlSeconds, remainingSeconds: 0 };
    this.#store.put(KV_TABLES.leases, uint64Bytes(id), encodeLeaseRecord(record));
    this.#setLeaseCount(this.#leaseCount + 1);
    this.#pending.granted.push({ id, ...record });
    return { type: 'lease-grant', revision: this.#revision, id, ttlSeconds: command.ttlSeconds };
  }

  #applyLeaseRevoke(command: LeaseRevokeCommand): KvResult {
    if (this.lease(command.id) === undefined) {
      return this.#error(kvError('lease-not-found', `lease ${command.id} does not exist (already expired or revoked)`));
    }
    const keys: { key: Uint8Array; record: KeyRecord }[] = [];
    for (const entry of this.#store.range(KV_TABLES.leaseKeys, { start: uint64Bytes(command.id), end: uint64Bytes(command.id + 1) })) {
      const key = Uint8Array.from(entry.key.subarray(8));
      const bytes = this.#store.get(KV_TABLES.current, key);
      assert(bytes !== undefined, 'kv: a lease lists a key that does not exist');
      keys.push({ key, record: decodeKeyRecord(Uint8Array.from(bytes)) });
    }
    const context = this.#beginWrite();
    for (const { key, record } of keys) this.#deleteKey(context, key, record);
    this.#finishWrite(context);
    this.#store.delete(KV_TABLES.leases, uint64Bytes(command.id));
    this.#setLeaseCount(this.#leaseCount - 1);
    this.#pending.revoked.push(command.id);
    return { type: 'lease-revoke', revision: this.#revision, id: command.id, deleted: keys.length };
  }

  #applyLeaseCheckpoint(command: LeaseCheckpointCommand): KvResult {
    let updated = 0;
    for (const { id, remainingSeconds } of command.checkpoints) {
      const lease = this.lease(id);
      if (lease === undefined) continue;
      const record: LeaseRecord = { ttlSeconds: lease.ttlSeconds, remainingSeconds: Math.min(remainingSeconds, lease.ttlSeconds) };
      this.#store.put(KV_TABLES.leases, uint64Bytes(id), encodeLeaseRecord(record));
      updated++;
    }
    return { type: 'lease-checkpoint', revision: this.#revision, updated };
  }

  #setLeaseCount(count: number): void {
    this.#leaseCount = count;
    this.#metaDirty = true;
  }
}

function emptyPending(): { events: KvEvent[]; granted: LeaseInfo[]; revoked: number[]; restored: boolean } {
  return { events: [], granted: [], revoked: [], restored: false };
}

function leaseKey(lease: number, key: Uint8Array): Uint8Array {
  return concatBytes(uint64Bytes(lease), key);
}

function compareTargetValue(record: KeyRecord, target: 'version' | 'create-revision' | 'mod-revision' | 'lease'): number {
  switch (target) {
    case 'version':
      return record.version;
    case 'create-revision':
      return record.createRevision;
    case 'mod-revision':
      return record.modRevision;
    case 'lease':
      return record.lease;
  }
}

function holds(order: number, operator: Compare['operator']): boolean {
  switch (operator) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
  }
}
