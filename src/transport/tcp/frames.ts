// Frames of the TCP peer protocol: a 4-byte big-endian length, then one msgpack array whose first
// element is the frame kind (codec/frame-kinds.ts). `decodeFrame` is the single entry point for
// bytes from the network; its only outcomes are a typed Frame or a WireError.
//
//   hello     [16, magic, versionMin, versionMax, clusterId, from, to, nonce]   dialer -> listener
//   challenge [17, version, nonce]                                               listener -> dialer
//   proof     [18, hmac]                                                         dialer -> listener
//   welcome   [19, hmac]                                                         listener -> dialer
//   refused   [20, code, message]                                                either way, then close
//   raft      see codec/message-wire.ts                                          dialer -> listener
//   request   [2, requestId, payload]                                            dialer -> listener
//   response  [3, requestId, payload]                                            listener -> dialer
//   error     [4, requestId, code, message]                                      listener -> dialer
//   snapshot part [5, totalBytes, offset, bytes]  (version 2)                     dialer -> listener
//
// A snapshot whose data is larger than a part (snapshot-parts.ts) travels as its data's parts in
// order, then the raft frame of its message with empty data: one frame per part, so the frame
// limit bounds a part, not the state a snapshot may carry.
import type { Message, NodeId } from '../../core/raft/types.ts';
import {
  FRAME_CHALLENGE,
  FRAME_ERROR_RESPONSE,
  FRAME_HELLO,
  FRAME_PROOF,
  FRAME_RAFT,
  FRAME_REFUSED,
  FRAME_REQUEST,
  FRAME_RESPONSE,
  FRAME_SNAPSHOT_PART,
  FRAME_WELCOME,
} from '../codec/frame-kinds.ts';
import { decodeMessageWire, encodeMessageWire, messageWireBytesAtMost } from '../codec/message-wire.ts';
import type { MessageLimits } from '../codec/message-wire.ts';
import { packFrame, unpackValue } from '../codec/msgpack.ts';
import { isPlainData } from '../codec/plain-data.ts';
import { readArray, readBytes, readCount, readNodeId, readString, reject, WireError } from '../codec/wire-reader.ts';
import type { PlainData } from '../types.ts';

export const PROTOCOL_MAGIC = 'cairn-peer';
/** The protocol versions this build speaks. The listener picks the highest both sides support. */
export const PROTOCOL_VERSION_MIN = 1;
/** Version 2 adds snapshot parts (a version-1 peer is sent snapshots as one frame). */
export const PROTOCOL_VERSION_MAX = 2;
/** The first version whose listeners read snapshot parts. */
export const SNAPSHOT_PARTS_VERSION = 2;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;
export const MAX_CLUSTER_ID_LENGTH = 256;
const MAX_REASON_LENGTH = 1024;
const MAX_CODE_LENGTH = 64;

export interface HelloFrame {
  readonly kind: 'hello';
  readonly versionMin: number;
  readonly versionMax: number;
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly nonce: Uint8Array;
}
export interface ChallengeFrame { readonly kind: 'challenge'; readonly version: number; readonly nonce: Uint8Array }
export interface ProofFrame { readonly kind: 'proof'; readonly proof: Uint8Array }
export interface WelcomeFrame { readonly kind: 'welcome'; readonly proof: Uint8Array }
export interface RefusedFrame { readonly kind: 'refused'; readonly code: string; readonly message: string }
export interface RaftFrame { readonly kind: 'raft'; readonly message: Message }
export interface RequestFrame { readonly kind: 'request'; readonly requestId: number; readonly payload: PlainData }
export interface ResponseFrame { readonly kind: 'response'; readonly requestId: number; readonly payload: PlainData }
export interface SnapshotPartFrame {
  readonly kind: 'snapshot-part';
  /** The size of the whole snapshot data, equal in every part of one snapshot. */
  readonly totalBytes: number;
  /** Where this part starts in the data. */
  readonly offset: number;
  readonly bytes: Uint8Array;
}
export interface ErrorResponseFrame {
  readonly kind: 'error-response';
  readonly requestId: number;
  readonly code: string;
  readonly message: string;
}

export type Frame =
  | HelloFrame
  | ChallengeFrame
  | ProofFrame
  | WelcomeFrame
  | RefusedFrame
  | RaftFrame
  | RequestFrame
  | ResponseFrame
  | ErrorResponseFrame
  | SnapshotPartFrame;

export function encodeHello(hello: Omit<HelloFrame, 'kind'>): Buffer {
  return packFrame([FRAME_HELLO, PROTOCOL_MAGIC, hello.versionMin, hello.versionMax, hello.clusterId, hello.from, hello.to, hello.nonce]);
}
export function encodeChallenge(version: number, nonce: Uint8Array): Buffer {
  return packFrame([FRAME_CHALLENGE, version, nonce]);
}
export function encodeProof(proof: Uint8Array): Buffer {
  return packFrame([FRAME_PROOF, proof]);
}
export function encodeWelcome(proof: Uint8Array): Buffer {
  return packFrame([FRAME_WELCOME, proof]);
}
export function encodeRefused(code: string, message: string): Buffer {
  return packFrame([FRAME_REFUSED, code.slice(0, MAX_CODE_LENGTH), message.slice(0, MAX_REASON_LENGTH)]);
}
export function encodeRaft(message: Message): Buffer {
  return packFrame(encodeMessageWire(message), messageWireBytesAtMost(message));
}
export function encodeSnapshotPart(totalBytes: number, offset: number, bytes: Uint8Array): Buffer {
  // Four fields (array header, three numbers of at most 9 bytes, a bin header) and the bytes.
  return packFrame([FRAME_SNAPSHOT_PART, totalBytes, offset, bytes], 64 + bytes.byteLength);
}
/** The payload must already have passed plainDataProblem(); packing it cannot fail then. */
export function encodeRequest(requestId: number, payload: PlainData): Buffer {
  return packFrame([FRAME_REQUEST, requestId, payload]);
}
export function encodeResponse(requestId: number, payload: PlainData): Buffer {
  return packFrame([FRAME_RESPONSE, requestId, payload]);
}
export function encodeErrorResponse(requestId: number, code: string, message: string): Buffer {
  return packFrame([FRAME_ERROR_RESPONSE, requestId, code.slice(0, MAX_CODE_LENGTH), message.slice(0, MAX_REASON_LENGTH)]);
}

