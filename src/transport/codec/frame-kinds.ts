// The first element of every frame's msgpack array says what the frame is. These numbers are
// part of the wire protocol: never renumber, only add. Handshake kinds are fixed forever (a peer
// of any version must be able to read another's hello and refusal).
export const FRAME_RAFT = 1;
export const FRAME_REQUEST = 2;
export const FRAME_RESPONSE = 3;
export const FRAME_ERROR_RESPONSE = 4;
/** Protocol version 2: one part of a snapshot's data, ahead of the snapshot message itself. */
export const FRAME_SNAPSHOT_PART = 5;
export const FRAME_HELLO = 16;
export const FRAME_CHALLENGE = 17;
export const FRAME_PROOF = 18;
export const FRAME_WELCOME = 19;
export const FRAME_REFUSED = 20;
