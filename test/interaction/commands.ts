// The commands of the interaction script language. Each returns the lines it prints.
import { formatEntry, formatStatus } from './format.ts';
import { Environment, parseConfChanges } from './environment.ts';
import type { MessageFilter, NodeSettings } from './environment.ts';
import type { Block } from './script.ts';

type Command = (environment: Environment, block: Block) => string[];

const encoder = new TextEncoder();

function ids(values: readonly string[] | undefined): number[] {
  return (values ?? []).map((value) => {
    const id = Number(value);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`bad node id "${value}"`);
    return id;
  });
}

function single(block: Block, key: string, fallback?: string): string {
  const value = block.named.get(key)?.[0] ?? fallback;
  if (value === undefined) throw new Error(`${block.command}: missing ${key}=`);
  return value;
}

function firstId(block: Block): number {
  const [id] = ids(block.positional.slice(0, 1));
  if (id === undefined) throw new Error(`${block.command}: missing node id`);
  return id;
}

function flag(block: Block, key: string, fallback: boolean): boolean {
  const value = block.named.get(key)?.[0];
  return value === undefined ? fallback : value === 'true';
}

function refusal(result: { ok: boolean; reason?: string; message?: string; leaderId?: number }): string[] {
  if (result.ok) return [];
  return [`refused: ${result.reason} leader=${result.leaderId} (${result.message})`];
}

