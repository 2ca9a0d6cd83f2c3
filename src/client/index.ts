// The public API of the Cairn client.
export { CairnClient } from './cairn-client.ts';
export type { CairnClientOptions } from './cairn-client.ts';
export { CairnClientError, isCairnClientError } from './errors.ts';
export type { ClientOutcome } from './errors.ts';
export { encodeTicket, decodeTicket } from './ticket.ts';
export type { ClusterTicket } from './ticket.ts';
export { CairnWatch } from './watch.ts';
export type { WatchOptions } from './watch.ts';
export type * from './types.ts';
export { toBytes } from './types.ts';
export type {
  WireClusterStatus, WireMember, WireNodeStatus, WireHealth, WireReady, WireLease, WireMemberChange, WireClusterConfig,
} from '../server/http/api-types.ts';
