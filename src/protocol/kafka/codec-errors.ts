// Errors of the Kafka wire codec. Decoding errors come from bytes a client sent: they are values the
// broker handles (answer with the protocol error, or close the connection), never crashes. Encoding
// errors mean our own code built an impossible message: they are programmer errors.

import { KAFKA_ERROR } from './errors.ts';

/** Stable codes of `KafkaDecodeError`; match on these, never on the message text. */
export type KafkaDecodeErrorCode =
  /** A fixed-size value (int32, uuid, ...) runs past the end of the input. */
  | 'truncated'
  /** A string, bytes or array length points past the end of the input. */
  | 'length_exceeds_remaining'
  /** A length or count is larger than the configured maximum. */
  | 'length_exceeds_limit'
  /** A length below -1 (or -1 where null is not allowed is `unexpected_null`). */
  | 'negative_length'
  /** Null sent for a field that is not nullable at this version. */
  | 'unexpected_null'
  /** A varint longer than its type allows, or one that overflows it. */
  | 'invalid_varint'
  /** More tagged fields than the configured maximum. */
  | 'too_many_tagged_fields'
  /** A known tagged field did not use exactly the size its header announced. */
  | 'tagged_field_size_mismatch'
  /** The message version is outside the range the codec was generated for. */
  | 'unsupported_version'
  /** An API key the codec does not know. */
  | 'unknown_api_key'
  /** Bytes left over after a complete message. */
  | 'trailing_bytes'
  /** A frame size prefix that is negative. */
  | 'frame_size_negative'
  /** A frame size prefix above the configured maximum frame size. */
  | 'frame_too_large'
  /** A record batch that is not magic 2. */
  | 'record_batch_magic'
  /** A record batch whose stored CRC-32C does not match its contents. */
  | 'record_batch_crc'
  /** A record batch whose batchLength is too small or runs past the records blob. */
  | 'record_batch_length'
  /** recordsCount and lastOffsetDelta disagree, or the batch is empty. */
  | 'record_batch_records_count'
  /** A compression type outside 0-4. */
  | 'record_batch_compression'
  /** More batches in one records blob than the configured maximum. */
  | 'record_batch_too_many'
  /** A record inside an uncompressed batch is malformed. */
  | 'record_invalid';

export class KafkaDecodeError extends Error {
  override name = 'KafkaDecodeError';
  readonly code: KafkaDecodeErrorCode;
  /** Where in the message the problem is, e.g. `ProduceRequest.topicData[0].name`. */
  readonly path: string;
  /** The Kafka protocol error code a broker would answer with. */
  readonly kafkaErrorCode: number;

  constructor(code: KafkaDecodeErrorCode, path: string, detail: string, kafkaErrorCode?: number) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.code = code;
    this.path = path;
    this.kafkaErrorCode = kafkaErrorCode ?? (code.startsWith('record') ? KAFKA_ERROR.CORRUPT_MESSAGE : KAFKA_ERROR.INVALID_REQUEST);
  }
}

export type KafkaEncodeErrorCode =
  /** A number outside its wire type's range, or not an integer. */
  | 'value_out_of_range'
  /** Null given for a field that is not nullable at this version. */
  | 'null_not_allowed'
  /** A string, bytes or array longer than its length prefix can express. */
  | 'too_long'
  /** A non-default value for a field the version does not have, and Kafka says it must not be dropped. */
  | 'field_not_in_version'
  /** The version is outside the range the codec was generated for. */
  | 'unsupported_version'
  /** An API key the codec does not know. */
  | 'unknown_api_key'
  /** A uuid that is not 16 bytes. */
  | 'invalid_uuid';

export class KafkaEncodeError extends Error {
  override name = 'KafkaEncodeError';
  readonly code: KafkaEncodeErrorCode;
  readonly path: string;

  constructor(code: KafkaEncodeErrorCode, path: string, detail: string) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.code = code;
    this.path = path;
  }
}
