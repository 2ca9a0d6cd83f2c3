// Reports each answered request to options.onRequestServed (node metrics, the dashboard's
// charts): its latency, whether the answer carries an error, and the record bytes it moved.
import type { KafkaRequestMessage, KafkaResponseMessage } from '../../protocol/kafka/index.ts';
import type { RequestContext } from './handlers/context.ts';

function produceBytes(request: KafkaRequestMessage): number {
  if (request.apiKey !== 0) return 0;
  let bytes = 0;
  for (const topic of request.message.topicData) for (const partition of topic.partitionData) bytes += partition.records?.length ?? 0;
  return bytes;
}

function outcome(response: KafkaResponseMessage | null): { failed: boolean; recordBytes: number } {
  if (response?.apiKey === 0) {
    return { failed: response.message.responses.some((topic) => topic.partitionResponses.some((partition) => partition.errorCode !== 0)), recordBytes: 0 };
  }
  if (response?.apiKey === 1) {
    let failed = response.message.errorCode !== 0;
    let recordBytes = 0;
    for (const topic of response.message.responses) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0) failed = true;
        recordBytes += partition.records?.length ?? 0;
      }
    }
    return { failed, recordBytes };
  }
  const errorCode = (response?.message as { errorCode?: unknown } | undefined)?.errorCode;
  return { failed: typeof errorCode === 'number' && errorCode !== 0, recordBytes: 0 };
}

export function observeRequest(context: RequestContext, request: KafkaRequestMessage, response: KafkaResponseMessage | null, startedAtMs: number): void {
  const { onRequestServed, clock, logger } = context.core.options;
  if (onRequestServed === undefined) return;
  const seconds = Math.max(0, clock.now() - startedAtMs) / 1000;
  const { failed, recordBytes } = outcome(response);
  try {
    onRequestServed({ apiKey: request.apiKey, seconds, failed, recordBytes: recordBytes + produceBytes(request) });
  } catch (error) {
    logger.warn({ error: (error as Error).message }, 'a Kafka request observer failed');
  }
}
