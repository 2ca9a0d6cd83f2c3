// The one table of Kafka APIs and versions Cairn implements. The codec generator
// (scripts/generate-kafka-codecs.ts) generates exactly these ranges, and the broker advertises
// exactly these in ApiVersions — clients pick versions from what we advertise, so advertising a
// version we cannot decode (or the reverse) breaks them. Ranges come from the Kafka issue and
// ../shared/research/kafka-clients.md (what kafkajs, kafka-python and librdkafka need).

export const API_KEY = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
} as const;

export type ApiName = keyof typeof API_KEY;
export type ApiKey = (typeof API_KEY)[ApiName];

export interface SupportedApi {
  /** Kafka's name; the message definitions are `<name>Request.json` and `<name>Response.json`. */
  readonly name: ApiName;
  readonly apiKey: ApiKey;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export const SUPPORTED_APIS: readonly SupportedApi[] = [
  { name: 'Produce', apiKey: API_KEY.Produce, minVersion: 3, maxVersion: 7 },
  { name: 'Fetch', apiKey: API_KEY.Fetch, minVersion: 4, maxVersion: 11 },
  { name: 'ListOffsets', apiKey: API_KEY.ListOffsets, minVersion: 1, maxVersion: 5 },
  { name: 'Metadata', apiKey: API_KEY.Metadata, minVersion: 0, maxVersion: 6 },
  { name: 'OffsetCommit', apiKey: API_KEY.OffsetCommit, minVersion: 2, maxVersion: 7 },
  { name: 'OffsetFetch', apiKey: API_KEY.OffsetFetch, minVersion: 1, maxVersion: 5 },
  { name: 'FindCoordinator', apiKey: API_KEY.FindCoordinator, minVersion: 0, maxVersion: 2 },
  { name: 'JoinGroup', apiKey: API_KEY.JoinGroup, minVersion: 0, maxVersion: 5 },
  { name: 'Heartbeat', apiKey: API_KEY.Heartbeat, minVersion: 0, maxVersion: 3 },
  { name: 'LeaveGroup', apiKey: API_KEY.LeaveGroup, minVersion: 0, maxVersion: 3 },
  { name: 'SyncGroup', apiKey: API_KEY.SyncGroup, minVersion: 0, maxVersion: 3 },
  { name: 'DescribeGroups', apiKey: API_KEY.DescribeGroups, minVersion: 0, maxVersion: 4 },
  { name: 'ListGroups', apiKey: API_KEY.ListGroups, minVersion: 0, maxVersion: 2 },
  { name: 'ApiVersions', apiKey: API_KEY.ApiVersions, minVersion: 0, maxVersion: 3 },
  { name: 'CreateTopics', apiKey: API_KEY.CreateTopics, minVersion: 0, maxVersion: 4 },
  { name: 'DeleteTopics', apiKey: API_KEY.DeleteTopics, minVersion: 0, maxVersion: 3 },
  { name: 'InitProducerId', apiKey: API_KEY.InitProducerId, minVersion: 0, maxVersion: 1 },
];

const BY_KEY: ReadonlyMap<number, SupportedApi> = new Map(SUPPORTED_APIS.map((api) => [api.apiKey, api]));

/** The supported range for an API key, or undefined when Cairn does not serve that API at all. */
export function supportedApi(apiKey: number): SupportedApi | undefined {
  return BY_KEY.get(apiKey);
}

export function isSupportedVersion(apiKey: number, version: number): boolean {
  const api = BY_KEY.get(apiKey);
  return api !== undefined && version >= api.minVersion && version <= api.maxVersion;
}

/** The `apiKeys` list of an ApiVersions response: exactly the table above, by api key. */
export function advertisedApiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return [...SUPPORTED_APIS]
    .sort((left, right) => left.apiKey - right.apiKey)
    .map(({ apiKey, minVersion, maxVersion }) => ({ apiKey, minVersion, maxVersion }));
}
