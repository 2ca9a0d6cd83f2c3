// Creating a cluster: the founding node's storage gets one committed entry, the membership
// change that makes it the only voter (with its addresses in the change's context, so every
// later member learns how to reach it). Everything else joins through membership changes.
import { encodeConfChange } from '../core/index.ts';
import { encodeMembershipContext } from '../state/members/member-directory.ts';
import type { MemberAddresses } from '../state/members/member-directory.ts';
import type { DurableStorage } from '../storage/index.ts';
import { NodeError } from './errors.ts';

export async function bootstrapCluster(storage: DurableStorage, selfId: number, addresses: MemberAddresses): Promise<void> {
  const { hardState } = storage.initialState();
  if (storage.lastIndex() > 0 || hardState.term > 0) {
    throw new NodeError('invalid-conf-change', `node ${selfId} already has Raft state (last index ${storage.lastIndex()}, term ${hardState.term}); a cluster can only be created on an empty data directory`);
  }
  const data = encodeConfChange({
    changes: [{ action: 'add-voter', nodeId: selfId }],
    context: encodeMembershipContext({ members: { [String(selfId)]: addresses } }),
  });
  await storage.save({ entries: [{ term: 1, index: 1, type: 'conf-change', data }], hardState: { term: 1, vote: 0, commit: 1 } }, true);
}

/**
 * Creates a cluster whose founding members are all known up front (tests, the simulator): each
 * founding node's storage gets the same committed entries, one membership change per member.
 */
export async function bootstrapStaticCluster(storage: DurableStorage, members: readonly { id: number; addresses: MemberAddresses }[]): Promise<void> {
  const { hardState } = storage.initialState();
  if (storage.lastIndex() > 0 || hardState.term > 0) throw new NodeError('invalid-conf-change', 'the node already has Raft state; cannot bootstrap it again');
  const entries = members.map((member, position) => ({
    term: 1,
    index: position + 1,
    type: 'conf-change' as const,
    data: encodeConfChange({
      changes: [{ action: 'add-voter', nodeId: member.id }],
      context: encodeMembershipContext({ members: { [String(member.id)]: member.addresses } }),
    }),
  }));
  await storage.save({ entries, hardState: { term: 1, vote: 0, commit: entries.length } }, true);
}

/** Whether this storage belongs to a node that is (or was) part of a cluster. */
export function hasClusterState(storage: DurableStorage): boolean {
  return storage.lastIndex() > 0 || storage.initialState().hardState.term > 0;
}
