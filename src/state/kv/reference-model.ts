// A deliberately naive model of the KV's semantics, for property tests: every version of every
// key kept in plain arrays, compaction purely logical, reads by brute force. The real KvState
// must give the same results and the same reads at every past revision it still serves.
import { DEFAULT_KV_LIMITS, MAX_ID, RESERVED_PREFIX, decodeKvCommand, rangeBounds, validateKvCommand } from './commands.ts';
import type { Compare, KvCommand, KvLimits, RangeOperation, TxnOperation } from './commands.ts';
import { continuationToken } from './kv-reader.ts';
import type { KvEvent } from './kv-reader.ts';
import type { KeyValue } from './records.ts';
import type { AppliedEntry } from '../types.ts';

const key = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const reserved = key(RESERVED_PREFIX);

interface Version {
  revision: number;
  kv: KeyValue | undefined; // undefined: deleted
}

type Result = Record<string, unknown> & { type: string };

export class ReferenceKv {
  readonly limits: KvLimits;
  revision = 0;
  compactRevision = 0;
  versions = new Map<string, Version[]>();
  events: KvEvent[] = [];
  leases = new Map<number, number>();

  constructor(limits: Partial<KvLimits> = {}) {
    this.limits = { ...DEFAULT_KV_LIMITS, ...limits };
  }

  apply(entry: AppliedEntry): Result | null {
    if (entry.kind !== 'command') return null;
    const decoded = decodeKvCommand(entry.data);
    if ('code' in decoded) return this.#error(decoded.code);
    const problem = validateKvCommand(decoded.command, this.limits, decoded.system);
    if (problem !== undefined) return this.#error(problem.code);
    return this.#run(decoded.command, decoded.system, entry.index);
  }

