// The joining side of --join: learn the cluster id from any member, then ask a member to add this
// node as a learner (POST /v1/cluster/join, with a proof of the cluster secret). Both steps retry
// with backoff and jitter across the given endpoints while the cluster cannot answer yet (no
// leader, not initialized, unreachable); a refusal (wrong secret, id taken) fails at once.
// The join request is idempotent, so retrying after an unknown outcome is safe.
import type { NodeLogger } from '../../runtime/logger.ts';
import type { WireClusterStatus, WireJoinRequest, WireJoinResponse } from '../http/api-types.ts';
import { httpJson } from '../http/http-json.ts';
import type { HttpJsonAnswer } from '../http/http-json.ts';
import { CairnNodeError } from './options.ts';

const REFUSALS = new Set([400, 403, 404, 409, 413]);
const RETRYABLE_CONFLICTS = new Set(['conf-change-pending']);

export interface JoinContext {
  readonly endpoints: readonly string[];
  readonly deadline: number;
  readonly logger: NodeLogger;
  /** Stops the retry loop (the node is being stopped). */
  readonly cancelled: () => boolean;
}

async function pause(attempt: number): Promise<void> {
  const ceiling = Math.min(2000, 100 * 2 ** attempt);
  await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2)));
}

/** Calls `attempt` on the endpoints in turn until it returns a value, refuses, or time is up. */
async function withRetries<T>(context: JoinContext, what: string, attempt: (endpoint: string) => Promise<T | { retry: string }>): Promise<T> {
  let lastProblem = 'no attempt was made';
  for (let round = 0; ; round++) {
    for (const endpoint of context.endpoints) {
      if (context.cancelled()) throw new CairnNodeError('join-failed', `${what}: the node was stopped`);
      const remaining = context.deadline - Date.now();
      if (remaining <= 0) throw new CairnNodeError('join-failed', `${what} did not succeed in time; last problem: ${lastProblem}`);
      try {
        const result = await attempt(endpoint);
        if (typeof result !== 'object' || result === null || !('retry' in result)) return result as T;
        lastProblem = `${endpoint}: ${result.retry}`;
      } catch (error) {
        if (error instanceof CairnNodeError) throw error;
        lastProblem = `${endpoint}: ${(error as Error).message}`;
      }
      context.logger.debug({ endpoint, problem: lastProblem }, `${what}: retrying`);
    }
    await pause(round);
  }
}

function problemOf(answer: HttpJsonAnswer): { code: string; message: string } {
  const body = answer.body as { code?: unknown; message?: unknown } | null;
  return { code: String(body?.code ?? `http-${answer.status}`), message: String(body?.message ?? `HTTP ${answer.status}`) };
}

/** The cluster id, from the first member that belongs to a running cluster. */
export function discoverClusterId(context: JoinContext): Promise<string> {
  return withRetries(context, 'finding the cluster to join', async (endpoint) => {
    const answer = await httpJson(endpoint, 'GET', '/v1/cluster?scope=local', { timeoutMs: 2000 });
    if (answer.status !== 200) return { retry: `${problemOf(answer).code}: ${problemOf(answer).message}` };
    const status = answer.body as WireClusterStatus;
    if (status.node.phase !== 'running' || typeof status.clusterId !== 'string') return { retry: `the member is ${status.node.phase}, not part of a running cluster yet` };
    return status.clusterId;
  });
}

/** `makeRequest` is called per attempt, so each carries a fresh timestamp in its proof. */
export function requestJoin(context: JoinContext, makeRequest: () => WireJoinRequest, timeoutMs: number): Promise<WireJoinResponse> {
  return withRetries(context, 'joining the cluster', async (endpoint) => {
    const answer = await httpJson(endpoint, 'POST', '/v1/cluster/join', { body: makeRequest(), timeoutMs });
    if (answer.status === 200) return answer.body as WireJoinResponse;
    const problem = problemOf(answer);
    if (REFUSALS.has(answer.status) && !RETRYABLE_CONFLICTS.has(problem.code)) {
      throw new CairnNodeError('join-refused', `${endpoint} refused the join (${problem.code}): ${problem.message}`);
    }
    return { retry: `${problem.code}: ${problem.message}` };
  });
}
