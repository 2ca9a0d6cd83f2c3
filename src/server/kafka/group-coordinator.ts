// The consumer group coordinator (Kafka's classic group protocol), on the Raft leader only and in
// memory only: membership, generations and assignments are rebuilt by the clients after a leader
// change (they get NOT_COORDINATOR, find the new leader and rejoin). Committed offsets are not
// here: they go through Raft (commit-offsets) and survive failover.
//
// States (Kafka's names): Empty → PreparingRebalance (members (re)join; completes when every
// known member has joined, or at the rebalance deadline without the missing ones) →
// CompletingRebalance (the leader computes assignments with its client-side assignor; the broker
// passes the protocol metadata through) → Stable (after the leader's SyncGroup). A join, leave or
// expired session sends the group back to PreparingRebalance. Time is the injected clock's, checked
// by check() on the broker's timer, so tests can drive it.
import { randomUUID } from 'node:crypto';
import { KAFKA_ERROR } from '../../protocol/kafka/index.ts';
import type { JoinGroupRequest, JoinGroupResponseMember, SyncGroupRequestAssignment } from '../../protocol/kafka/index.ts';
import type { KafkaGroupSettings } from './options.ts';

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinOutcome {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: JoinGroupResponseMember[];
}

export interface SyncOutcome {
  readonly errorCode: number;
  readonly assignment: Uint8Array;
}

export interface JoinContext {
  readonly clientId: string;
  readonly clientHost: string;
}

interface Member {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Uint8Array }[];
  assignment: Uint8Array;
  lastHeartbeatMs: number;
  joinWaiter: ((outcome: JoinOutcome) => void) | undefined;
  syncWaiter: ((outcome: SyncOutcome) => void) | undefined;
}

interface Group {
  readonly groupId: string;
  state: GroupStateName;
  generationId: number;
  protocolType: string;
  protocolName: string;
  leaderId: string;
  readonly members: Map<string, Member>;
  /** PreparingRebalance: join completes by this time even if members are missing. CompletingRebalance: the leader must sync by then. */
  deadlineMs: number;
  /** PreparingRebalance of a new group: do not complete before this (more members may be coming). */
  opensAtMs: number;
}

export interface DescribedGroupState {
  readonly groupId: string;
  readonly state: GroupStateName | 'Dead';
  readonly protocolType: string;
  readonly protocolName: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly clientId: string;
    readonly clientHost: string;
    readonly metadata: Uint8Array;
    readonly assignment: Uint8Array;
  }[];
}

export interface CoordinatorLimits {
  readonly groupsMax: number;
  readonly membersPerGroupMax: number;
}

const EMPTY = new Uint8Array(0);

export class GroupCoordinator {
  readonly #settings: KafkaGroupSettings;
  readonly #limits: CoordinatorLimits;
  readonly #now: () => number;
  readonly #groups = new Map<string, Group>();

  constructor(settings: KafkaGroupSettings, limits: CoordinatorLimits, now: () => number) {
    this.#settings = settings;
    this.#limits = limits;
    this.#now = now;
  }

  get groupCount(): number {
    return this.#groups.size;
  }

