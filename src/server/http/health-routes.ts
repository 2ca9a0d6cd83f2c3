// /v1/health (the process serves), /v1/ready (a leader is known and this node has applied
// everything committed: proven by a linearizable read barrier that completes in time) and
// /metrics (Prometheus text).
import type { WireHealth } from './api-types.ts';
import { allowQuery } from './body.ts';
import type { RequestContext, JsonReply, Route } from './router.ts';

export function healthRoutes(): Route[] {
  return [
    { method: 'GET', path: '/v1/health', handler: health },
    { method: 'GET', path: '/v1/ready', handler: ready },
    { method: 'GET', path: '/metrics', handler: metrics },
  ];
}

async function health(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const { host } = context;
  const phase = host.phase();
  const body: WireHealth = { status: phase === 'failed' ? 'failed' : 'ok', nodeId: host.nodeId(), phase, uptimeSeconds: Math.round(host.uptimeSeconds()) };
  if (phase !== 'failed') return { status: 200, body };
  return { status: 503, body: { ...body, code: 'node-failed', message: `the node stopped after a fatal error: ${host.localStatus().failure ?? 'see its log'}` } };
}

async function ready(context: RequestContext): Promise<JsonReply> {
  allowQuery(context.query, []);
  const { host } = context;
  const parts = host.running();
  const notReady = (code: string, message: string): JsonReply => {
    const status = host.localStatus();
    return {
      status: 503,
      headers: { 'retry-after': '1' },
      body: { ready: false, code, reason: code, message, nodeId: host.nodeId(), leaderId: status.leaderId, appliedIndex: status.appliedIndex, commitIndex: status.commitIndex },
    };
  };
  if (host.phase() !== 'running' || parts === undefined) return notReady(host.phase() === 'uninitialized' ? 'not-initialized' : host.phase(), `the node is ${host.phase()}`);
  if (parts.raft.leaderId === 0) return notReady('no-leader', 'no leader is known (election in progress or no quorum)');
  try {
    await parts.raft.readBarrier(host.settings.readyTimeoutMs);
  } catch (error) {
    return notReady('catching-up', `this node could not confirm it has applied everything committed within ${host.settings.readyTimeoutMs} ms (${(error as Error).message})`);
  }
  const status = host.localStatus();
  return { status: 200, body: { ready: true, nodeId: host.nodeId(), leaderId: status.leaderId, appliedIndex: status.appliedIndex, commitIndex: status.commitIndex } };
}

async function metrics(context: RequestContext): Promise<JsonReply | 'streamed'> {
  allowQuery(context.query, []);
  const { contentType, body } = await context.host.metricsText();
  context.response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  context.response.end(body);
  return 'streamed';
}
