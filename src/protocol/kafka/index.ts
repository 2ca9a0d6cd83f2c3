// The Kafka wire protocol for Cairn: generated message codecs, framing, record batches and error
// codes. The broker (src/server/kafka/) imports from here; see framing.ts for the request path.

export { DEFAULT_DECODE_LIMITS, KafkaReader, KafkaWriter, isZeroUuid } from './buffer.ts';
export type { KafkaDecodeLimits, TaggedFieldWriter } from './buffer.ts';
export { KafkaDecodeError, KafkaEncodeError } from './codec-errors.ts';
export type { KafkaDecodeErrorCode, KafkaEncodeErrorCode } from './codec-errors.ts';
export { KAFKA_ERROR, kafkaErrorName } from './errors.ts';
export type { KafkaErrorCode, KafkaErrorName } from './errors.ts';
export {
  DEFAULT_FRAME_BYTES_MAX, KafkaFrameDecoder, decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame,
  requestHeaderVersion, responseHeaderVersion,
} from './framing.ts';
export type { DecodedRequest } from './framing.ts';
export * from './generated/index.ts';
export {
  COMPRESSION, RECORD_BATCH_HEADER_BYTES, buildRecordBatch, decodeRecords, readRecordBatches, setBaseOffset, setPartitionLeaderEpoch,
  validateRecordBatch,
} from './record-batch.ts';
export type {
  BuildRecordBatchOptions, CompressionName, KafkaRecord, ReadRecordBatchesOptions, RecordBatchHeader, RecordBatchView, RecordHeader, RecordInput,
} from './record-batch.ts';
export { API_KEY, SUPPORTED_APIS, advertisedApiVersions, isSupportedVersion, supportedApi } from './supported-apis.ts';
export type { ApiKey, ApiName, SupportedApi } from './supported-apis.ts';
