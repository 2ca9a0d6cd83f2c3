// A node's data directory:
//   <dir>/LOCK        the pid of the process using it (created exclusively; see acquireLock)
//   <dir>/node.json   who this node is: node id and cluster id, written once (durably)
//   <dir>/raft/       WAL segments and snapshots (FileStorage)
//   <dir>/state/      the applied state (lmdb)
// Two processes must never open one directory: the second would corrupt the WAL. A LOCK left by
// a process that died (SIGKILL, power loss) is stale: if the pid in it is not alive any more the
// lock is taken over (and logged). If the pid was reused by an unrelated process, the start is
// refused and the message says to check that no Cairn node uses the directory and delete LOCK.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CairnNodeError } from './options.ts';

export interface NodeIdentity {
  readonly version: 1;
  readonly nodeId: number;
  readonly clusterId: string;
  readonly createdAt: string;
  /** Peers learned when joining, used until the node has a membership of its own. */
  readonly seedPeers?: Readonly<Record<string, string>>;
}

export interface LockTakeover {
  readonly stalePid: number;
}

export class DataDirectory {
  readonly root: string;
  readonly raftDirectory: string;
  readonly stateDirectory: string;
  readonly statePath: string;
  readonly identityPath: string;
  readonly lockPath: string;
  #locked = false;

  constructor(root: string) {
    this.root = root;
    this.raftDirectory = join(root, 'raft');
    this.stateDirectory = join(root, 'state');
    this.statePath = join(root, 'state', 'data.mdb');
    this.identityPath = join(root, 'node.json');
    this.lockPath = join(root, 'LOCK');
  }

  /** Creates the directories and takes the lock; returns the stale lock it replaced, if any. */
  open(): LockTakeover | undefined {
    mkdirSync(this.stateDirectory, { recursive: true });
    mkdirSync(this.raftDirectory, { recursive: true });
    const takeover = this.#acquireLock();
    this.#locked = true;
    return takeover;
  }

  #acquireLock(): LockTakeover | undefined {
    const content = `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() })}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx');
        writeSync(fd, content);
        fsyncSync(fd);
        closeSync(fd);
        return attempt === 0 ? undefined : { stalePid: this.#stalePid ?? 0 };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = this.#lockHolder();
      if (holder !== undefined && (holder === process.pid || isAlive(holder))) {
        throw new CairnNodeError('data-dir-locked', `the data directory ${this.root} is in use by process ${holder}${holder === process.pid ? ' (this process)' : ''}: stop that node first. If no Cairn node uses it (the pid was reused), delete ${this.lockPath}`);
      }
      this.#stalePid = holder;
      unlinkSync(this.lockPath);
    }
    throw new CairnNodeError('data-dir-locked', `could not take the lock ${this.lockPath} (another process is starting on this directory?)`);
  }

  #stalePid: number | undefined;

  #lockHolder(): number | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.lockPath, 'utf8')) as { pid?: unknown };
      return typeof parsed.pid === 'number' && Number.isSafeInteger(parsed.pid) && parsed.pid > 0 ? parsed.pid : undefined;
    } catch {
      // Unreadable or half-written (a crash while creating it): treat as stale.
      return undefined;
    }
  }

  release(): void {
    if (!this.#locked) return;
    this.#locked = false;
    try {
      unlinkSync(this.lockPath);
    } catch {
      // Already gone: nothing to release.
    }
  }

  readIdentity(): NodeIdentity | undefined {
    let text: string;
    try {
      text = readFileSync(this.identityPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<NodeIdentity>;
    if (parsed.version !== 1 || !Number.isSafeInteger(parsed.nodeId) || typeof parsed.clusterId !== 'string') {
      throw new CairnNodeError('identity-missing', `${this.identityPath} is not a valid node identity; restore it from a backup or wipe the data directory`);
    }
    return parsed as NodeIdentity;
  }

  /** Written once: temp file, fsync, rename, directory fsync. */
  writeIdentity(identity: NodeIdentity): void {
    const temporary = `${this.identityPath}.tmp`;
    const fd = openSync(temporary, 'w');
    writeSync(fd, `${JSON.stringify(identity, null, 2)}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, this.identityPath);
    const directory = openSync(this.root, 'r');
    fsyncSync(directory);
    closeSync(directory);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
