// Requests a follower cannot serve itself go to the leader over the peer link: proposals (in
// batches), membership changes and leadership transfers. The leader serves them as if they were
// its own clients'; errors travel back by code. Only one hop: a node that receives a forwarded
// request but is no longer the leader refuses it, so requests never bounce around.
import type { ConfChange, ConfState } from '../core/index.ts';
import { isTransportError } from '../transport/index.ts';
import type { PlainData, Transport } from '../transport/index.ts';
import { NodeError, isNodeError, isNodeErrorCode } from './errors.ts';
import type { ProposalTracker } from './proposals.ts';

/** What the forwarder needs from the node it belongs to. */
export interface ForwardingTarget {
  readonly role: string;
  readonly leaderId: number;
  propose(data: Uint8Array, timeoutMs?: number): Promise<unknown>;
  changeMembership(change: ConfChange, timeoutMs?: number): Promise<ConfState>;
  transferLeadership(target: number, timeoutMs?: number): Promise<void>;
}

type Outcome = { ok: PlainData } | { error: { code: string; message: string; leaderId: number } };

const FORWARD_BATCH_MAX = 1024;

export class Forwarder {
  private readonly transport: Transport;
  private readonly node: ForwardingTarget;
  private readonly now: () => number;

  constructor(transport: Transport, node: ForwardingTarget, now: () => number = () => performance.now()) {
    this.transport = transport;
    this.node = node;
    this.now = now;
  }

  /** Sends the queued proposals to the leader in batches; without a leader they keep waiting. */
  forwardQueued(proposals: ProposalTracker, leaderId: number): void {
    if (leaderId === 0) return;
    for (;;) {
      const batch = proposals.takeBatch().slice(0);
      if (batch.length === 0) return;
      const overflow = batch.splice(FORWARD_BATCH_MAX);
      if (overflow.length > 0) proposals.requeue(overflow);
      const timeoutMs = Math.max(1, Math.max(...batch.map((proposal) => proposal.deadline)) - this.now());
      const payload: PlainData = { type: 'propose', data: batch.map((proposal) => proposal.data) };
      this.transport.request(leaderId, payload, timeoutMs).then(
        (answer) => {
          const outcomes = (answer as { outcomes: Outcome[] }).outcomes;
          batch.forEach((proposal, position) => {
            const outcome = outcomes[position];
            if (outcome !== undefined && 'ok' in outcome) proposal.resolve(outcome.ok);
            else proposal.reject(outcome === undefined ? new NodeError('timeout', 'the leader did not answer this proposal') : errorFromWire(outcome.error));
          });
        },
        (error: unknown) => {
          const mapped = mapTransportError(error, leaderId);
          for (const proposal of batch) proposal.reject(mapped);
        },
      );
      if (overflow.length === 0) return;
    }
  }

  async forwardConfChange(change: ConfChange, leaderId: number, timeoutMs: number): Promise<ConfState> {
    if (leaderId === 0) throw new NodeError('no-leader', 'no leader is known to take the membership change; retry shortly');
    const payload = { type: 'conf-change', change: change as unknown as PlainData };
    return (await this.request(leaderId, payload, timeoutMs)) as unknown as ConfState;
  }

  async forwardTransfer(target: number, leaderId: number, timeoutMs: number): Promise<void> {
    if (leaderId === 0) throw new NodeError('no-leader', 'no leader is known to hand over leadership; retry shortly');
    await this.request(leaderId, { type: 'transfer', target }, timeoutMs);
  }

  private async request(leaderId: number, payload: PlainData, timeoutMs: number): Promise<PlainData> {
    try {
      return await this.transport.request(leaderId, payload, timeoutMs);
    } catch (error) {
      throw mapTransportError(error, leaderId);
    }
  }

  /** The leader's side: serve a forwarded request. */
  async serve(payload: PlainData, from: number): Promise<PlainData> {
    if (this.node.role !== 'leader') throw new NodeError('not-leader', `node ${from} forwarded a request, but this node is no longer the leader`, this.node.leaderId);
    const request = payload as { type?: unknown; data?: unknown; change?: unknown; target?: unknown };
    switch (request.type) {
      case 'propose': {
        if (!Array.isArray(request.data) || !request.data.every((item) => item instanceof Uint8Array)) throw new NodeError('invalid-conf-change', 'malformed forwarded proposal');
        const settled = await Promise.allSettled((request.data as Uint8Array[]).map((data) => this.node.propose(data)));
        const outcomes: Outcome[] = settled.map((item) => item.status === 'fulfilled' ? { ok: item.value as PlainData } : { error: errorToWire(item.reason) });
        return { outcomes } as unknown as PlainData;
      }
      case 'conf-change':
        return (await this.node.changeMembership(request.change as ConfChange)) as unknown as PlainData;
      case 'transfer':
        await this.node.transferLeadership(Number(request.target));
        return null;
      default:
        throw new NodeError('invalid-conf-change', `unknown forwarded request ${JSON.stringify(request.type)}`);
    }
  }
}

function errorToWire(error: unknown): { code: string; message: string; leaderId: number } {
  if (isNodeError(error)) return { code: error.code, message: error.message, leaderId: error.leaderId };
  return { code: 'timeout', message: (error as Error)?.message ?? String(error), leaderId: 0 };
}

function errorFromWire(error: { code: string; message: string; leaderId: number }): NodeError {
  return new NodeError(isNodeErrorCode(error.code) ? error.code : 'timeout', error.message, error.leaderId);
}

/** Transport failures mean "not delivered" (retry elsewhere) or "no answer" (outcome unknown). */
function mapTransportError(error: unknown, leaderId: number): NodeError {
  if (isTransportError(error, 'REMOTE_ERROR')) {
    const code = error.remoteCode;
    return new NodeError(isNodeErrorCode(code) ? code : 'timeout', error.message, leaderId);
  }
  if (isTransportError(error, 'PEER_UNREACHABLE') || isTransportError(error, 'PEER_UNKNOWN') || isTransportError(error, 'QUEUE_FULL') || isTransportError(error, 'TOO_MANY_REQUESTS')) {
    return new NodeError('no-leader', `the leader (node ${leaderId}) cannot be reached: ${(error as Error).message}`, leaderId);
  }
  return new NodeError('timeout', `no answer from the leader (node ${leaderId}): ${(error as Error).message}; the request may or may not have taken effect`, leaderId);
}
