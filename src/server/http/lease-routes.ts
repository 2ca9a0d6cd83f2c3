// /v1/leases: grant and revoke go through the log (any node); keep-alive and the remaining TTL
// are the leader's (its Lessor holds the deadlines), so followers forward those to the leader.
import type { LeaseGrantResult, LeaseRevokeResult } from '../../state/kv/kv-state.ts';
import type { WireLease, WireLeaseGrantResponse, WireLeaseKeepAliveResponse, WireLeaseList, WireLeaseRevokeResponse } from './api-types.ts';
import { allowFields, allowQuery, optionalInteger, queryFlag, readJsonObject, requiredInteger } from './body.ts';
import { keyToWire } from './codec.ts';
import { badRequest, fromKvError } from './errors.ts';
import { forwardToLeader } from './leader-proxy.ts';
import { encodingOf, ok, proposeKv, readPoint, requireRunning } from './route-helpers.ts';
import type { JsonReply, RequestContext, Route } from './router.ts';

const LEASE_KEYS_LISTED_MAX = 1000;

export function leaseRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/leases', handler: grant },
    { method: 'GET', path: '/v1/leases', handler: list },
    { method: 'GET', path: '/v1/leases/:id', handler: get },
    { method: 'DELETE', path: '/v1/leases/:id', handler: revoke },
    { method: 'POST', path: '/v1/leases/:id/keep-alive', handler: keepAlive },
  ];
}

function leaseId(context: RequestContext): number {
  const raw = context.params['id']!;
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw badRequest('lease-id-invalid', `lease id ${JSON.stringify(raw.slice(0, 30))} must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
  return Number(raw);
}

async function grant(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const body = await readJsonObject(context.request, 4096);
  allowFields(body, ['ttlSeconds', 'id'], 'lease grant');
  const ttlSeconds = requiredInteger(body, 'ttlSeconds', 1);
  const id = optionalInteger(body, 'id', 1);
  const result = await proposeKv(context.host, parts, { type: 'lease-grant', ttlSeconds, ...(id === undefined ? {} : { id }) }) as LeaseGrantResult;
  return ok({ id: result.id, ttlSeconds: result.ttlSeconds, revision: result.revision } satisfies WireLeaseGrantResponse);
}

async function list(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['consistency']);
  const parts = requireRunning(context.host);
  await readPoint(context, parts);
  const leases = parts.kv.leases().map((lease) => ({ id: lease.id, ttlSeconds: lease.ttlSeconds }));
  return ok({ leases } satisfies WireLeaseList);
}

async function get(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['keys', 'encoding']);
  const parts = requireRunning(context.host);
  const id = leaseId(context);
  const withKeys = queryFlag(context.query, 'keys');
  const encoding = encodingOf(context);
  if (parts.raft.role !== 'leader') return forwardToLeader(context, parts, undefined);
  await parts.raft.readBarrier(context.host.settings.requestTimeoutMs);
  const known = parts.lessor.timeToLive(id);
  if ('code' in known) throw fromKvError(known);
  const lease: WireLease = { id, ttlSeconds: known.ttlSeconds, remainingMs: known.remainingMs === undefined ? null : Math.round(known.remainingMs) };
  if (!withKeys) return ok(lease);
  return ok({ ...lease, keys: parts.kv.leaseKeys(id, LEASE_KEYS_LISTED_MAX).map((key) => keyToWire(key, encoding)) });
}

async function revoke(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const id = leaseId(context);
  const result = await proposeKv(context.host, parts, { type: 'lease-revoke', id }) as LeaseRevokeResult;
  return ok({ id: result.id, revision: result.revision, deleted: result.deleted } satisfies WireLeaseRevokeResponse);
}

async function keepAlive(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const parts = requireRunning(context.host);
  const id = leaseId(context);
  if (parts.raft.role !== 'leader') return forwardToLeader(context, parts, undefined);
  let renewed = parts.lessor.keepAlive(id);
  if ('code' in renewed && renewed.code === 'lease-not-found') {
    // A grant acknowledged by another node may not be applied here yet: wait for it once.
    await parts.raft.readBarrier(context.host.settings.requestTimeoutMs);
    renewed = parts.lessor.keepAlive(id);
  }
  if ('code' in renewed) throw fromKvError(renewed);
  return ok({ id: renewed.id, ttlSeconds: renewed.ttlSeconds } satisfies WireLeaseKeepAliveResponse);
}
