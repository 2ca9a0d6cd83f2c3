// Turning what can go wrong while serving a request into Kafka error codes: runtime errors of a
// proposal (NodeError), and requests whose body did not decode (an error response where the API
// has a top-level error code; otherwise the connection is closed).
import { KAFKA_ERROR } from '../../protocol/kafka/index.ts';
import type { KafkaResponseMessage } from '../../protocol/kafka/index.ts';
import { isNodeError } from '../../runtime/errors.ts';

/** Which error a request that needs the leader gets when the proposal failed. */
export type LeaderErrorKind = 'partition' | 'coordinator';

/**
 * A failed proposal as a Kafka error. A lost leadership (or a node that stopped) is
 * NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR so clients refresh metadata and retry; a timeout may
 * or may not have taken effect, which REQUEST_TIMED_OUT says (idempotent producers retry safely,
 * others may duplicate: at least once).
 */
export function proposalErrorCode(error: unknown, kind: LeaderErrorKind = 'partition'): number {
  const notLeader = kind === 'coordinator' ? KAFKA_ERROR.NOT_COORDINATOR : KAFKA_ERROR.NOT_LEADER_OR_FOLLOWER;
  if (!isNodeError(error)) return KAFKA_ERROR.UNKNOWN_SERVER_ERROR;
  switch (error.code) {
    case 'not-leader':
    case 'no-leader':
    case 'proposal-lost':
    case 'transfer-in-progress':
    case 'stopped':
      return notLeader;
    case 'timeout':
    case 'overloaded':
      return KAFKA_ERROR.REQUEST_TIMED_OUT;
    case 'too-large':
      return KAFKA_ERROR.MESSAGE_TOO_LARGE;
    default:
      return KAFKA_ERROR.UNKNOWN_SERVER_ERROR;
  }
}

/**
 * The response to a request of `apiKey` whose body could not be decoded, for the APIs whose
 * response carries a top-level error code at this version; undefined for the others (their errors
 * are per topic or partition, which we cannot name without the body: close the connection).
 */
export function bodyErrorResponse(apiKey: number, version: number, errorCode: number): KafkaResponseMessage | undefined {
  switch (apiKey) {
    case 1:
      return version >= 7 ? { apiKey: 1, message: { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] } } : undefined;
    case 9:
      return version >= 2 ? { apiKey: 9, message: { throttleTimeMs: 0, topics: [], errorCode } } : undefined;
    case 10:
      return { apiKey: 10, message: { throttleTimeMs: 0, errorCode, errorMessage: null, nodeId: -1, host: '', port: -1 } };
    case 11:
      return { apiKey: 11, message: { throttleTimeMs: 0, errorCode, generationId: -1, protocolName: '', leader: '', memberId: '', members: [] } };
    case 12:
      return { apiKey: 12, message: { throttleTimeMs: 0, errorCode } };
    case 13:
      return { apiKey: 13, message: { throttleTimeMs: 0, errorCode, members: [] } };
    case 14:
      return { apiKey: 14, message: { throttleTimeMs: 0, errorCode, assignment: new Uint8Array(0) } };
    case 16:
      return { apiKey: 16, message: { throttleTimeMs: 0, errorCode, groups: [] } };
    case 22:
      return { apiKey: 22, message: { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 } };
    default:
      return undefined;
  }
}