  /** Resolves when the group's join phase completes for this member (or fails at once). */
  join(request: JoinGroupRequest, context: JoinContext): Promise<JoinOutcome> | JoinOutcome {
    const { groupId, memberId } = request;
    const refused = this.#checkJoin(request);
    if (refused !== undefined) return joinError(refused, memberId);
    let group = this.#groups.get(groupId);
    if (group === undefined) {
      if (this.#groups.size >= this.#limits.groupsMax) return joinError(KAFKA_ERROR.COORDINATOR_NOT_AVAILABLE, memberId);
      group = { groupId, state: 'Empty', generationId: 0, protocolType: request.protocolType, protocolName: '', leaderId: '', members: new Map(), deadlineMs: 0, opensAtMs: 0 };
      this.#groups.set(groupId, group);
    }
    if (group.members.size > 0 && (group.protocolType !== request.protocolType || !this.#sharesProtocol(group, request))) {
      return joinError(KAFKA_ERROR.INCONSISTENT_GROUP_PROTOCOL, memberId);
    }
    let member = memberId === '' ? undefined : group.members.get(memberId);
    if (memberId !== '' && member === undefined) return joinError(KAFKA_ERROR.UNKNOWN_MEMBER_ID, memberId);
    if (member === undefined) {
      if (group.members.size >= this.#limits.membersPerGroupMax) return joinError(KAFKA_ERROR.GROUP_MAX_SIZE_REACHED, memberId);
      const newId = `${context.clientId || 'member'}-${randomUUID()}`;
      member = this.#addMember(group, newId, request, context);
    }
    this.#updateMember(member, request, context);
    return new Promise<JoinOutcome>((resolve) => {
      member.joinWaiter?.(joinError(KAFKA_ERROR.UNKNOWN_MEMBER_ID, member.memberId)); // a duplicate join from the same member: the older one loses
      member.joinWaiter = resolve;
      if (group.state !== 'PreparingRebalance') this.#prepareRebalance(group);
      this.#maybeCompleteJoin(group);
    });
  }

  #checkJoin(request: JoinGroupRequest): number | undefined {
    if (request.groupId === '') return KAFKA_ERROR.INVALID_GROUP_ID;
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.#settings;
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) return KAFKA_ERROR.INVALID_SESSION_TIMEOUT;
    if (request.protocolType === '' || request.protocols.length === 0) return KAFKA_ERROR.INCONSISTENT_GROUP_PROTOCOL;
    return undefined;
  }

  /** Every current member supports at least one protocol the joining member offers. */
  #sharesProtocol(group: Group, request: JoinGroupRequest): boolean {
    const offered = new Set(request.protocols.map((protocol) => protocol.name));
    const common = this.#commonProtocols(group, request.memberId);
    return common === undefined ? true : [...common].some((name) => offered.has(name));
  }

