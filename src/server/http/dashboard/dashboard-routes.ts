// The dashboard's routes: the page (GET /) and its files (GET /dashboard/<file>), and the JSON it
// polls once a second — GET /v1/dashboard/state (cluster status, merged activity and the Kafka
// log in one round trip) built from GET /v1/dashboard/stats (per node, or merged over members)
// and GET /v1/dashboard/topics. Every node serves all of them, followers included; a member that
// does not answer is reported as such and the rest is still shown.
import { allowQuery, queryInteger } from '../body.ts';
import { clusterStatus, localClusterStatus } from '../cluster-status.ts';
import { ApiError, badRequest } from '../errors.ts';
import type { ApiHost } from '../host.ts';
import { httpJson } from '../http-json.ts';
import { ok } from '../route-helpers.ts';
import type { JsonReply, RequestContext, Route } from '../router.ts';
import { parseLocalStats } from './stats-check.ts';
import { mergeStats } from './stats-merge.ts';
import type { MemberStatsAnswer } from './stats-merge.ts';
import { SECURITY_HEADERS, sendAsset } from './static-assets.ts';
import { topicsView, unavailableTopicsView } from './topics-view.ts';
import type { WireClusterStats, WireDashboardState, WireTopicsView } from './wire-types.ts';

/** Members are asked with this deadline by default: the page polls every second. */
const MEMBER_TIMEOUT_MS_DEFAULT = 800;
const MEMBER_TIMEOUT_MS_MAX = 10_000;

export function dashboardRoutes(): Route[] {
  return [
    { method: 'GET', path: '/', handler: page },
    { method: 'GET', path: '/dashboard/:asset', handler: asset },
    { method: 'GET', path: '/v1/dashboard/state', handler: state },
    { method: 'GET', path: '/v1/dashboard/stats', handler: stats },
    { method: 'GET', path: '/v1/dashboard/topics', handler: topics },
  ];
}

async function page(context: RequestContext): Promise<'streamed'> {
  // Query parameters are ignored: the page reads nothing from its URL but the fragment.
  sendAsset('index.html', context.request.headers['if-none-match'], context.response);
  return 'streamed';
}

async function asset(context: RequestContext): Promise<'streamed'> {
  const name = context.params['asset']!;
  if (!sendAsset(name, context.request.headers['if-none-match'], context.response)) {
    throw new ApiError(404, 'not-found', `the dashboard has no file ${JSON.stringify(name.slice(0, 100))}`, {}, SECURITY_HEADERS);
  }
  return 'streamed';
}

function sinceSecondOf(context: RequestContext): number {
  return queryInteger(context.query, 'sinceSecond', 0) ?? 0;
}

function timeoutOf(context: RequestContext): number {
  return queryInteger(context.query, 'timeoutMs', 1, MEMBER_TIMEOUT_MS_MAX) ?? MEMBER_TIMEOUT_MS_DEFAULT;
}

async function stats(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['scope', 'sinceSecond', 'timeoutMs']);
  const scope = context.query.get('scope') ?? 'cluster';
  if (scope !== 'local' && scope !== 'cluster') throw badRequest('bad-request', 'scope must be "cluster" (default: every member merged) or "local" (this node only)');
  const since = sinceSecondOf(context);
  if (scope === 'local') return ok(localStats(context.host, since));
  return ok(await clusterStats(context.host, since, timeoutOf(context)));
}

async function topics(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  return ok(localTopics(context.host));
}

async function state(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, ['sinceSecond', 'timeoutMs']);
  const { host } = context;
  const timeoutMs = timeoutOf(context);
  const [cluster, merged] = await Promise.all([clusterStatus(host, timeoutMs), clusterStats(host, sinceSecondOf(context), timeoutMs)]);
  const body: WireDashboardState = { timeMs: Date.now(), servedBy: host.nodeId(), cluster, stats: merged, topics: localTopics(host) };
  return ok(body);
}

function localStats(host: ApiHost, sinceSecond: number): unknown {
  const recorder = host.activity?.();
  if (recorder === undefined) throw new ApiError(404, 'not-found', 'this node keeps no activity statistics');
  return recorder.localStats(sinceSecond);
}

export function localTopics(host: ApiHost): WireTopicsView {
  const parts = host.running();
  if (parts?.log === undefined) return unavailableTopicsView(host.nodeId());
  return topicsView(parts.log, host.nodeId(), host.localStatus().appliedIndex);
}

async function askStats(endpoint: string, sinceSecond: number, timeoutMs: number): Promise<MemberStatsAnswer['answer']> {
  if (endpoint === '') return 'no client address is known for this member';
  try {
    const answer = await httpJson(endpoint, 'GET', `/v1/dashboard/stats?scope=local&sinceSecond=${sinceSecond}`, { timeoutMs });
    if (answer.status !== 200) return `answered ${answer.status}: ${String((answer.body as { message?: unknown } | null)?.message ?? '').slice(0, 200)}`;
    return parseLocalStats(answer.body);
  } catch (error) {
    return (error as Error).message;
  }
}

/** Every member's seconds merged (this node's own directly, the others' over HTTP in parallel). */
export async function clusterStats(host: ApiHost, sinceSecond: number, timeoutMs: number): Promise<WireClusterStats> {
  const selfId = host.nodeId();
  const recorder = host.activity?.();
  const members = localClusterStatus(host).members;
  const targets = members.some((member) => member.id === selfId) ? members : [...members, { id: selfId, client: host.clientAddress() }];
  const answers = await Promise.all(targets.map(async (member): Promise<MemberStatsAnswer> => ({
    nodeId: member.id,
    answer: member.id !== selfId ? await askStats(member.client, sinceSecond, timeoutMs) : recorder?.localStats(sinceSecond) ?? 'this node keeps no activity statistics',
  })));
  return mergeStats(answers, sinceSecond, Date.now());
}