const addNodes: Command = (environment, block) => {
  const count = Number(block.positional[0]);
  const start = Number(single(block, 'start', String(environment.nodes.size + 1)));
  const settings: NodeSettings = {
    preVote: flag(block, 'prevote', true),
    checkQuorum: flag(block, 'checkquorum', true),
    electionTimeoutTicks: Number(single(block, 'election', '10')),
    heartbeatIntervalTicks: Number(single(block, 'heartbeat', '1')),
    inflightMessagesMax: Number(single(block, 'inflight', '256')),
    appendBytesPerMessageMax: Number(single(block, 'max-bytes', String(1024 * 1024))),
    inflightBytesMax: Number(single(block, 'inflight-bytes', String(32 * 1024 * 1024))),
    uncommittedBytesMax: Number(single(block, 'max-uncommitted', String(64 * 1024 * 1024))),
  };
  const confState = {
    voters: ids(block.named.get('voters')),
    learners: ids(block.named.get('learners')),
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  const index = Number(single(block, 'index', '0'));
  const lines: string[] = [];
  for (let offset = 0; offset < count; offset++) lines.push(...environment.addNode(start + offset, confState, index, settings));
  return lines;
};

const propose: Command = (environment, block) => {
  const id = firstId(block);
  const data = block.positional.slice(1).join(' ');
  const result = environment.node(id).node.propose(encoder.encode(data));
  return result.ok ? [`proposed at ${result.term}/${result.index}`] : refusal(result);
};

/** Several entries in one proposal (one append message per follower). */
const proposeBatch: Command = (environment, block) => {
  const id = firstId(block);
  const result = environment.node(id).node.proposeBatch(block.positional.slice(1).map((data) => encoder.encode(data)));
  return result.ok ? [`proposed at ${result.term}/${result.index}..${result.index + block.positional.length - 2}`] : refusal(result);
};

const proposeConfChange: Command = (environment, block) => {
  const id = firstId(block);
  const transition = block.named.get('transition')?.[0] as 'auto' | 'explicit' | 'joint-implicit' | undefined;
  const changes = parseConfChanges(block.positional.slice(1));
  const result = environment.node(id).node.proposeConfChange({ changes, ...(transition ? { transition } : {}) });
  return result.ok ? [`proposed at ${result.term}/${result.index}`] : refusal(result);
};

const tick: Command = (environment, block) => {
  const id = firstId(block);
  const count = Number(block.positional[1] ?? '1');
  for (let round = 0; round < count; round++) environment.node(id).node.tick();
  return [];
};

/**
 * Ticks the given nodes together until the first of them reaches its election timeout (the
 * randomized one for followers and candidates, the plain one for a leader's check-quorum). Ticking
 * several nodes at once is what real clocks do: the others leave the leader's lease meanwhile.
 */
const tickElection: Command = (environment, block) => {
  const nodes = ids(block.positional).map((id) => environment.node(id).node);
  if (nodes.length === 0) throw new Error('tick-election: missing node id');
  const remaining = Math.min(...nodes.map(({ raft }) =>
    raft.role === 'leader' ? raft.config.electionTimeoutTicks - raft.electionElapsed : raft.randomizedElectionTimeout - raft.electionElapsed));
  for (let round = 0; round < Math.max(remaining, 1); round++) for (const node of nodes) node.tick();
  return [];
};

const tickHeartbeat: Command = (environment, block) => {
  const { node } = environment.node(firstId(block));
  for (let round = 0; round < node.raft.config.heartbeatIntervalTicks; round++) node.tick();
  return [];
};

const partition: Command = (environment, block) => {
  const groups = block.positional.map((group) => ids(group.replace(/[()]/g, '').split(/[\s,]+/).filter((part) => part !== '')));
  const dropped = environment.setPartition(groups);
  return [...dropped, `partitioned: ${groups.map((group) => `(${group.join(' ')})`).join(' ')}`];
};

const log: Command = (environment, block) => {
  const { node, storage } = environment.node(firstId(block));
  const entries = node.raft.log.allEntries();
  const header = `log [${node.raft.log.firstIndex()}, ${node.raft.log.lastIndex()}] stable through ${storage.lastIndex()}, committed ${node.raft.log.committed}`;
  return entries.length === 0 ? [header, '(empty)'] : [header, ...entries.map(formatEntry)];
};

const raftState: Command = (environment) =>
  environment.sortedIds().map((id) => {
    const status = environment.node(id).node.status();
    return `${id}: ${status.role} term=${status.term} leader=${status.leaderId} commit=${status.commit}${status.isLearner ? ' (learner)' : ''}`;
  });

function messageFilter(block: Block): MessageFilter {
  return { to: ids(block.positional), from: ids(block.named.get('from')), type: block.named.get('type')?.[0] };
}

const transferLeadership: Command = (environment, block) => {
  const from = Number(single(block, 'from'));
  const to = Number(single(block, 'to'));
  return refusal(environment.node(from).node.transferLeader(to));
};

const readIndex: Command = (environment, block) => {
  const id = firstId(block);
  return refusal(environment.node(id).node.readIndex(encoder.encode(block.positional[1] ?? '')));
};

const reportSnapshot: Command = (environment, block) => {
  const id = firstId(block);
  environment.node(id).node.reportSnapshot(Number(block.positional[1]), block.positional[2] !== 'fail');
  return [];
};

export const COMMANDS: Readonly<Record<string, Command>> = {
  'add-nodes': addNodes,
  campaign: (environment, block) => {
    environment.node(firstId(block)).node.campaign();
    return [];
  },
  propose,
  'propose-batch': proposeBatch,
  'propose-conf-change': proposeConfChange,
  'process-ready': (environment, block) => ids(block.positional).flatMap((id) => environment.processReady(id)),
  'take-ready': (environment, block) => environment.takeReady(firstId(block)),
  'complete-ready': (environment, block) => environment.completeReady(firstId(block)),
  'deliver-msgs': (environment, block) => environment.deliver(messageFilter(block), new Set(ids(block.named.get('drop')))),
  'drop-msgs': (environment, block) => environment.dropMessages(messageFilter(block)),
  stabilize: (environment, block) => environment.stabilize(ids(block.positional)),
  tick,
  'tick-election': tickElection,
  'tick-heartbeat': tickHeartbeat,
  partition,
  heal: (environment) => [...environment.setPartition([]), 'healed'],
  log,
  status: (environment, block) => formatStatus(environment.node(firstId(block)).node.status()),
  'raft-state': raftState,
  applied: (environment, block) => [`${firstId(block)}: ${JSON.stringify(environment.node(firstId(block)).applied)}`],
  'transfer-leadership': transferLeadership,
  'read-index': readIndex,
  compact: (environment, block) => environment.compact(firstId(block), Number(block.positional[1])),
  restart: (environment, block) => environment.restart(firstId(block)),
  crash: (environment, block) => environment.crash(firstId(block)),
  'set-log': (environment, block) =>
    environment.setLog(
      firstId(block), (block.named.get('terms') ?? []).map(Number), Number(single(block, 'term')),
      Number(single(block, 'vote', '0')), Number(single(block, 'commit', String(environment.node(firstId(block)).storage.firstIndex() - 1))),
    ),
  'report-unreachable': (environment, block) => {
    environment.node(firstId(block)).node.reportUnreachable(Number(block.positional[1]));
    return [];
  },
  'report-snapshot': reportSnapshot,
};

export function runCommand(environment: Environment, block: Block): string {
  const command = COMMANDS[block.command];
  if (command === undefined) throw new Error(`unknown command "${block.command}" (known: ${Object.keys(COMMANDS).join(', ')})`);
  return command(environment, block).join('\n');
}
