// /v1/cluster: status, init, learners, promote, membership changes (joint), remove, leader
// transfer, and /v1/cluster/join (called by a node started with --join).
import type { ConfChange, ConfChangeSingle } from '../../core/index.ts';
import { encodeMembershipContext } from '../../state/members/member-directory.ts';
import type { MemberAddresses } from '../../state/members/member-directory.ts';
import type { WireJoinRequest, WireJoinResponse, WireMembershipResponse } from './api-types.ts';
import { allowFields, allowQuery, optionalBoolean, optionalInteger, optionalString, queryInteger, readJsonObject, requiredInteger } from './body.ts';
import type { JsonObject } from './body.ts';
import { clusterStatus, configToWire, localClusterStatus } from './cluster-status.ts';
import { ApiError, badRequest } from './errors.ts';
import type { RunningParts } from './host.ts';
import { splitEndpoint } from './http-json.ts';
import { ok, requireRunning } from './route-helpers.ts';
import type { JsonReply, RequestContext, Route } from './router.ts';

const ADDRESS_LENGTH_MAX = 512;
const ADDRESS_FIELDS = ['peer', 'client', 'kafka', 'name', 'autoPromote'];
const STATUS_TIMEOUT_MS_DEFAULT = 1000;

export function clusterRoutes(): Route[] {
  return [
    { method: 'GET', path: '/v1/cluster', handler: status },
    { method: 'POST', path: '/v1/cluster/init', handler: init },
    { method: 'POST', path: '/v1/cluster/join', handler: join },
    { method: 'POST', path: '/v1/cluster/learners', handler: addLearner },
    { method: 'POST', path: '/v1/cluster/members/:id/promote', handler: promote },
    { method: 'DELETE', path: '/v1/cluster/members/:id', handler: remove },
    { method: 'POST', path: '/v1/cluster/membership', handler: changeMembership },
    { method: 'POST', path: '/v1/cluster/transfer-leader', handler: transferLeader },
  ];
}

async function status(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['scope', 'timeoutMs']);
  const scope = context.query.get('scope') ?? 'cluster';
  if (scope !== 'local' && scope !== 'cluster') throw badRequest('bad-request', 'scope must be "cluster" (default: ask every member) or "local" (this node only)');
  if (scope === 'local') return ok(localClusterStatus(context.host));
  return ok(await clusterStatus(context.host, queryInteger(context.query, 'timeoutMs', 1, 60_000) ?? STATUS_TIMEOUT_MS_DEFAULT));
}

async function init(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const body = await readJsonObject(context.request, 4096, true);
  allowFields(body, ['clusterId'], 'init');
  return ok(await context.host.init(optionalString(body, 'clusterId', 128)));
}

function memberId(context: RequestContext): number {
  const raw = context.params['id']!;
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw badRequest('bad-request', `member id ${JSON.stringify(raw.slice(0, 30))} must be a whole number >= 1`);
  return Number(raw);
}

function address(object: JsonObject, name: string, required: boolean): string | undefined {
  const value = optionalString(object, name, ADDRESS_LENGTH_MAX);
  if (value === undefined) {
    if (required) throw badRequest('bad-request', `${name} (host:port) is required`);
    return undefined;
  }
  if (splitEndpoint(value) === undefined) throw badRequest('bad-request', `${name} ${JSON.stringify(value.slice(0, 80))} is not host:port (IPv6 as [addr]:port)`);
  return value;
}

/** Addresses of a node being added, from a request object. */
function addressesFrom(object: JsonObject): MemberAddresses {
  const peer = address(object, 'peer', true)!;
  const client = address(object, 'client', true)!;
  const kafka = address(object, 'kafka', false);
  const name = optionalString(object, 'name', 128);
  const autoPromote = optionalBoolean(object, 'autoPromote');
  return { peer, client, ...(kafka === undefined ? {} : { kafka }), ...(name === undefined ? {} : { name }), ...(autoPromote === true ? { autoPromote } : {}) };
}

async function applyChange(context: RequestContext, parts: RunningParts, change: ConfChange): Promise<JsonReply> {
  const config = await parts.raft.changeMembership(change, context.host.settings.requestTimeoutMs);
  return ok({ config: configToWire(config) } satisfies WireMembershipResponse);
}

async function addLearner(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 8192);
  allowFields(body, ['nodeId', ...ADDRESS_FIELDS], 'add-learner');
  const nodeId = requiredInteger(body, 'nodeId', 1);
  const addresses = addressesFrom(body);
  return applyChange(context, parts, {
    changes: [{ action: 'add-learner', nodeId }],
    context: encodeMembershipContext({ members: { [String(nodeId)]: addresses } }),
  });
}