export interface DecodeContext {
  /** The authenticated peer on this connection (0 before the handshake finishes). */
  readonly peerId: NodeId;
  readonly localId: NodeId;
  readonly limits: MessageLimits;
}

/** Decodes one frame payload (without its length prefix). Throws only WireError. */
export function decodeFrame(payload: Uint8Array, context: DecodeContext): Frame {
  let value: unknown;
  try {
    value = unpackValue(payload);
  } catch (error) {
    reject('FRAME_MALFORMED', `not valid msgpack: ${error instanceof Error ? error.message.slice(0, 200) : 'unknown error'}`);
  }
  const fields = readArray(value, 'frame', 1, Number.MAX_SAFE_INTEGER);
  try {
    return decodeFields(fields, context);
  } catch (error) {
    if (error instanceof WireError) throw error;
    // A validator bug must not take the node down with it: report it as a malformed frame.
    reject('FRAME_MALFORMED', `frame could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function decodeFields(fields: unknown[], context: DecodeContext): Frame {
  switch (fields[0]) {
    case FRAME_RAFT:
      return { kind: 'raft', message: decodeMessageWire(fields, { from: context.peerId, to: context.localId }, context.limits) };
    case FRAME_REQUEST:
    case FRAME_RESPONSE: {
      readArray(fields, 'request', 3, Number.MAX_SAFE_INTEGER);
      const requestId = readCount(fields[1], 'requestId');
      const payload = fields[2];
      if (!isPlainData(payload)) reject('MESSAGE_INVALID', 'request or response payload is not plain data');
      return fields[0] === FRAME_REQUEST ? { kind: 'request', requestId, payload } : { kind: 'response', requestId, payload };
    }
    case FRAME_SNAPSHOT_PART:
      readArray(fields, 'snapshot part', 4, Number.MAX_SAFE_INTEGER);
      return {
        kind: 'snapshot-part',
        totalBytes: readCount(fields[1], 'snapshotPart.totalBytes'),
        offset: readCount(fields[2], 'snapshotPart.offset'),
        bytes: readBytes(fields[3], 'snapshotPart.bytes'),
      };
    case FRAME_ERROR_RESPONSE:
      readArray(fields, 'error response', 4, Number.MAX_SAFE_INTEGER);
      return {
        kind: 'error-response',
        requestId: readCount(fields[1], 'requestId'),
        code: readString(fields[2], 'code', MAX_CODE_LENGTH),
        message: readString(fields[3], 'message', MAX_REASON_LENGTH),
      };
    default:
      return decodeHandshakeFields(fields);
  }
}

function decodeHandshakeFields(fields: unknown[]): Frame {
  switch (fields[0]) {
    case FRAME_HELLO: {
      readArray(fields, 'hello', 8, Number.MAX_SAFE_INTEGER);
      if (fields[1] !== PROTOCOL_MAGIC) reject('HANDSHAKE_MALFORMED', 'not a Cairn peer (bad magic)');
      return {
        kind: 'hello',
        versionMin: readCount(fields[2], 'hello.versionMin'),
        versionMax: readCount(fields[3], 'hello.versionMax'),
        clusterId: readString(fields[4], 'hello.clusterId', MAX_CLUSTER_ID_LENGTH),
        from: readNodeId(fields[5], 'hello.from'),
        to: readNodeId(fields[6], 'hello.to'),
        nonce: readSizedBytes(fields[7], 'hello.nonce', NONCE_BYTES),
      };
    }
    case FRAME_CHALLENGE:
      readArray(fields, 'challenge', 3, Number.MAX_SAFE_INTEGER);
      return { kind: 'challenge', version: readCount(fields[1], 'challenge.version'), nonce: readSizedBytes(fields[2], 'challenge.nonce', NONCE_BYTES) };
    case FRAME_PROOF:
      readArray(fields, 'proof', 2, Number.MAX_SAFE_INTEGER);
      return { kind: 'proof', proof: readSizedBytes(fields[1], 'proof', PROOF_BYTES) };
    case FRAME_WELCOME:
      readArray(fields, 'welcome', 2, Number.MAX_SAFE_INTEGER);
      return { kind: 'welcome', proof: readSizedBytes(fields[1], 'welcome.proof', PROOF_BYTES) };
    case FRAME_REFUSED:
      readArray(fields, 'refused', 3, Number.MAX_SAFE_INTEGER);
      return {
        kind: 'refused',
        code: readString(fields[1], 'refused.code', MAX_CODE_LENGTH),
        message: readString(fields[2], 'refused.message', MAX_REASON_LENGTH),
      };
    default:
      return reject('FRAME_MALFORMED', `unknown frame kind ${String(fields[0]).slice(0, 32)}`);
  }
}

function readSizedBytes(value: unknown, field: string, length: number): Uint8Array {
  const bytes = readBytes(value, field);
  if (bytes.byteLength !== length) reject('HANDSHAKE_MALFORMED', `${field}: expected ${length} bytes`);
  return bytes;
}