  /** Protocols every member (except `exceptMemberId`) supports; undefined when there is no such member. */
  #commonProtocols(group: Group, exceptMemberId: string): Set<string> | undefined {
    let common: Set<string> | undefined;
    for (const member of group.members.values()) {
      if (member.memberId === exceptMemberId) continue;
      const names = new Set(member.protocols.map((protocol) => protocol.name));
      common = common === undefined ? names : new Set([...common].filter((name) => names.has(name)));
    }
    return common;
  }

  #addMember(group: Group, memberId: string, request: JoinGroupRequest, context: JoinContext): Member {
    const member: Member = {
      memberId, groupInstanceId: request.groupInstanceId, clientId: context.clientId, clientHost: context.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: 0, protocols: [], assignment: EMPTY,
      lastHeartbeatMs: this.#now(), joinWaiter: undefined, syncWaiter: undefined,
    };
    group.members.set(memberId, member);
    if (group.members.size === 1) group.protocolType = request.protocolType;
    return member;
  }

  #updateMember(member: Member, request: JoinGroupRequest, context: JoinContext): void {
    member.clientId = context.clientId;
    member.clientHost = context.clientHost;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    // JoinGroup v0 has no rebalance timeout (-1): Kafka uses the session timeout.
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs;
    member.protocols = request.protocols.map((protocol) => ({ name: protocol.name, metadata: Uint8Array.from(protocol.metadata) }));
    member.lastHeartbeatMs = this.#now();
  }

  #prepareRebalance(group: Group): void {
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    for (const member of group.members.values()) this.#answerSync(member, { errorCode: KAFKA_ERROR.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    const now = this.#now();
    const rebalanceTimeoutMs = Math.max(...[...group.members.values()].map((member) => member.rebalanceTimeoutMs), 0);
    group.deadlineMs = now + rebalanceTimeoutMs;
    group.opensAtMs = wasEmpty ? now + Math.min(this.#settings.initialRebalanceDelayMs, rebalanceTimeoutMs) : now;
  }

  #maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    const now = this.#now();
    const everyoneJoined = [...group.members.values()].every((member) => member.joinWaiter !== undefined);
    if ((everyoneJoined && now >= group.opensAtMs) || now >= group.deadlineMs) this.#completeJoin(group);
  }

  #completeJoin(group: Group): void {
    for (const member of [...group.members.values()]) {
      if (member.joinWaiter === undefined) group.members.delete(member.memberId); // did not rejoin in time
    }
    group.generationId++;
    if (group.members.size === 0) {
      this.#becomeEmpty(group);
      return;
    }
    group.protocolName = this.#selectProtocol(group);
    if (!group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    const now = this.#now();
    group.deadlineMs = now + Math.max(...[...group.members.values()].map((member) => member.rebalanceTimeoutMs));
    const everyone = [...group.members.values()].map((member) => ({
      memberId: member.memberId, groupInstanceId: member.groupInstanceId, metadata: metadataFor(member, group.protocolName),
    }));
    for (const member of group.members.values()) {
      const waiter = member.joinWaiter!;
      member.joinWaiter = undefined;
      member.assignment = EMPTY;
      member.lastHeartbeatMs = now;
      waiter({
        errorCode: KAFKA_ERROR.NONE, generationId: group.generationId, protocolName: group.protocolName, leader: group.leaderId,
        memberId: member.memberId, members: member.memberId === group.leaderId ? everyone : [],
      });
    }
  }

  /** Kafka's vote: among the protocols every member supports, each member votes for its most preferred. */
  #selectProtocol(group: Group): string {
    const common = this.#commonProtocols(group, '') ?? new Set<string>();
    const votes = new Map<string, number>();
    for (const member of group.members.values()) {
      const choice = member.protocols.find((protocol) => common.has(protocol.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  #becomeEmpty(group: Group): void {
    group.state = 'Empty';
    group.leaderId = '';
    group.protocolName = '';
    this.#groups.delete(group.groupId); // nothing left to remember: committed offsets live in the log
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: readonly SyncGroupRequestAssignment[]): Promise<SyncOutcome> | SyncOutcome {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return { errorCode: KAFKA_ERROR.UNKNOWN_MEMBER_ID, assignment: EMPTY };
    if (generationId !== group.generationId) return { errorCode: KAFKA_ERROR.ILLEGAL_GENERATION, assignment: EMPTY };
    member.lastHeartbeatMs = this.#now();
    if (group.state === 'PreparingRebalance') return { errorCode: KAFKA_ERROR.REBALANCE_IN_PROGRESS, assignment: EMPTY };
    if (group.state === 'Stable') return { errorCode: KAFKA_ERROR.NONE, assignment: member.assignment };
    return new Promise<SyncOutcome>((resolve) => {
      this.#answerSync(member, { errorCode: KAFKA_ERROR.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      member.syncWaiter = resolve;
      if (memberId === group.leaderId) this.#completeSync(group, assignments);
    });
  }

  #completeSync(group: Group, assignments: readonly SyncGroupRequestAssignment[]): void {
    for (const { memberId, assignment } of assignments) {
      const target = group.members.get(memberId);
      if (target !== undefined) target.assignment = Uint8Array.from(assignment);
    }
    group.state = 'Stable';
    for (const member of group.members.values()) this.#answerSync(member, { errorCode: KAFKA_ERROR.NONE, assignment: member.assignment });
  }

  #answerSync(member: Member, outcome: SyncOutcome): void {
    const waiter = member.syncWaiter;
    member.syncWaiter = undefined;
    waiter?.(outcome);
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.#groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return KAFKA_ERROR.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return KAFKA_ERROR.ILLEGAL_GENERATION;
    member.lastHeartbeatMs = this.#now();
    return group.state === 'PreparingRebalance' ? KAFKA_ERROR.REBALANCE_IN_PROGRESS : KAFKA_ERROR.NONE;
  }

  /** Removes members; UNKNOWN_MEMBER_ID for those not in the group. */
  leave(groupId: string, memberIds: readonly string[]): number[] {
    const group = this.#groups.get(groupId);
    const codes = memberIds.map((memberId) => (group?.members.has(memberId) === true ? KAFKA_ERROR.NONE : KAFKA_ERROR.UNKNOWN_MEMBER_ID));
    if (group === undefined) return codes;
    const leaving = memberIds.filter((memberId) => group.members.has(memberId));
    if (leaving.length > 0) this.#removeMembers(group, leaving);
    return codes;
  }

  #removeMembers(group: Group, memberIds: readonly string[]): void {
    for (const memberId of memberIds) {
      const member = group.members.get(memberId)!;
      group.members.delete(memberId);
      member.joinWaiter?.(joinError(KAFKA_ERROR.UNKNOWN_MEMBER_ID, memberId));
      this.#answerSync(member, { errorCode: KAFKA_ERROR.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    }
    if (group.members.size === 0) {
      group.generationId++;
      this.#becomeEmpty(group);
    } else if (group.state === 'PreparingRebalance') {
      this.#maybeCompleteJoin(group);
    } else {
      this.#prepareRebalance(group);
    }
  }

  /**
   * An OffsetCommit's right to commit (Kafka's rules): a group without members (the coordinator
   * forgets empty groups) accepts commits only from outside group management (generation < 0); a
   * group with members needs a current member and generation. While a rebalance is being
   * prepared, members still commit with their current generation (so they can commit what they
   * consumed before rejoining); between join and sync they get REBALANCE_IN_PROGRESS.
   */
  checkCommit(groupId: string, generationId: number, memberId: string): number {
    const group = this.#groups.get(groupId);
    if (group === undefined) return generationId < 0 ? KAFKA_ERROR.NONE : KAFKA_ERROR.ILLEGAL_GENERATION;
    const member = group.members.get(memberId);
    if (member === undefined) return KAFKA_ERROR.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return KAFKA_ERROR.ILLEGAL_GENERATION;
    // Between the join and the leader's sync the member has a generation but no assignment yet.
    if (group.state === 'CompletingRebalance') return KAFKA_ERROR.REBALANCE_IN_PROGRESS;
    member.lastHeartbeatMs = this.#now();
    return KAFKA_ERROR.NONE;
  }

  /** Expired sessions, rebalance and sync deadlines; called on a timer. */
  check(): void {
    const now = this.#now();
    for (const group of [...this.#groups.values()]) {
      if (group.state === 'PreparingRebalance') {
        this.#maybeCompleteJoin(group);
        continue;
      }
      // A leader that never synced: everyone who did not sync starts over.
      if (group.state === 'CompletingRebalance' && now >= group.deadlineMs) {
        const missing = [...group.members.values()].filter((member) => member.syncWaiter === undefined).map((member) => member.memberId);
        if (missing.length > 0) {
          this.#removeMembers(group, missing);
          continue;
        }
      }
      const expired = [...group.members.values()].filter((member) => member.joinWaiter === undefined && now - member.lastHeartbeatMs > member.sessionTimeoutMs);
      if (expired.length > 0) this.#removeMembers(group, expired.map((member) => member.memberId));
    }
  }

  describe(groupId: string): DescribedGroupState | undefined {
    const group = this.#groups.get(groupId);
    if (group === undefined) return undefined;
    return {
      groupId, state: group.state, protocolType: group.protocolType, protocolName: group.state === 'Stable' || group.state === 'CompletingRebalance' ? group.protocolName : '',
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId, clientHost: member.clientHost,
        metadata: group.state === 'Stable' || group.state === 'CompletingRebalance' ? metadataFor(member, group.protocolName) : EMPTY,
        assignment: group.state === 'Stable' ? member.assignment : EMPTY,
      })),
    };
  }

  list(): { groupId: string; protocolType: string }[] {
    return [...this.#groups.values()].map((group) => ({ groupId: group.groupId, protocolType: group.protocolType }));
  }

  /** This node stopped coordinating (lost leadership, or the broker stops): fail every waiter with `errorCode`, forget everything. */
  clear(errorCode: number): void {
    for (const group of this.#groups.values()) {
      for (const member of group.members.values()) {
        const waiter = member.joinWaiter;
        member.joinWaiter = undefined;
        waiter?.(joinError(errorCode, member.memberId));
        this.#answerSync(member, { errorCode, assignment: EMPTY });
      }
    }
    this.#groups.clear();
  }
}

function joinError(errorCode: number, memberId: string): JoinOutcome {
  return { errorCode, generationId: -1, protocolName: '', leader: '', memberId, members: [] };
}

function metadataFor(member: Member, protocolName: string): Uint8Array {
  return member.protocols.find((protocol) => protocol.name === protocolName)?.metadata ?? EMPTY;
}
