// Checks of the record batch of one produced partition. Two depths:
// - checkProduceRecords(): the full validation (magic, lengths, CRC-32C, counts, compression type)
//   the broker runs BEFORE proposing, so a bad batch never reaches the log;
// - parseAppendHeader(): what apply re-checks, cheaply (no CRC pass over the records), because
//   apply decides offsets and idempotence from these fields and every replica must decide alike
//   even if a faulty proposer let something through.
import { KAFKA_ERROR } from '../../protocol/kafka/errors.ts';
import { KafkaDecodeError } from '../../protocol/kafka/codec-errors.ts';
import { RECORD_BATCH_HEADER_BYTES, readRecordBatches } from '../../protocol/kafka/record-batch.ts';

/** baseOffset (8) + batchLength (4): the bytes before what batchLength counts. */
const LOG_OVERHEAD_BYTES = 12;
const MAGIC_V2 = 2;
const ATTRIBUTE_TRANSACTIONAL = 0x10;
const ATTRIBUTE_CONTROL = 0x20;

export interface BatchProblem {
  readonly errorCode: number;
  readonly errorMessage: string;
}

export interface AppendHeader {
  readonly recordCount: number;
  /** -1 when the batch has no (valid) timestamp. */
  readonly maxTimestamp: number;
  /** -1 when the batch is not from an idempotent producer. */
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

function problem(errorCode: number, errorMessage: string): BatchProblem {
  return { errorCode, errorMessage };
}

/** The header fields apply needs, or the Kafka error for the partition. */
export function parseAppendHeader(records: Uint8Array): AppendHeader | BatchProblem {
  if (records.length < RECORD_BATCH_HEADER_BYTES) {
    return problem(KAFKA_ERROR.CORRUPT_MESSAGE, `${records.length} bytes cannot hold a record batch (header is ${RECORD_BATCH_HEADER_BYTES} bytes)`);
  }
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const batchBytes = LOG_OVERHEAD_BYTES + view.getInt32(8);
  if (batchBytes < RECORD_BATCH_HEADER_BYTES || batchBytes > records.length) {
    return problem(KAFKA_ERROR.CORRUPT_MESSAGE, `the batch length ${batchBytes} does not fit the ${records.length} bytes sent`);
  }
  if (batchBytes !== records.length) return problem(KAFKA_ERROR.INVALID_RECORD, 'a produced partition must carry exactly one record batch (Produce v3+)');
  const magic = view.getInt8(16);
  if (magic !== MAGIC_V2) return problem(KAFKA_ERROR.CORRUPT_MESSAGE, `record batch magic ${magic} is not supported (only v2; use a client for Kafka 0.11 or later)`);
  const attributes = view.getInt16(21);
  if ((attributes & ATTRIBUTE_CONTROL) !== 0) return problem(KAFKA_ERROR.INVALID_RECORD, 'clients may not produce control batches');
  if ((attributes & ATTRIBUTE_TRANSACTIONAL) !== 0) return problem(KAFKA_ERROR.INVALID_RECORD, 'transactions are not supported; produce without a transactional id');
  const lastOffsetDelta = view.getInt32(23);
  const recordCount = view.getInt32(57);
  if (recordCount <= 0 || lastOffsetDelta + 1 !== recordCount) {
    return problem(KAFKA_ERROR.CORRUPT_MESSAGE, `recordsCount ${recordCount} with lastOffsetDelta ${lastOffsetDelta} (must be lastOffsetDelta + 1 > 0)`);
  }
  return idempotenceFields(view, recordCount);
}

function idempotenceFields(view: DataView, recordCount: number): AppendHeader | BatchProblem {
  const rawTimestamp = view.getBigInt64(35);
  const maxTimestamp = rawTimestamp < 0n ? -1 : rawTimestamp > BigInt(Number.MAX_SAFE_INTEGER - 1) ? Number.MAX_SAFE_INTEGER - 1 : Number(rawTimestamp);
  const rawProducerId = view.getBigInt64(43);
  const producerEpoch = view.getInt16(51);
  const baseSequence = view.getInt32(53);
  if (rawProducerId < 0n) return { recordCount, maxTimestamp, producerId: -1, producerEpoch: -1, baseSequence: -1 };
  if (rawProducerId > BigInt(Number.MAX_SAFE_INTEGER)) {
    return problem(KAFKA_ERROR.UNKNOWN_PRODUCER_ID, `producer id ${rawProducerId} was never issued; call InitProducerId`);
  }
  if (producerEpoch < 0 || baseSequence < 0) {
    return problem(KAFKA_ERROR.INVALID_RECORD, `an idempotent batch needs an epoch and a base sequence >= 0 (got ${producerEpoch}, ${baseSequence})`);
  }
  return { recordCount, maxTimestamp, producerId: Number(rawProducerId), producerEpoch, baseSequence };
}

/** The size checks shared by both depths: MESSAGE_TOO_LARGE above the topic's max.message.bytes or the module's batch limit. */
export function checkBatchSize(bytes: number, maxMessageBytes: number, maxBatchBytes: number): BatchProblem | undefined {
  const limit = Math.min(maxMessageBytes, maxBatchBytes);
  if (bytes > limit) return problem(KAFKA_ERROR.MESSAGE_TOO_LARGE, `the record batch is ${bytes} bytes; the topic accepts at most ${limit} (max.message.bytes)`);
  return undefined;
}

/**
 * The full validation for the broker to run before proposing an append: undefined when the
 * records are one valid v2 batch within the size limits, else the partition's Kafka error.
 */
export function checkProduceRecords(records: Uint8Array, maxMessageBytes: number, maxBatchBytes: number): BatchProblem | undefined {
  const tooLarge = checkBatchSize(records.length, maxMessageBytes, maxBatchBytes);
  if (tooLarge !== undefined) return tooLarge;
  try {
    readRecordBatches(records, { batchesMax: 1 });
  } catch (error) {
    if (!(error instanceof KafkaDecodeError)) throw error;
    const errorCode = error.code === 'record_batch_too_many' ? KAFKA_ERROR.INVALID_RECORD : error.kafkaErrorCode;
    return problem(errorCode, error.message);
  }
  const header = parseAppendHeader(records);
  return 'errorCode' in header ? header : undefined;
}
