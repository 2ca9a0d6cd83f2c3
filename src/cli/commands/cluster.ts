// `cairn cluster ...`: membership and status over the HTTP API (through CairnClient).
import { Option } from 'commander';
import type { Command } from 'commander';
import { encodeTicket } from '../../client/index.ts';
import type { CairnClient, WireClusterStatus, WireMemberChange } from '../../client/index.ts';
import { addGlobalOptions, createClient, explainClientError, parseDuration, withClient } from '../client-options.ts';
import type { GlobalOptions } from '../client-options.ts';
import { usageError } from '../errors.ts';
import { table, writeJson, writeLine } from '../output.ts';
import { isAddress } from '../settings/parse.ts';

function nodeId(text: string, what = 'node id'): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) throw usageError(`${what} ${JSON.stringify(text)} must be a whole number >= 1`);
  return Number(text);
}

function address(text: string | undefined, what: string, required: boolean): string | undefined {
  if (text === undefined) {
    if (required) throw usageError(`${what} <host:port> is required`);
    return undefined;
  }
  if (!isAddress(text)) throw usageError(`${what} ${JSON.stringify(text)} is not host:port`);
  return text;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function leaf(parent: Command, name: string, description: string, examples: string): Command {
  const command = parent.command(name).description(description);
  addGlobalOptions(command);
  command.addHelpText('after', `\nExamples:\n${examples}`);
  return command;
}

/** Fills in the `cluster` command group. */
export function registerCluster(cluster: Command): void {
  registerStatus(cluster);
  leaf(cluster, 'init', 'create a new cluster on an empty node (started without --init or --join)', '  cairn cluster init --endpoints 127.0.0.1:2379 --cluster-id prod-kv')
    .option('--cluster-id <id>', 'the new cluster\'s id (default: generated)')
    .action(async (options: GlobalOptions & { clusterId?: string }) => {
      const answer = await withClient(options, (client) => client.init(options.clusterId === undefined ? {} : { clusterId: options.clusterId }));
      if (options.json === true) writeJson(answer);
      else writeLine(`created cluster ${answer.clusterId} with node ${answer.nodeId} as its only voter`);
    });
  leaf(cluster, 'add-learner', 'add a non-voting member (start it with --node-id, --cluster-id and --seed-peers, or use `cairn serve --join` instead)',
    '  cairn cluster add-learner 4 --peer 127.0.0.1:2410 --client 127.0.0.1:2409 --name node-4')
    .argument('<id>', 'the new member\'s node id')
    .option('--peer <host:port>', 'its peer (Raft) address')
    .option('--client <host:port>', 'its client (HTTP) address')
    .option('--kafka <host:port>', 'its Kafka address')
    .option('--name <text>', 'a human name')
    .option('--auto-promote', 'promote it to voter automatically once it has caught up')
    .action(async (id: string, options: GlobalOptions & { peer?: string; client?: string; kafka?: string; name?: string; autoPromote?: boolean }) => {
      const member = {
        nodeId: nodeId(id), peer: address(options.peer, '--peer', true)!, client: address(options.client, '--client', true)!,
        ...(options.kafka === undefined ? {} : { kafka: address(options.kafka, '--kafka', false)! }), ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.autoPromote === true ? { autoPromote: true } : {}),
      };
      await membership(options, (client) => client.addLearner(member), `node ${id} added as a learner`);
    });
  leaf(cluster, 'promote', 'make a learner a voter', '  cairn cluster promote 4').argument('<id>', 'the learner\'s node id')
    .action(async (id: string, options: GlobalOptions) => membership(options, (client) => client.promote(nodeId(id)), `node ${id} is a voter`));
  leaf(cluster, 'remove', 'remove a member (voter or learner)', '  cairn cluster remove 2').argument('<id>', 'the member\'s node id')
    .action(async (id: string, options: GlobalOptions) => membership(options, (client) => client.removeMember(nodeId(id)), `node ${id} removed`));
  registerChangeMembership(cluster);
  leaf(cluster, 'transfer-leader', 'move leadership to a voter (default: the most caught-up other voter)', '  cairn cluster transfer-leader\n  cairn cluster transfer-leader 3')
    .argument('[id]', 'the voter to lead')
    .action(async (id: string | undefined, options: GlobalOptions) => {
      const answer = await withClient(options, (client) => client.transferLeader(id === undefined ? undefined : nodeId(id)));
      if (options.json === true) writeJson(answer);
      else writeLine(`node ${answer.leaderId} leads`);
    });
  leaf(cluster, 'ticket', 'print a ticket (one token with the cluster id and every member\'s client address)', '  export CAIRN_TICKET=$(cairn cluster ticket)')
    .action(async (options: GlobalOptions) => {
      const status = await withClient(options, (client) => client.status({ scope: 'local' }));
      const endpoints = status.members.map((member) => member.client).filter((client) => client !== '');
      if (status.clusterId === null || endpoints.length === 0) throw usageError('the node answering is not part of a running cluster yet');
      const ticket = encodeTicket({ clusterId: status.clusterId, endpoints });
      if (options.json === true) writeJson({ clusterId: status.clusterId, endpoints, ticket });
      else writeLine(ticket);
    });
}

async function membership(options: GlobalOptions, change: (client: CairnClient) => Promise<{ config: WireClusterStatus['config'] }>, done: string): Promise<void> {
  const answer = await withClient(options, change);
  if (options.json === true) writeJson(answer);
  else writeLine(`${done}; voters [${answer.config.voters.join(', ')}], learners [${answer.config.learners.join(', ')}]${answer.config.joint ? ' (joint)' : ''}`);
}