  #error(code: string): Result {
    return { type: 'error', revision: this.revision, error: { code } };
  }

  at(name: string, revision: number): KeyValue | undefined {
    let found: KeyValue | undefined;
    for (const version of this.versions.get(name) ?? []) if (version.revision <= revision) found = version.kv;
    return found;
  }

  #run(command: KvCommand, system: boolean, index: number): Result {
    switch (command.type) {
      case 'put':
      case 'delete':
        return this.#write([command], system, (results) => results[0]!);
      case 'txn': {
        const succeeded = command.compare.every((compare) => this.#compare(compare));
        const operations = succeeded ? command.success : command.failure;
        return this.#write(operations, system, (results, revision) => ({ type: 'txn', revision, succeeded, results }));
      }
      case 'compact':
        if (command.revision <= this.compactRevision) return this.#error('compacted');
        if (command.revision > this.revision) return this.#error('future-revision');
        this.compactRevision = command.revision;
        return { type: 'compact', revision: this.revision, compactRevision: command.revision };
      case 'lease-grant': {
        if (this.leases.size >= this.limits.maxLeases) return this.#error('too-many-leases');
        let id = command.id ?? index;
        if (command.id !== undefined && this.leases.has(id)) return this.#error('lease-exists');
        while (this.leases.has(id)) id = id >= MAX_ID ? 1 : id + 1;
        this.leases.set(id, command.ttlSeconds);
        return { type: 'lease-grant', revision: this.revision, id, ttlSeconds: command.ttlSeconds };
      }
      case 'lease-revoke': {
        if (!this.leases.has(command.id)) return this.#error('lease-not-found');
        const attached = [...this.#live()].filter(([, kv]) => kv.lease === command.id).map(([name]) => name).sort();
        const revision = this.revision + 1;
        for (const name of attached) this.#delete(name, revision);
        if (attached.length > 0) this.revision = revision;
        this.leases.delete(command.id);
        return { type: 'lease-revoke', revision: this.revision, id: command.id, deleted: attached.length };
      }
      case 'lease-checkpoint': {
        const updated = command.checkpoints.filter((checkpoint) => this.leases.has(checkpoint.id)).length;
        return { type: 'lease-checkpoint', revision: this.revision, updated };
      }
    }
  }

  #write(operations: readonly TxnOperation[], system: boolean, wrap: (results: Result[], revision: number) => Result): Result {
    for (const operation of operations) {
      if (operation.type === 'put' && (operation.lease ?? 0) !== 0 && !this.leases.has(operation.lease!)) return this.#error('lease-not-found');
      if (operation.type === 'delete' && this.#names(operation.range, system, this.revision).length > this.limits.maxDeleteKeys) return this.#error('too-many-keys');
    }
    const revision = this.revision + 1;
    let changed = false;
    const results: Result[] = [];
    for (const operation of operations) {
      if (operation.type === 'range') {
        results.push(this.range(operation, system));
        continue;
      }
      if (operation.type === 'put') {
        const previous = this.at(key(operation.key), Infinity);
        this.#put(key(operation.key), operation.value, operation.lease ?? 0, revision);
        changed = true;
        this.revision = revision;
        results.push(operation.prevKv === true && previous !== undefined ? { type: 'put', prevKv: previous } : { type: 'put' });
        continue;
      }
      const victims = this.#names(operation.range, system, Infinity);
      const previous = victims.map((name) => this.#delete(name, revision));
      if (victims.length > 0) changed = true;
      if (changed) this.revision = revision;
      results.push(operation.prevKv === true ? { type: 'delete', deleted: victims.length, prevKvs: previous } : { type: 'delete', deleted: victims.length });
    }
    if (changed) this.revision = revision;
    const final = results.map((result) => (result.type === 'range' ? result : { ...result, revision: this.revision }));
    return wrap(final, this.revision);
  }

  #put(name: string, value: Uint8Array, lease: number, revision: number): void {
    const previous = this.at(name, Infinity);
    const kv: KeyValue = {
      key: bytes(name), value: Uint8Array.from(value), createRevision: previous?.createRevision ?? revision,
      modRevision: revision, version: (previous?.version ?? 0) + 1, lease,
    };
    this.#push(name, { revision, kv });
    this.events.push(previous === undefined ? { type: 'put', kv } : { type: 'put', kv, prevKv: previous });
  }

  #delete(name: string, revision: number): KeyValue {
    const previous = this.at(name, Infinity)!;
    this.#push(name, { revision, kv: undefined });
    const kv: KeyValue = { key: bytes(name), value: new Uint8Array(0), createRevision: 0, modRevision: revision, version: 0, lease: 0 };
    this.events.push({ type: 'delete', kv, prevKv: previous });
    return previous;
  }

  #push(name: string, version: Version): void {
    const list = this.versions.get(name) ?? [];
    list.push(version);
    this.versions.set(name, list);
  }

  *#live(): Generator<[string, KeyValue]> {
    for (const name of this.versions.keys()) {
      const kv = this.at(name, Infinity);
      if (kv !== undefined) yield [name, kv];
    }
  }

  /** Sorted names in the range alive at `revision`. */
  #names(range: RangeOperation['range'], system: boolean, revision: number): string[] {
    const { start, end } = rangeBounds(range);
    const low = key(start);
    const high = end === undefined ? undefined : key(end);
    return [...this.versions.keys()]
      .filter((name) => name >= low && (high === undefined || name < high) && (system || !name.startsWith(reserved)))
      .filter((name) => this.at(name, revision) !== undefined)
      .sort();
  }

  #compare(compare: Compare): boolean {
    const kv = this.at(key(compare.key), Infinity);
    const order = (a: number): boolean => {
      switch (compare.operator) {
        case '=': return a === 0;
        case '!=': return a !== 0;
        case '<': return a < 0;
        case '>': return a > 0;
      }
    };
    switch (compare.target) {
      case 'exists':
        return (kv !== undefined) === (compare.operator === '=' ? compare.value : !compare.value);
      case 'value':
        return kv !== undefined && order(Buffer.compare(kv.value, compare.value));
      default: {
        const actual = kv === undefined ? 0 : { version: kv.version, 'create-revision': kv.createRevision, 'mod-revision': kv.modRevision, lease: kv.lease }[compare.target];
        return order(Math.sign(actual - compare.value));
      }
    }
  }

  /** Without continuation tokens (the property test pages by following the real ones). */
  range(operation: Omit<RangeOperation, 'type'>, system: boolean, unbounded = false): Result {
    let revision = operation.revision ?? 0;
    if (revision === 0) revision = this.revision;
    else if (revision < this.compactRevision) return { type: 'error', revision: this.revision, error: { code: 'compacted' } };
    else if (revision > this.revision) return { type: 'error', revision: this.revision, error: { code: 'future-revision' } };
    const names = this.#names(operation.range, system, revision);
    if (operation.countOnly === true) return { type: 'range', revision, kvs: [], more: false, count: names.length };
    const limit = operation.limit ?? this.limits.maxRangeLimit;
    const all = names.map((name) => {
      const kv = this.at(name, revision)!;
      return operation.keysOnly === true ? { ...kv, value: new Uint8Array(0) } : kv;
    });
    const kvs: KeyValue[] = [];
    let bytes = 0;
    for (const kv of all) {
      const size = kv.key.length + kv.value.length;
      if (!unbounded && (kvs.length === limit || (kvs.length > 0 && bytes + size > this.limits.maxRangeBytes))) break;
      kvs.push(kv);
      bytes += size;
    }
    const more = kvs.length < all.length;
    return more ? { type: 'range', revision, kvs, more, continuation: continuationToken(revision, kvs[kvs.length - 1]!.key) } : { type: 'range', revision, kvs, more };
  }

  /** The events from `fromRevision` on (the caller checks it against compaction). */
  history(fromRevision: number): KvEvent[] {
    return this.events.filter((event) => event.kv.modRevision >= fromRevision);
  }
}