async function promote(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const nodeId = memberId(context);
  if (!parts.raft.raftStatus().config.learners.includes(nodeId)) {
    throw new ApiError(404, 'not-a-learner', `node ${nodeId} is not a learner of this cluster (see GET /v1/cluster)`);
  }
  return applyChange(context, parts, { changes: [{ action: 'add-voter', nodeId }] });
}

async function remove(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const nodeId = memberId(context);
  const config = parts.raft.raftStatus().config;
  if (![...config.voters, ...config.votersOutgoing, ...config.learners].includes(nodeId)) {
    throw new ApiError(404, 'not-a-member', `node ${nodeId} is not a member of this cluster (see GET /v1/cluster)`);
  }
  return applyChange(context, parts, { changes: [{ action: 'remove', nodeId }] });
}

async function changeMembership(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 65_536);
  allowFields(body, ['changes', 'transition'], 'membership');
  const list = body['changes'];
  if (!Array.isArray(list) || list.length > 64) throw badRequest('bad-request', 'changes must be an array of at most 64 changes ([] leaves a joint configuration)');
  const transition = body['transition'] ?? 'auto';
  if (transition !== 'auto' && transition !== 'explicit') throw badRequest('bad-request', 'transition must be "auto" or "explicit"');
  const changes: ConfChangeSingle[] = [];
  const added: Record<string, MemberAddresses> = {};
  list.forEach((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badRequest('bad-request', `changes[${index}] must be an object`);
    const object = item as JsonObject;
    allowFields(object, ['action', 'nodeId', ...ADDRESS_FIELDS], `changes[${index}]`);
    const action = object['action'];
    if (action !== 'add-voter' && action !== 'add-learner' && action !== 'remove') throw badRequest('bad-request', `changes[${index}].action must be add-voter, add-learner or remove`);
    const nodeId = requiredInteger(object, 'nodeId', 1);
    changes.push({ action, nodeId });
    if (action !== 'remove' && object['peer'] !== undefined) added[String(nodeId)] = addressesFrom(object);
  });
  return applyChange(context, parts, { changes, transition, ...(Object.keys(added).length === 0 ? {} : { context: encodeMembershipContext({ members: added }) }) });
}

async function transferLeader(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 4096, true);
  allowFields(body, ['nodeId'], 'transfer-leader');
  const target = optionalInteger(body, 'nodeId', 1) ?? pickTransferTarget(parts);
  await parts.raft.transferLeadership(target, context.host.settings.requestTimeoutMs);
  return ok({ leaderId: target });
}

/** The most caught-up voter other than the leader (by the leader's progress when this node leads). */
function pickTransferTarget(parts: RunningParts): number {
  const status = parts.raft.raftStatus();
  const candidates = status.config.voters.filter((id) => id !== status.leaderId);
  if (candidates.length === 0) throw badRequest('bad-request', 'there is no other voter to hand leadership to');
  const match = (id: number): number => status.progress?.[String(id)]?.match ?? 0;
  return [...candidates].sort((a, b) => match(b) - match(a) || a - b)[0]!;
}

async function join(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 8192);
  allowFields(body, ['nodeId', 'timestampMs', 'proof', ...ADDRESS_FIELDS], 'join');
  const nodeId = requiredInteger(body, 'nodeId', 1);
  const addresses = addressesFrom(body);
  const request: WireJoinRequest = { ...addresses, nodeId, timestampMs: requiredInteger(body, 'timestampMs', 0), proof: optionalString(body, 'proof', 128) ?? '' };
  const check = context.host.verifyJoinProof(request);
  if (check === 'secret-mismatch') throw new ApiError(403, 'cluster-secret-mismatch', 'the joining node\'s cluster secret differs from this cluster\'s: start it with the same --cluster-secret');
  if (check === 'clock-skew') throw new ApiError(403, 'clock-skew', 'the join request\'s timestamp is more than 10 minutes from this node\'s clock: fix the clocks');
  const config = parts.raft.raftStatus().config;
  const known = parts.members.members().get(nodeId);
  if ([...config.voters, ...config.votersOutgoing, ...config.learners].includes(nodeId)) {
    // A joiner that crashed after its join was applied asks again: same addresses, same answer.
    if (known?.peer !== addresses.peer) {
      throw new ApiError(409, 'member-exists', `node ${nodeId} is already a member (peer ${known?.peer ?? 'unknown'}); remove it first or give this node another id`);
    }
  } else {
    await parts.raft.changeMembership({
      changes: [{ action: 'add-learner', nodeId }],
      context: encodeMembershipContext({ members: { [String(nodeId)]: addresses } }),
    }, context.host.settings.requestTimeoutMs);
  }
  const members = [...parts.members.members().values()].filter((member) => member.id !== nodeId);
  const answer: WireJoinResponse = { clusterId: context.host.clusterId()!, nodeId, members: [...members, { id: nodeId, ...addresses }] };
  return ok(answer);
}
