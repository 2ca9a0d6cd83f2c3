// Requests only the leader can answer (lease keep-alives and remaining TTLs live in the leader's
// memory) are forwarded by a follower to the leader's HTTP API, one hop only: a forwarded
// request that reaches a node which is no longer the leader is answered 421 with the leader it
// knows, and the client retries there.
import { ApiError } from './errors.ts';
import { httpJson } from './http-json.ts';
import type { RunningParts } from './host.ts';
import type { JsonReply, RequestContext } from './router.ts';

export const FORWARDED_HEADER = 'x-cairn-forwarded-by';

export function notLeader(context: RequestContext, leaderId: number): ApiError {
  const leaderEndpoint = leaderId === 0 ? undefined : context.host.memberClientAddress(leaderId);
  return new ApiError(421, 'not-leader', `this node is not the leader${leaderId === 0 ? ' and knows none' : `; node ${leaderId} is`}: send the request there`, {
    retryable: true, ...(leaderId === 0 ? {} : { leaderId }), ...(leaderEndpoint === undefined ? {} : { leaderEndpoint }),
  });
}

/** Answers `context`'s request with the leader's answer to the same request. */
export async function forwardToLeader(context: RequestContext, parts: RunningParts, body: Buffer | undefined): Promise<JsonReply> {
  const leaderId = parts.raft.leaderId;
  if (context.request.headers[FORWARDED_HEADER] !== undefined) throw notLeader(context, leaderId);
  if (leaderId === 0) throw new ApiError(503, 'no-leader', 'no leader is known right now (election in progress?); retry shortly', { retryable: true }, { 'retry-after': '1' });
  const endpoint = context.host.memberClientAddress(leaderId);
  if (endpoint === undefined) throw notLeader(context, leaderId);
  try {
    return await send(endpoint, context, body);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(503, 'no-leader', `the leader (node ${leaderId} at ${endpoint}) did not answer: ${(error as Error).message}; retry shortly`, { retryable: true, leaderId, leaderEndpoint: endpoint });
  }
}

async function send(endpoint: string, context: RequestContext, body: Buffer | undefined): Promise<JsonReply> {
  const answer = await httpJson(endpoint, context.request.method ?? 'GET', context.target, {
    headers: { [FORWARDED_HEADER]: String(context.host.nodeId()) },
    ...(body === undefined || body.length === 0 ? {} : { body: JSON.parse(body.toString('utf8')) as unknown }),
    timeoutMs: context.host.settings.requestTimeoutMs,
  });
  return { status: answer.status, body: answer.body };
}
