// Kafka request/response framing: every message on the wire is an int32 size followed by that many
// bytes; a request starts with a request header (v1, or v2 at flexible versions), a response with a
// response header (v0, or v1 at flexible versions — except ApiVersions, always v0, KIP-511).
//
// The broker's path is: KafkaFrameDecoder.push(chunk) -> decodeRequestFrame(frame) -> handle ->
// encodeResponseFrame(...). A KafkaDecodeError thrown by push() or by decodeRequestFrame() (an
// unreadable header) means the stream can no longer be trusted: close the connection. A body that
// fails to decode is returned as `malformed` with its header, so the broker can still answer.

import { KafkaReader, KafkaWriter } from './buffer.ts';
import type { KafkaDecodeLimits } from './buffer.ts';
import { KafkaDecodeError } from './codec-errors.ts';
import {
  FIRST_FLEXIBLE_VERSION,
  decodeRequestHeader,
  decodeRequestMessage,
  decodeResponseHeader,
  decodeResponseMessage,
  writeRequestHeader,
  writeRequestMessage,
  writeResponseHeader,
  writeResponseMessage,
} from './generated/index.ts';
import type { KafkaRequestMessage, KafkaResponseMessage, RequestHeader } from './generated/index.ts';
import { API_KEY, isSupportedVersion, supportedApi } from './supported-apis.ts';

/** Kafka's own default for socket.request.max.bytes. */
export const DEFAULT_FRAME_BYTES_MAX = 100 * 1024 * 1024;
const SIZE_PREFIX_BYTES = 4;

/**
 * Splits a TCP byte stream into frames (without their size prefix). At most one incomplete frame
 * is buffered, and its size is checked before any of it is: a negative or oversize prefix throws
 * `frame_size_negative` / `frame_too_large`, after which the connection must be closed.
 * Returned frames may be views of the pushed chunks, so pushed memory must not be reused.
 */
export class KafkaFrameDecoder {
  private readonly frameBytesMax: number;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Size of the frame being assembled, or -1 while its size prefix is incomplete. */
  private frameBytes = -1;

  constructor(frameBytesMax = DEFAULT_FRAME_BYTES_MAX) {
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held for the incomplete frame (bounded by frameBytesMax + 4). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.frameBytes === -1) {
        if (this.buffered < SIZE_PREFIX_BYTES) return frames;
        this.frameBytes = this.checkedSize(this.take(SIZE_PREFIX_BYTES));
      }
      if (this.buffered < this.frameBytes) return frames;
      frames.push(this.take(this.frameBytes));
      this.frameBytes = -1;
    }
  }

  private checkedSize(prefix: Uint8Array): number {
    const size = new DataView(prefix.buffer, prefix.byteOffset, SIZE_PREFIX_BYTES).getInt32(0);
    if (size < 0) throw new KafkaDecodeError('frame_size_negative', 'frame', `negative frame size ${size}`);
    if (size > this.frameBytesMax) {
      throw new KafkaDecodeError('frame_too_large', 'frame', `frame of ${size} bytes exceeds the maximum of ${this.frameBytesMax}`);
    }
    return size;
  }

  /** Removes `count` buffered bytes (count <= buffered): a view when they lie in one chunk. */
  private take(count: number): Uint8Array {
    this.buffered -= count;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, count - filled);
      out.set(chunk.subarray(0, used), filled);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return out;
  }
}

/** Request header version: 2 from the API's first flexible version on (also for versions we do not serve). */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  const flexibleSince = FIRST_FLEXIBLE_VERSION.get(apiKey);
  return flexibleSince !== undefined && apiVersion >= flexibleSince ? 2 : 1;
}

/** Response header version: 1 at flexible versions, but ApiVersions always answers with v0 (KIP-511). */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === API_KEY.ApiVersions) return 0;
  const flexibleSince = FIRST_FLEXIBLE_VERSION.get(apiKey);
  return flexibleSince !== undefined && apiVersion >= flexibleSince ? 1 : 0;
}

