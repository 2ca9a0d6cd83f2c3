// Whether this build's CairnNode serves the Kafka protocol. The Kafka broker is built in
// parallel; once CairnNodeOptions gains its listen/advertise options (with a default in
// CAIRN_NODE_DEFAULTS), the CLI and local clusters pass them on. Until then `--kafka-port` is
// accepted and reported as unavailable rather than silently ignored.
import { CAIRN_NODE_DEFAULTS } from '../server/node/options.ts';

/** The node options that carry the Kafka listener, when the node has them. */
export const KAFKA_NODE_OPTIONS = { listen: 'kafkaListen', advertise: 'kafkaAdvertise' } as const;

export function nodeSupportsKafka(): boolean {
  return KAFKA_NODE_OPTIONS.listen in CAIRN_NODE_DEFAULTS;
}
