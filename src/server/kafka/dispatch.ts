// From one decoded request frame to what goes back on the wire: the encoded response frame, nothing
// (acks=0 produce), or an instruction to close the connection (a request we cannot answer: an API
// or version we do not serve, or a malformed body of an API without a top-level error code).
import { API_KEY, KAFKA_ERROR, encodeResponseFrame, kafkaErrorName } from '../../protocol/kafka/index.ts';
import type { DecodedRequest, KafkaRequestMessage, KafkaResponseMessage } from '../../protocol/kafka/index.ts';
import { bodyErrorResponse } from './errors.ts';
import { apiVersionsResponse, handleFindCoordinator, handleMetadata, unsupportedApiVersionsResponse } from './handlers/cluster.ts';
import type { RequestContext } from './handlers/context.ts';
import { handleFetch, handleListOffsets } from './handlers/fetch.ts';
import {
  handleDescribeGroups, handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleListGroups, handleOffsetCommit, handleOffsetFetch, handleSyncGroup,
} from './handlers/groups.ts';
import { handleInitProducerId, handleProduce } from './handlers/produce.ts';
import { handleCreateTopics, handleDeleteTopics } from './handlers/topics.ts';
import { observeRequest } from './request-observation.ts';

export type DispatchOutcome =
  | { readonly kind: 'respond'; readonly frame: Uint8Array }
  | { readonly kind: 'silent' }
  | { readonly kind: 'close'; readonly reason: string };

/** The response message, or null when the request gets no response (acks=0). */
async function respond(context: RequestContext, request: KafkaRequestMessage): Promise<KafkaResponseMessage | null> {
  switch (request.apiKey) {
    case 0: {
      const message = await handleProduce(context, request.message);
      return message === null ? null : { apiKey: 0, message };
    }
    case 1: return { apiKey: 1, message: await handleFetch(context, request.message) };
    case 2: return { apiKey: 2, message: await handleListOffsets(context, request.message) };
    case 3: return { apiKey: 3, message: await handleMetadata(context, request.message) };
    case 8: return { apiKey: 8, message: await handleOffsetCommit(context, request.message) };
    case 9: return { apiKey: 9, message: await handleOffsetFetch(context, request.message) };
    case 10: return { apiKey: 10, message: handleFindCoordinator(context, request.message) };
    case 11: return { apiKey: 11, message: await handleJoinGroup(context, request.message) };
    case 12: return { apiKey: 12, message: handleHeartbeat(context, request.message) };
    case 13: return { apiKey: 13, message: handleLeaveGroup(context, request.message) };
    case 14: return { apiKey: 14, message: await handleSyncGroup(context, request.message) };
    case 15: return { apiKey: 15, message: handleDescribeGroups(context, request.message) };
    case 16: return { apiKey: 16, message: handleListGroups(context) };
    case 18: return { apiKey: 18, message: apiVersionsResponse() };
    case 19: return { apiKey: 19, message: await handleCreateTopics(context, request.message) };
    case 20: return { apiKey: 20, message: await handleDeleteTopics(context, request.message) };
    case 22: return { apiKey: 22, message: await handleInitProducerId(context, request.message) };
  }
}

export async function dispatch(context: RequestContext, decoded: DecodedRequest): Promise<DispatchOutcome> {
  const { header } = decoded;
  const { correlationId, requestApiKey: apiKey, requestApiVersion: version } = header;
  switch (decoded.kind) {
    case 'request': {
      const startedAtMs = context.core.options.clock.now();
      const response = await respond(context, decoded.request);
      observeRequest(context, decoded.request, response, startedAtMs);
      return response === null ? { kind: 'silent' } : { kind: 'respond', frame: encodeResponseFrame(correlationId, version, response) };
    }
    case 'unsupported_version':
      // KIP-511: an ApiVersions version we do not know gets a v0 body naming our range; clients retry with it.
      if (apiKey === API_KEY.ApiVersions) return { kind: 'respond', frame: encodeResponseFrame(correlationId, 0, { apiKey: 18, message: unsupportedApiVersionsResponse() }) };
      return { kind: 'close', reason: `api key ${apiKey} version ${version} is not supported (see ApiVersions)` };
    case 'unknown_api':
      return { kind: 'close', reason: `api key ${apiKey} is not served by Cairn` };
    case 'malformed': {
      const errorCode = decoded.error.kafkaErrorCode;
      if (apiKey === API_KEY.ApiVersions) return { kind: 'respond', frame: encodeResponseFrame(correlationId, version, { apiKey: 18, message: apiVersionsResponse(KAFKA_ERROR.INVALID_REQUEST) }) };
      const response = bodyErrorResponse(apiKey, version, errorCode);
      if (response === undefined) return { kind: 'close', reason: `malformed request (api key ${apiKey} v${version}): ${decoded.error.message} (${kafkaErrorName(errorCode)})` };
      return { kind: 'respond', frame: encodeResponseFrame(correlationId, version, response) };
    }
  }
}
