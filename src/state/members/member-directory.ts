// The replicated directory of cluster members: for each node id, the addresses other nodes and
// clients use to reach it. Written only by membership changes: the context of an add-voter or
// add-learner change carries the newcomer's addresses, a removal deletes them. The membership
// itself (who votes) is the Raft core's; this module only remembers how to reach people.
import { decodeConfChange } from '../../core/index.ts';
import type { OrderedStore } from '../store.ts';
import type { AppliedEntry, StateError } from '../types.ts';
import type { StateModule } from '../replicated-state.ts';

export const MEMBERS_TAG = 0x03;
const TABLE = 'members';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ADDRESS_BYTES_MAX = 512;

export interface MemberAddresses {
  /** host:port of the Raft peer listener. */
  readonly peer: string;
  /** host:port of the HTTP API. */
  readonly client: string;
  /** host:port advertised to Kafka clients, when the node serves Kafka. */
  readonly kafka?: string;
  /** A human name for status output. */
  readonly name?: string;
  /** A learner that the leader promotes to voter once it has caught up. */
  readonly autoPromote?: boolean;
}

export interface MemberRecord extends MemberAddresses {
  readonly id: number;
}

/** What a membership change carries in its context: the addresses of the nodes it adds. */
export interface MembershipContext {
  readonly members: Readonly<Record<string, MemberAddresses>>;
}

export function encodeMembershipContext(context: MembershipContext): Uint8Array {
  return encoder.encode(JSON.stringify(context));
}

/** Decodes a membership context; anything malformed yields no addresses (never an exception). */
export function decodeMembershipContext(bytes: Uint8Array | undefined): MembershipContext {
  if (bytes === undefined || bytes.byteLength === 0) return { members: {} };
  try {
    const parsed = JSON.parse(decoder.decode(bytes)) as { members?: unknown };
    const members: Record<string, MemberAddresses> = {};
    if (typeof parsed.members !== 'object' || parsed.members === null) return { members };
    for (const [id, value] of Object.entries(parsed.members as Record<string, unknown>)) {
      const addresses = validAddresses(value);
      if (addresses !== undefined && Number.isSafeInteger(Number(id))) members[id] = addresses;
    }
    return { members };
  } catch {
    return { members: {} };
  }
}

function validAddresses(value: unknown): MemberAddresses | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const text = (field: unknown): field is string => typeof field === 'string' && field.length > 0 && field.length <= ADDRESS_BYTES_MAX;
  if (!text(record['peer']) || !text(record['client'])) return undefined;
  return {
    peer: record['peer'],
    client: record['client'],
    ...(text(record['kafka']) ? { kafka: record['kafka'] } : {}),
    ...(text(record['name']) ? { name: record['name'] } : {}),
    ...(record['autoPromote'] === true ? { autoPromote: true } : {}),
  };
}

function idKey(id: number): Uint8Array {
  const key = new Uint8Array(8);
  new DataView(key.buffer).setFloat64(0, id);
  return key;
}

export type MembersResult = { readonly type: 'error'; readonly error: StateError<'malformed-command'> };

export class MemberDirectory implements StateModule<MembersResult> {
  readonly tag = MEMBERS_TAG;
  readonly tableNames = [TABLE] as const;
  #store: OrderedStore | undefined;
  #cache: Map<number, MemberRecord> | undefined;
  #listeners = new Set<() => void>();
  #changed = false;

  attach(store: OrderedStore): void {
    this.#store = store;
  }

  /** Members have no commands of their own: everything comes from membership changes. */
  applyCommand(entry: AppliedEntry): MembersResult {
    return { type: 'error', error: { code: 'malformed-command', message: `entry ${entry.index}: the member directory takes no commands` } };
  }

  afterEntry(entry: AppliedEntry): void {
    if (entry.kind !== 'conf-change') return;
    const decoded = decodeConfChange(entry.data);
    if (!decoded.ok) return;
    const context = decodeMembershipContext(decoded.change.context);
    const store = this.#store!;
    for (const change of decoded.change.changes) {
      if (change.action === 'remove') {
        store.delete(TABLE, idKey(change.nodeId));
        this.#changed = true;
        continue;
      }
      const addresses = context.members[String(change.nodeId)];
      if (addresses === undefined) continue;
      store.put(TABLE, idKey(change.nodeId), encoder.encode(JSON.stringify({ id: change.nodeId, ...addresses })));
      this.#changed = true;
    }
  }

  beforeCommit(): void {}

  committed(): void {
    if (!this.#changed) return;
    this.#changed = false;
    this.#cache = undefined;
    for (const listener of this.#listeners) listener();
  }

  aborted(): void {
    this.#changed = false;
    this.#cache = undefined;
  }

  restored(): void {
    this.#changed = true;
    this.committed();
  }

  /** Every known member, by id. */
  members(): ReadonlyMap<number, MemberRecord> {
    if (this.#cache !== undefined) return this.#cache;
    const members = new Map<number, MemberRecord>();
    for (const { value } of this.#store!.range(TABLE)) {
      const record = JSON.parse(decoder.decode(value)) as MemberRecord;
      members.set(record.id, record);
    }
    this.#cache = members;
    return members;
  }

  /** Called after any committed change of the directory. Returns an unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