export type DecodedRequest =
  /** A supported API at a supported version, fully decoded (no trailing bytes). */
  | { readonly kind: 'request'; readonly header: RequestHeader; readonly request: KafkaRequestMessage }
  /** A served API at a version we do not serve (ApiVersions: answer v0 with error 35 and our range). */
  | { readonly kind: 'unsupported_version'; readonly header: RequestHeader }
  /** An API key Cairn does not serve. */
  | { readonly kind: 'unknown_api'; readonly header: RequestHeader }
  /** The header decoded but the body did not; `error.kafkaErrorCode` is the protocol's answer. */
  | { readonly kind: 'malformed'; readonly header: RequestHeader; readonly error: KafkaDecodeError };

/**
 * Decodes one request frame. Throws KafkaDecodeError only when even the header is unreadable (the
 * correlation id is then unknown, so the only answer is to close the connection).
 */
export function decodeRequestFrame(frame: Uint8Array, limits: Partial<KafkaDecodeLimits> = {}): DecodedRequest {
  const reader = new KafkaReader(frame, limits);
  reader.startMessage('RequestHeader');
  // The api key and version sit at the same offsets in every header version and decide which one this is.
  const apiKey = reader.readInt16('requestApiKey');
  const apiVersion = reader.readInt16('requestApiVersion');
  reader.offset = 0;
  const header = decodeRequestHeader(requestHeaderVersion(apiKey, apiVersion), reader);
  if (supportedApi(apiKey) === undefined) return { kind: 'unknown_api', header };
  if (!isSupportedVersion(apiKey, apiVersion)) return { kind: 'unsupported_version', header };
  try {
    const request = decodeRequestMessage(apiKey, apiVersion, reader);
    reader.expectEnd();
    return { kind: 'request', header, request };
  } catch (error) {
    if (error instanceof KafkaDecodeError) return { kind: 'malformed', header, error };
    throw error;
  }
}

/** A complete response frame: size, response header of the right version, body. */
export function encodeResponseFrame(correlationId: number, apiVersion: number, response: KafkaResponseMessage): Uint8Array {
  const writer = new KafkaWriter(1024);
  const sizePosition = writer.reserveInt32();
  writeResponseHeader(writer, responseHeaderVersion(response.apiKey, apiVersion), { correlationId });
  writeResponseMessage(writer, apiVersion, response);
  writer.patchInt32(sizePosition, writer.offset - SIZE_PREFIX_BYTES);
  return writer.toBytes();
}

/** A complete request frame (for clients, tools and tests). */
export function encodeRequestFrame(correlationId: number, clientId: string | null, apiVersion: number, request: KafkaRequestMessage): Uint8Array {
  const writer = new KafkaWriter(1024);
  const sizePosition = writer.reserveInt32();
  const header: RequestHeader = { requestApiKey: request.apiKey, requestApiVersion: apiVersion, correlationId, clientId };
  writeRequestHeader(writer, requestHeaderVersion(request.apiKey, apiVersion), header);
  writeRequestMessage(writer, apiVersion, request);
  writer.patchInt32(sizePosition, writer.offset - SIZE_PREFIX_BYTES);
  return writer.toBytes();
}

/** Decodes a response frame (without its size prefix) to a request sent with `apiKey` at `apiVersion`. */
export function decodeResponseFrame(
  frame: Uint8Array,
  apiKey: number,
  apiVersion: number,
  limits: Partial<KafkaDecodeLimits> = {},
): { correlationId: number; response: KafkaResponseMessage } {
  const reader = new KafkaReader(frame, limits);
  const { correlationId } = decodeResponseHeader(responseHeaderVersion(apiKey, apiVersion), reader);
  const response = decodeResponseMessage(apiKey, apiVersion, reader);
  reader.expectEnd();
  return { correlationId, response };
}
