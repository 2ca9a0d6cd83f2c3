// The proof a joining node sends with its join request: an HMAC-SHA256 with the cluster secret
// over everything the request asks for, so a node without the secret cannot add itself (and a
// node with the wrong secret learns so at once, instead of joining and then failing every peer
// handshake). The timestamp bounds replays of a captured request.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const JOIN_PROOF_MAX_SKEW_MS = 10 * 60_000;

export interface JoinTranscript {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly peer: string;
  readonly client: string;
  readonly timestampMs: number;
}

export function joinProof(secret: string | Uint8Array, transcript: JoinTranscript): string {
  const text = ['cairn-join-v1', transcript.clusterId, transcript.nodeId, transcript.peer, transcript.client, transcript.timestampMs].join('\n');
  return createHmac('sha256', secret).update(text).digest('hex');
}

export type JoinProofCheck = 'ok' | 'secret-mismatch' | 'clock-skew';

export function verifyJoinProof(secret: string | Uint8Array, transcript: JoinTranscript, proof: string, nowMs: number): JoinProofCheck {
  if (!/^[0-9a-f]{64}$/.test(proof)) return 'secret-mismatch';
  const expected = Buffer.from(joinProof(secret, transcript), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(proof, 'hex'))) return 'secret-mismatch';
  return Math.abs(nowMs - transcript.timestampMs) > JOIN_PROOF_MAX_SKEW_MS ? 'clock-skew' : 'ok';
}
