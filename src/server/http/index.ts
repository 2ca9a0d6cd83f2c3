// The public API of the HTTP layer: the server, the wire types shared with src/client, the host
// contract a node implements, and the join proof.
export { HttpApi } from './http-server.ts';
export type { HttpServerOptions } from './http-server.ts';
export type * from './api-types.ts';
export { TICKET_PREFIX } from './api-types.ts';
export type { ApiHost, ApiSettings, NodePhase, RunningParts } from './host.ts';
export { ApiError } from './errors.ts';
export { joinProof, verifyJoinProof, JOIN_PROOF_MAX_SKEW_MS } from './join-proof.ts';
export { FORWARDED_HEADER } from './leader-proxy.ts';
