// The Kafka-compatible broker of a Cairn node. See README.md.
export { KafkaBroker, startKafkaBroker } from './broker.ts';
export type { KafkaBrokerStats } from './broker.ts';
export { DEFAULT_GROUP_SETTINGS, DEFAULT_KAFKA_BROKER_LIMITS, KafkaBrokerError, resolveBrokerOptions } from './options.ts';
export type { BrokerParts, BrokerRaft, KafkaBrokerLimits, KafkaBrokerOptions, KafkaGroupSettings, KafkaRequestObservation, ResolvedBrokerOptions } from './options.ts';
export { formatHostPort, parseHostPort } from './cluster-view.ts';
