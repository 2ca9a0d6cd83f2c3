// The byte form of a ConfChange inside a log entry. Hand-written and versioned because the core
// may not depend on a serialization package; decoding is bounded since entries come from peers.
import type { ConfChange, ConfChangeAction, ConfChangeSingle } from '../types.ts';

const FORMAT_VERSION = 1;
const ACTIONS: readonly ConfChangeAction[] = ['add-voter', 'add-learner', 'remove'];
const TRANSITIONS = ['auto', 'explicit', 'joint-implicit'] as const;
/** No real membership change touches more members than this. */
export const CONF_CHANGES_MAX = 64;
export const CONF_CHANGE_CONTEXT_BYTES_MAX = 64 * 1024;

export function encodeConfChange(change: ConfChange): Uint8Array {
  const context = change.context ?? new Uint8Array(0);
  const bytes = new Uint8Array(1 + 1 + 2 + change.changes.length * 9 + 4 + context.byteLength);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  view.setUint8(offset++, FORMAT_VERSION);
  view.setUint8(offset++, TRANSITIONS.indexOf(change.transition ?? 'auto'));
  view.setUint16(offset, change.changes.length);
  offset += 2;
  for (const single of change.changes) {
    view.setUint8(offset++, ACTIONS.indexOf(single.action));
    view.setFloat64(offset, single.nodeId);
    offset += 8;
  }
  view.setUint32(offset, context.byteLength);
  offset += 4;
  bytes.set(context, offset);
  return bytes;
}

export type DecodeOutcome = { readonly ok: true; readonly change: ConfChange } | { readonly ok: false; readonly error: string };

export function decodeConfChange(bytes: Uint8Array): DecodeOutcome {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8) return { ok: false, error: `conf change of ${bytes.byteLength} bytes is too short` };
  if (view.getUint8(0) !== FORMAT_VERSION) return { ok: false, error: `unknown conf change format ${view.getUint8(0)}` };
  const transition = TRANSITIONS[view.getUint8(1)];
  if (transition === undefined) return { ok: false, error: `unknown conf change transition ${view.getUint8(1)}` };
  const count = view.getUint16(2);
  if (count > CONF_CHANGES_MAX) return { ok: false, error: `conf change with ${count} changes exceeds ${CONF_CHANGES_MAX}` };
  let offset = 4;
  if (bytes.byteLength < offset + count * 9 + 4) return { ok: false, error: 'conf change truncated' };
  const changes: ConfChangeSingle[] = [];
  for (let position = 0; position < count; position++) {
    const action = ACTIONS[view.getUint8(offset)];
    const nodeId = view.getFloat64(offset + 1);
    offset += 9;
    if (action === undefined) return { ok: false, error: `unknown conf change action ${view.getUint8(offset - 9)}` };
    if (!Number.isSafeInteger(nodeId) || nodeId <= 0) return { ok: false, error: `invalid node id ${nodeId}` };
    changes.push({ action, nodeId });
  }
  const contextLength = view.getUint32(offset);
  offset += 4;
  if (contextLength > CONF_CHANGE_CONTEXT_BYTES_MAX || offset + contextLength !== bytes.byteLength) {
    return { ok: false, error: `conf change context length ${contextLength} does not fit the entry` };
  }
  const context = bytes.slice(offset, offset + contextLength);
  return { ok: true, change: { changes, transition, ...(contextLength > 0 ? { context } : {}) } };
}
