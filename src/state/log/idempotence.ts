// The idempotent producer's rules per (producer, partition), after Kafka's ProducerStateManager
// (ProducerAppendInfo.checkProducerEpoch / checkSequence / findDuplicateBatch):
// - a batch of an older epoch than the one recorded: INVALID_PRODUCER_EPOCH (47);
// - the same epoch and the same sequence range as one of the last 5 batches: a duplicate (a
//   retry) — success with the ORIGINAL base offset, nothing appended;
// - a newer epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER (45);
// - the same epoch must continue at last sequence + 1 (wrapping from Int32 max to 0), else 45;
// - no recorded state (a new producer, or its state expired): any sequence is accepted, as
//   Kafka does since 2.5 (KIP-360 dropped UNKNOWN_PRODUCER_ID here: failing would make the
//   client reset and re-send, which is how duplicates come back).
// Pure functions: apply feeds them the stored record and stores what they return.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { PRODUCER_BATCHES_KEPT } from './records.ts';
import type { ProducerRecord } from './records.ts';

const INT32_MAX = 0x7fffffff;

export interface ProducedBatch {
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

export type IdempotenceDecision =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'error'; readonly errorCode: number; readonly errorMessage: string };

/** The sequence of the batch's last record (sequences wrap from Int32 max to 0). */
export function lastSequence(baseSequence: number, recordCount: number): number {
  const last = baseSequence + recordCount - 1;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

export function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === INT32_MAX);
}

export function checkProducerAppend(current: ProducerRecord | undefined, batch: ProducedBatch): IdempotenceDecision {
  if (current === undefined) return { kind: 'append' };
  if (batch.producerEpoch < current.epoch) {
    return {
      kind: 'error',
      errorCode: KAFKA_ERROR.INVALID_PRODUCER_EPOCH,
      errorMessage: `producer epoch ${batch.producerEpoch} is older than the current epoch ${current.epoch} (another instance took over this producer id?)`,
    };
  }
  if (batch.producerEpoch > current.epoch) {
    if (batch.baseSequence === 0) return { kind: 'append' };
    return outOfOrder(`a new producer epoch ${batch.producerEpoch} must start at sequence 0, not ${batch.baseSequence}`);
  }
  const last = lastSequence(batch.baseSequence, batch.recordCount);
  for (const kept of current.batches) {
    if (kept.baseSequence === batch.baseSequence && lastSequence(kept.baseSequence, kept.recordCount) === last) {
      return { kind: 'duplicate', baseOffset: kept.baseOffset };
    }
  }
  const newest = current.batches[current.batches.length - 1];
  if (newest === undefined) return { kind: 'append' };
  const currentLast = lastSequence(newest.baseSequence, newest.recordCount);
  if (inSequence(currentLast, batch.baseSequence)) return { kind: 'append' };
  return outOfOrder(`sequence ${batch.baseSequence} does not follow the last appended sequence ${currentLast}`);
}

function outOfOrder(errorMessage: string): IdempotenceDecision {
  return { kind: 'error', errorCode: KAFKA_ERROR.OUT_OF_ORDER_SEQUENCE_NUMBER, errorMessage };
}

/** The producer state after appending `batch` at `baseOffset` (a newer epoch starts a fresh window). */
export function afterAppend(current: ProducerRecord | undefined, batch: ProducedBatch, baseOffset: number, activityMs: number): ProducerRecord {
  const kept = current === undefined || current.epoch !== batch.producerEpoch ? [] : current.batches.slice(-(PRODUCER_BATCHES_KEPT - 1));
  return {
    epoch: batch.producerEpoch,
    lastActivityMs: activityMs,
    batches: [...kept, { baseSequence: batch.baseSequence, recordCount: batch.recordCount, baseOffset }],
  };
}
