// Power loss of unsynced writes (root only). A node's data dir lives on an ext4 filesystem in an
// image file, mounted through a loop device. powerCut() copies the image file WITHOUT syncing the
// mount, then unmounts and throws the original away, repairs the copy with e2fsck (journal replay)
// and mounts the copy at the same path. Why this loses exactly the unsynced writes:
// - A write the node has not fsynced sits dirty in the page cache of the mounted ext4; it reaches the
//   loop device only at writeback (vm.dirty_expire_centisecs, 30 s by default) or on fsync.
// - fsync/fdatasync writes the data to the loop device and flushes it, so it is in the backing
//   file (its page cache, which is what any reader of the file sees: the host need not sync).
// - The copy reads the backing file, so it holds what was fsynced plus whatever writeback happened
//   to push out: the state of a disk after power loss. Kill the node first (SIGKILL): a running node
//   keeps writing while the copy is taken.
// Device-mapper (dm-flakey, dm-log-writes) is not available on this kernel, so this is the method.
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeSync, ftruncateSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CleanupRegistry } from './cleanup.ts';
import { installProcessCleanupHooks, processCleanup } from './cleanup.ts';
import { processExists, requireExecutable, requireRoot, runCommand, runCommandSync } from './commands.ts';
import { FaultError, requireIntegerInRange } from './errors.ts';
import type { FaultLogger } from './logger.ts';
import { SILENT_FAULT_LOGGER } from './logger.ts';

export const LOOP_DISK_PREFIX = 'cairn-chaos-disk-';
const MIN_SIZE_BYTES = 16 * 1024 * 1024;
const MAX_SIZE_BYTES = 16 * 1024 * 1024 * 1024;
const COPY_BLOCK_BYTES = 1024 * 1024;

export interface LoopDiskOptions {
  /** Image size; default 256 MiB (sparse: only written blocks use host disk). */
  readonly sizeBytes?: number;
  /** Where to mount; default a directory beside the image. An existing directory must be empty. */
  readonly mountPath?: string;
  /** Extra ext4 mount options (e.g. ['commit=30']); default none (ext4 defaults: data=ordered, commit=5). */
  readonly mountOptions?: readonly string[];
  readonly logger?: FaultLogger;
  readonly cleanupRegistry?: CleanupRegistry;
}

export interface PowerCutResult {
  /** The image now mounted (the copy). */
  readonly imagePath: string;
  readonly loopDevice: string;
  /** e2fsck's exit code: 0 clean, 1 repaired (journal replayed or errors fixed), 2 repaired, reboot advised. */
  readonly fsckExitCode: number;
  readonly fsckOutput: string;
  readonly copyMs: number;
  /** Bytes of the image that were not holes. */
  readonly copiedBytes: number;
}

export class LoopDisk {
  readonly mountPath: string;
  readonly directory: string;
  readonly #sizeBytes: number;
  readonly #mountOptions: readonly string[];
  readonly #logger: FaultLogger;
  #unregister: () => void = () => {};
  #imagePath = '';
  #loopDevice: string | undefined;
  #mounted = false;
  #generation = 0;
  #cleaned = false;

  private constructor(options: LoopDiskOptions) {
    this.#sizeBytes = requireIntegerInRange('sizeBytes', options.sizeBytes ?? 256 * 1024 * 1024, MIN_SIZE_BYTES, MAX_SIZE_BYTES);
    this.#mountOptions = options.mountOptions ?? [];
    this.#logger = options.logger ?? SILENT_FAULT_LOGGER;
    this.directory = mkdtempSync(join(tmpdir(), `${LOOP_DISK_PREFIX}${process.pid}-`));
    this.mountPath = options.mountPath ?? join(this.directory, 'mnt');
  }

