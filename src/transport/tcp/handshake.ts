// The authentication of a peer connection: challenge–response with HMAC-SHA256 under the cluster
// secret. Each side contributes a fresh random nonce and each proof covers both nonces, the
// protocol version, the cluster id and both node ids, so a recorded proof is useless on any other
// connection. The dialer proves first; the listener answers with its own proof only after checking
// the dialer's, so a party without the secret learns nothing it could reuse.
//
//   dialer                                   listener
//   hello(versions, cluster, from, to, nD) ->
//                                          <- challenge(version, nL)   (or refused: version/cluster/node)
//   proof(HMAC(k, "dialer"   | transcript)) ->
//                                          <- welcome(HMAC(k, "listener" | transcript))  (or refused: auth)
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../../core/raft/types.ts';
import type { TransportErrorCode } from '../types.ts';
import type { HelloFrame } from './frames.ts';
import { NONCE_BYTES, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from './frames.ts';

export interface Transcript {
  readonly version: number;
  readonly clusterId: string;
  readonly dialerId: NodeId;
  readonly listenerId: NodeId;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

export function newNonce(): Uint8Array {
  const bytes = randomBytes(NONCE_BYTES);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function computeProof(secret: Uint8Array, role: 'dialer' | 'listener', transcript: Transcript): Uint8Array {
  const numbers = Buffer.alloc(4 + 8 + 8);
  numbers.writeUInt32BE(transcript.version, 0);
  numbers.writeBigUInt64BE(BigInt(transcript.dialerId), 4);
  numbers.writeBigUInt64BE(BigInt(transcript.listenerId), 12);
  const clusterId = Buffer.from(transcript.clusterId, 'utf8');
  const clusterIdLength = Buffer.alloc(2);
  clusterIdLength.writeUInt16BE(clusterId.length, 0);
  const digest = createHmac('sha256', secret)
    .update(`cairn-peer-auth\0${role}\0`)
    .update(numbers)
    .update(clusterIdLength)
    .update(clusterId)
    .update(transcript.dialerNonce)
    .update(transcript.listenerNonce)
    .digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
}

export function proofMatches(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** The highest version both ranges contain, or undefined. */
export function chooseVersion(peerMin: number, peerMax: number): number | undefined {
  const version = Math.min(peerMax, PROTOCOL_VERSION_MAX);
  return version >= Math.max(peerMin, PROTOCOL_VERSION_MIN) ? version : undefined;
}

export type HelloVerdict =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly code: TransportErrorCode; readonly message: string };

/**
 * The listener's checks of a hello, before any secret is involved. The messages go back to an
 * unauthenticated party, so they say what is wrong without revealing our configuration.
 */
export function checkHello(hello: HelloFrame, local: { readonly clusterId: string; readonly nodeId: NodeId }): HelloVerdict {
  const version = chooseVersion(hello.versionMin, hello.versionMax);
  if (version === undefined) {
    return {
      ok: false,
      code: 'HANDSHAKE_VERSION_UNSUPPORTED',
      message: `protocol versions ${hello.versionMin}..${hello.versionMax} are not supported (this node speaks ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION_MAX})`,
    };
  }
  if (hello.clusterId !== local.clusterId) {
    return { ok: false, code: 'HANDSHAKE_CLUSTER_MISMATCH', message: 'this node belongs to a different cluster (cluster id mismatch)' };
  }
  if (hello.to !== local.nodeId) {
    return { ok: false, code: 'HANDSHAKE_WRONG_NODE', message: `node ${hello.to} was expected at this address, but another node listens here` };
  }
  if (hello.from === local.nodeId) {
    return { ok: false, code: 'HANDSHAKE_WRONG_NODE', message: `the dialer claims this node's own id ${hello.from}` };
  }
  return { ok: true, version };
}
