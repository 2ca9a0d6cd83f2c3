// Text forms of core values for the golden files: compact, stable and readable.
import { decodeConfChange } from '../../src/core/index.ts';
import type { ConfState, Entry, HardState, Message, RaftStatus, Ready } from '../../src/core/index.ts';

const decoder = new TextDecoder();

export function formatData(data: Uint8Array): string {
  return JSON.stringify(decoder.decode(data));
}

export function formatEntry(entry: Entry): string {
  if (entry.type === 'normal') return `${entry.term}/${entry.index} ${formatData(entry.data)}`;
  const decoded = decodeConfChange(entry.data);
  if (!decoded.ok) return `${entry.term}/${entry.index} conf-change <invalid: ${decoded.error}>`;
  const { changes, transition } = decoded.change;
  const parts = changes.map((change) => `${change.action === 'add-voter' ? 'v' : change.action === 'add-learner' ? 'l' : 'r'}${change.nodeId}`);
  const suffix = transition !== undefined && transition !== 'auto' ? ` transition=${transition}` : '';
  return `${entry.term}/${entry.index} conf-change ${parts.length === 0 ? 'leave-joint' : parts.join(' ')}${suffix}`;
}

function formatEntries(entries: readonly Entry[]): string {
  return `[${entries.map(formatEntry).join(', ')}]`;
}

export function formatConfState(state: ConfState): string {
  const ids = (values: readonly number[]) => `(${values.join(' ')})`;
  let text = `voters=${ids(state.voters)}`;
  if (state.votersOutgoing.length > 0) text += `&&${ids(state.votersOutgoing)}`;
  if (state.learners.length > 0) text += ` learners=${ids(state.learners)}`;
  if (state.learnersNext.length > 0) text += ` learners_next=${ids(state.learnersNext)}`;
  if (state.autoLeave) text += ' autoleave';
  return text;
}

export function formatMessage(message: Message): string {
  let text = `${message.from}->${message.to} ${message.type} term=${message.term}`;
  switch (message.type) {
    case 'append':
      text += ` log=${message.logTerm}/${message.index} commit=${message.commit}`;
      if (message.entries.length > 0) text += ` entries=${formatEntries(message.entries)}`;
      break;
    case 'append-response':
      text += message.reject ? ` rejected index=${message.index} hint=${message.rejectHint}/${message.logTerm}` : ` index=${message.index}`;
      break;
    case 'vote':
    case 'pre-vote':
      text += ` log=${message.logTerm}/${message.index}`;
      break;
    case 'vote-response':
    case 'pre-vote-response':
      text += message.reject ? ' rejected' : ' granted';
      break;
    case 'heartbeat':
      text += ` commit=${message.commit}`;
      break;
    case 'snapshot': {
      const metadata = message.snapshot!.metadata;
      text += ` snapshot=${metadata.term}/${metadata.index} ${formatConfState(metadata.confState)}`;
      break;
    }
    case 'read-index-response':
      text += ` index=${message.index}`;
      break;
    default:
      break;
  }
  if (message.context !== undefined && message.context.byteLength > 0) text += ` context=${formatData(message.context)}`;
  return text;
}

export function formatHardState(state: HardState): string {
  return `term=${state.term} vote=${state.vote} commit=${state.commit}`;
}

export function formatReady(id: number, ready: Ready): string[] {
  const lines = [`> ${id} ready${ready.mustSync ? ' (sync)' : ''}`];
  if (ready.softState !== undefined) lines.push(`  soft: role=${ready.softState.role} leader=${ready.softState.leaderId}`);
  if (ready.hardState !== undefined) lines.push(`  hard: ${formatHardState(ready.hardState)}`);
  if (ready.snapshot !== undefined) {
    const metadata = ready.snapshot.metadata;
    lines.push(`  snapshot: ${metadata.term}/${metadata.index} ${formatConfState(metadata.confState)}`);
  }
  if (ready.entries.length > 0) lines.push(`  entries: ${ready.entries.map(formatEntry).join(', ')}`);
  if (ready.committedEntries.length > 0) lines.push(`  committed: ${ready.committedEntries.map(formatEntry).join(', ')}`);
  for (const message of ready.messages) lines.push(`  send ${formatMessage(message)}`);
  for (const state of ready.readStates) lines.push(`  read-state: index=${state.index} context=${formatData(state.context)}`);
  return lines;
}

export function formatStatus(status: RaftStatus): string[] {
  const lines = [
    `${status.id}: role=${status.role} term=${status.term} vote=${status.vote} leader=${status.leaderId} commit=${status.commit} applied=${status.applied} log=[${status.firstIndex},${status.lastIndex}]`,
    `  config: ${formatConfState(status.config)}${status.isLearner ? ' (learner)' : ''}${status.leadTransferee !== 0 ? ` transferring to ${status.leadTransferee}` : ''}`,
  ];
  for (const [id, progress] of Object.entries(status.progress ?? {})) {
    const flags = [progress.paused ? 'paused' : '', progress.isLearner ? 'learner' : '', progress.pendingSnapshot > 0 ? `pending-snapshot=${progress.pendingSnapshot}` : '']
      .filter((flag) => flag !== '')
      .join(' ');
    lines.push(`  ${id}: ${progress.state} match=${progress.match} next=${progress.next} inflight=${progress.inflightMessages}${flags === '' ? '' : ` ${flags}`}`);
  }
  return lines;
}