  /** Makes the filesystem and mounts it at mountPath. Needs root, e2fsprogs and util-linux (mount, losetup). */
  static async create(options: LoopDiskOptions = {}): Promise<LoopDisk> {
    requireRoot('LoopDisk');
    requireExecutable('mkfs.ext4', 'e2fsprogs');
    requireExecutable('e2fsck', 'e2fsprogs');
    requireExecutable('losetup', 'mount');
    requireExecutable('mount', 'mount');
    const disk = new LoopDisk(options);
    disk.#unregister = (options.cleanupRegistry ?? processCleanup).add({
      name: `loop disk ${disk.directory}`, run: () => disk.cleanup(), runSync: () => disk.cleanupSync(),
    });
    installProcessCleanupHooks();
    try {
      mkdirSync(disk.mountPath, { recursive: true });
      if (readdirSync(disk.mountPath).length > 0) throw new FaultError('invalid-argument', `mount path ${disk.mountPath} is not empty`);
      disk.#imagePath = disk.#nextImagePath();
      closeSync(openSync(disk.#imagePath, 'wx'));
      truncateSync(disk.#imagePath, disk.#sizeBytes);
      // Initialize inode tables and journal now, so no lazy-init thread writes in the background later.
      await runCommand(['mkfs.ext4', '-F', '-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', disk.#imagePath], { timeoutMs: 120_000 });
      await disk.#attachAndMount();
    } catch (error) {
      await disk.cleanup();
      throw error;
    }
    disk.#logger.info({ mountPath: disk.mountPath, image: disk.#imagePath, loopDevice: disk.#loopDevice }, 'loop disk mounted');
    return disk;
  }

  get imagePath(): string {
    return this.#imagePath;
  }

  get loopDevice(): string | undefined {
    return this.#loopDevice;
  }

  /**
   * Simulates power loss: what was not fsynced (and not yet written back) is gone. Kill every
   * process using the mount first. Afterwards mountPath holds the repaired copy.
   */
  async powerCut(): Promise<PowerCutResult> {
    if (this.#cleaned) throw new FaultError('stopped', 'the loop disk was cleaned up');
    const started = performance.now();
    const copyPath = this.#nextImagePath();
    const copiedBytes = copySparse(this.#imagePath, copyPath);
    const copyMs = performance.now() - started;
    const oldImage = this.#imagePath;
    await this.#unmountAndDetach();
    rmSync(oldImage, { force: true });
    this.#imagePath = copyPath;
    // -f: check even if marked clean; -y: repair without asking. 0/1/2 mean usable; 4+ do not.
    const fsck = await runCommand(['e2fsck', '-f', '-y', copyPath], { okExitCodes: [0, 1, 2, 4, 8, 12], timeoutMs: 120_000 });
    const fsckOutput = `${fsck.stdout}${fsck.stderr}`.trim();
    if (fsck.exitCode >= 4) {
      throw new FaultError('fsck-failed', `e2fsck could not repair ${copyPath} (exit ${fsck.exitCode}): ${fsckOutput.slice(-500)}`);
    }
    await this.#attachAndMount();
    this.#logger.info({ image: copyPath, fsckExitCode: fsck.exitCode, copyMs: Math.round(copyMs), copiedBytes }, 'power cut: remounted the unsynced copy');
    return { imagePath: copyPath, loopDevice: this.#loopDevice!, fsckExitCode: fsck.exitCode, fsckOutput, copyMs, copiedBytes };
  }

  /** Unmounts, detaches the loop device and deletes the images. Idempotent. */
  async cleanup(): Promise<void> {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.#unregister();
    try {
      await this.#unmountAndDetach();
    } finally {
      this.#removeFiles();
    }
  }

  cleanupSync(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.#unregister();
    if (this.#mounted && runCommandSync(['umount', this.mountPath]).exitCode !== 0) runCommandSync(['umount', '-l', this.mountPath]);
    if (this.#loopDevice !== undefined) runCommandSync(['losetup', '-d', this.#loopDevice]);
    this.#mounted = false;
    this.#loopDevice = undefined;
    this.#removeFiles();
  }

  #removeFiles(): void {
    rmSync(this.directory, { recursive: true, force: true });
    this.#logger.info({ directory: this.directory }, 'loop disk removed');
  }

  #nextImagePath(): string {
    return join(this.directory, `image-${this.#generation++}.ext4`);
  }

  async #attachAndMount(): Promise<void> {
    const { stdout } = await runCommand(['losetup', '--find', '--show', this.#imagePath]);
    this.#loopDevice = stdout.trim();
    const options = this.#mountOptions.length > 0 ? ['-o', this.#mountOptions.join(',')] : [];
    await runCommand(['mount', '-t', 'ext4', ...options, this.#loopDevice, this.mountPath]);
    this.#mounted = true;
  }

  async #unmountAndDetach(): Promise<void> {
    if (this.#mounted) {
      // A process still holding files open makes umount fail (EBUSY): detach lazily then.
      await runCommand(['umount', this.mountPath]).catch(async (error: unknown) => {
        this.#logger.warn({ mountPath: this.mountPath, error: (error as Error).message }, 'mount busy: lazy unmount (kill the node before a power cut)');
        await runCommand(['umount', '-l', this.mountPath]);
      });
      this.#mounted = false;
    }
    if (this.#loopDevice !== undefined) {
      await runCommand(['losetup', '-d', this.#loopDevice]);
      this.#loopDevice = undefined;
    }
  }
}

/** Copies `source` to `target` through the page cache, leaving all-zero blocks as holes. */
function copySparse(source: string, target: string): number {
  const input = openSync(source, 'r');
  const output = openSync(target, 'w');
  const block = Buffer.alloc(COPY_BLOCK_BYTES);
  let copied = 0;
  let position = 0;
  try {
    for (;;) {
      const length = readSync(input, block, 0, block.length, position);
      if (length === 0) break;
      const data = block.subarray(0, length);
      if (!isZero(data)) {
        writeSync(output, data, 0, length, position);
        copied += length;
      }
      position += length;
    }
    ftruncateSync(output, position);
  } finally {
    closeSync(input);
    closeSync(output);
  }
  return copied;
}

const ZERO_BLOCK = Buffer.alloc(COPY_BLOCK_BYTES);

function isZero(data: Buffer): boolean {
  return data.equals(ZERO_BLOCK.subarray(0, data.length));
}

/** Loop devices (and their mounts and directories) of runs whose process is gone. Needs root. */
export function sweepLoopDiskLeftovers(logger: FaultLogger = SILENT_FAULT_LOGGER): { readonly loopDevices: string[]; readonly directories: string[] } {
  requireRoot('sweeping loop disk leftovers');
  const deadOwner = (path: string): boolean => {
    const match = new RegExp(`${LOOP_DISK_PREFIX}(\\d+)-`).exec(path);
    return match !== null && !processExists(Number(match[1]));
  };
  const loopDevices: string[] = [];
  const listing = JSON.parse(runCommandSync(['losetup', '-J', '-l']).stdout || '{"loopdevices":[]}') as { loopdevices?: { name: string; 'back-file'?: string }[] };
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' '));
  for (const device of listing.loopdevices ?? []) {
    if (!deadOwner(device['back-file'] ?? '')) continue;
    for (const [source, target] of mounts) if (source === device.name && target !== undefined) runCommandSync(['umount', '-l', target]);
    runCommandSync(['losetup', '-d', device.name]);
    loopDevices.push(device.name);
  }
  const directories = readdirSync(tmpdir()).filter((name) => name.startsWith(LOOP_DISK_PREFIX) && deadOwner(name)).map((name) => join(tmpdir(), name));
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  if (loopDevices.length + directories.length > 0) logger.warn({ loopDevices, directories }, 'removed loop disk leftovers of a crashed run');
  return { loopDevices, directories };
}