function registerChangeMembership(cluster: Command): void {
  leaf(cluster, 'change-membership', 'several membership changes at once (a joint configuration, left automatically unless --explicit)',
    '  cairn cluster change-membership --add-voter 4 --remove 2\n  cairn cluster change-membership --add-learner 5 --member 5=127.0.0.1:2420,127.0.0.1:2419\n  cairn cluster change-membership --leave-joint')
    .option('--add-voter <id>', 'add or promote a voter (repeatable)', collect, [])
    .option('--add-learner <id>', 'add a learner (repeatable)', collect, [])
    .option('--remove <id>', 'remove a member (repeatable)', collect, [])
    .option('--member <id=peer,client>', 'addresses of a member being added (repeatable)', collect, [])
    .option('--explicit', 'stay in the joint configuration until `--leave-joint`')
    .option('--leave-joint', 'leave a joint configuration entered with --explicit (no other change)')
    .action(async (options: GlobalOptions & { addVoter: string[]; addLearner: string[]; remove: string[]; member: string[]; explicit?: boolean; leaveJoint?: boolean }) => {
      const addresses = new Map(options.member.map((text) => {
        const match = /^(\d+)=([^,]+),([^,]+)$/.exec(text);
        if (match === null) throw usageError(`--member ${JSON.stringify(text)} must be id=peer-host:port,client-host:port`);
        return [nodeId(match[1]!), { peer: address(match[2], '--member peer', true)!, client: address(match[3], '--member client', true)! }];
      }));
      const changes: WireMemberChange[] = [
        ...options.addVoter.map((id) => ({ action: 'add-voter' as const, nodeId: nodeId(id, '--add-voter') })),
        ...options.addLearner.map((id) => ({ action: 'add-learner' as const, nodeId: nodeId(id, '--add-learner') })),
        ...options.remove.map((id) => ({ action: 'remove' as const, nodeId: nodeId(id, '--remove') })),
      ].map((change) => ({ ...change, ...(change.action === 'remove' ? {} : addresses.get(change.nodeId) ?? {}) }));
      if (changes.length === 0 && options.leaveJoint !== true) throw usageError('give at least one --add-voter, --add-learner or --remove (or --leave-joint)');
      if (changes.length > 0 && options.leaveJoint === true) throw usageError('--leave-joint takes no other change');
      await membership(options, (client) => client.changeMembership(changes, options.explicit === true ? { transition: 'explicit' } : {}), 'membership changed');
    });
}

function registerStatus(cluster: Command): void {
  leaf(cluster, 'status', 'the cluster as one member sees it, with every member\'s own status',
    '  cairn cluster status\n  cairn cluster status --watch --interval 500ms\n  cairn cluster status --json | jq .leaderId')
    .option('--watch', 'refresh until Ctrl-C (with --json: one JSON line per refresh)')
    .addOption(new Option('--interval <duration>', 'refresh interval of --watch').default('1s'))
    .option('--local', 'only what the answering node knows (no fan-out to members)')
    .action(async (options: GlobalOptions & { watch?: boolean; interval: string; local?: boolean }) => {
      const scope = options.local === true ? 'local' as const : 'cluster' as const;
      if (options.watch !== true) {
        const status = await withClient(options, (client) => client.status({ scope }));
        if (options.json === true) writeJson(status);
        else writeLine(formatStatus(status));
        return;
      }
      await watchStatus(options, scope, parseDuration(options.interval, '--interval'));
    });
}

async function watchStatus(options: GlobalOptions, scope: 'local' | 'cluster', intervalMs: number): Promise<void> {
  const client = createClient(options, { timeoutMs: Math.max(500, intervalMs), maxAttempts: 3 });
  let stopped = false;
  process.once('SIGINT', () => { stopped = true; });
  const tty = process.stdout.isTTY === true && options.json !== true;
  try {
    while (!stopped) {
      let text: string;
      try {
        const status = await client.status({ scope });
        if (options.json === true) writeJson({ time: new Date().toISOString(), ...status });
        text = formatStatus(status);
      } catch (error) {
        const explained = await explainClientError(error, client);
        if (options.json === true) writeJson({ time: new Date().toISOString(), error: { code: explained.code, message: explained.message } });
        text = `error: ${explained.message}`;
      }
      if (options.json !== true) writeLine(tty ? `\x1b[H\x1b[2J${new Date().toLocaleTimeString()}  (Ctrl-C to stop)\n${text}` : text);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    client.close();
  }
}

export function formatStatus(status: WireClusterStatus): string {
  const config = status.config;
  const header = `cluster ${status.clusterId ?? '(none)'}  leader ${status.leaderId || 'none'}  term ${status.term}  voters [${config.voters.join(', ')}]  learners [${config.learners.join(', ')}]${config.joint ? `  joint (outgoing [${config.votersOutgoing.join(', ')}])` : ''}`;
  const rows = status.members.map((member) => [
    String(member.id), member.name ?? '-', member.membership, member.status?.role ?? (member.statusError === undefined ? '-' : 'unreachable'),
    String(member.status?.term ?? '-'), String(member.status?.commitIndex ?? '-'), String(member.status?.appliedIndex ?? '-'),
    String(member.progress?.lagEntries ?? '-'), member.healthy === undefined ? '-' : member.healthy ? 'yes' : 'no', member.client, member.peer,
  ]);
  const node = status.node;
  const footer = `answered by node ${node.nodeId} (${node.phase}${node.role === null ? '' : `, ${node.role}`})${node.failure === undefined ? '' : `: failed: ${node.failure}`}`;
  return [header, table([['ID', 'NAME', 'MEMBERSHIP', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'HEALTHY', 'CLIENT', 'PEER'], ...rows]), footer].join('\n');
}
