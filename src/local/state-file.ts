// The state file of a local cluster (<dir>/cluster.json): what `cairn local` created and started
// — node ids, ports, data directories, log files, and the pid + start time of each process it
// launched — so later commands (`status`, `down`, `restart`, the chaos suite) find the nodes and
// signal only processes they started. Written atomically (temporary file, rename).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_FILE_NAME = 'cluster.json';
const STATE_VERSION = 1;
const STATE_BYTES_MAX = 1024 * 1024;

export interface LocalNodeState {
  readonly id: number;
  readonly name: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly peer: string;
  readonly client: string;
  /** Null while this build has no Kafka broker. */
  readonly kafka: string | null;
  /** The running process this cluster started (null: not running, as far as we know). */
  readonly pid: number | null;
  readonly startToken: string | null;
}

export interface LocalState {
  readonly version: number;
  readonly clusterId: string;
  readonly createdAt: string;
  readonly host: string;
  readonly basePort: number;
  readonly secretFile: string;
  /** Set once init, learners and promotion have all been done. */
  readonly formed: boolean;
  /** Extra `cairn serve` flags given to every node. */
  readonly serveArgs: readonly string[];
  readonly nodes: readonly LocalNodeState[];
}

export function stateFilePath(directory: string): string {
  return join(directory, STATE_FILE_NAME);
}

/** The state of the local cluster in `directory`, or undefined when there is none. */
export function readLocalState(directory: string): LocalState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFilePath(directory), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (text.length > STATE_BYTES_MAX) throw new Error(`${stateFilePath(directory)} is too large to be a cairn local state file`);
  let state: LocalState;
  try {
    state = JSON.parse(text) as LocalState;
  } catch {
    throw new Error(`${stateFilePath(directory)} is damaged (not JSON): remove the directory after stopping its nodes`);
  }
  if (state.version !== STATE_VERSION || !Array.isArray(state.nodes)) {
    throw new Error(`${stateFilePath(directory)} is not a cairn local state file of version ${STATE_VERSION}`);
  }
  return state;
}

export function writeLocalState(directory: string, state: LocalState): void {
  mkdirSync(directory, { recursive: true });
  const path = stateFilePath(directory);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, path);
}

export function newLocalState(fields: Omit<LocalState, 'version' | 'createdAt' | 'formed'>): LocalState {
  return { version: STATE_VERSION, createdAt: new Date().toISOString(), formed: false, ...fields };
}
