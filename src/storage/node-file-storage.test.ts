// FileStorage on the real disk (NodeFileSystem, a temporary directory): the happy path across
// restarts and segment roll-over, and corruption detection that names the file and the offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open as openFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entriesFrom, observe } from './conformance.ts';
import { FileStorage } from './file-storage.ts';
import { NodeFileSystem } from './node-file-system.ts';
import { isStorageError } from './types.ts';
import { parseSegmentName, scanSegment } from './wal/segment.ts';
import { encodeWrite } from './wal/records.ts';
import { PREPARED_SEGMENT_NAME } from './wal/segment-pipeline.ts';

async function withDirectory(body: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-storage-'));
  try {
    await body(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

const open = (directory: string): Promise<FileStorage> =>
  FileStorage.open({ fileSystem: new NodeFileSystem(), directory, segmentMaxBytes: 4096 });

async function fill(storage: FileStorage, saves: number): Promise<void> {
  for (let save = 0; save < saves; save++) {
    const first = storage.lastIndex() + 1;
    await storage.save({ entries: entriesFrom(first, 10, 1, 128), hardState: { term: 1, vote: 1, commit: first - 1 } }, true);
  }
}

test('real disk: saves, snapshots and compaction survive restarts', async () => {
  await withDirectory(async (directory) => {
    let storage = await open(directory);
    await fill(storage, 30);
    assert.ok(storage.stats().walSegments > 5, `segments rolled over (${storage.stats().walSegments})`);
    const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    await storage.saveSnapshot({ metadata: { index: 250, term: 1, confState }, data: new TextEncoder().encode('state at 250') });
    await storage.compact(200);
    const expected = observe(storage);
    const segmentsLeft = storage.stats().walSegments;
    await storage.close();
    assert.equal((await readdir(join(directory, 'wal'))).length, segmentsLeft);
    assert.deepEqual(await readdir(join(directory, 'snap')), [`${(250).toString(16).padStart(16, '0')}-${'0'.repeat(15)}1.snap`]);
    storage = await open(directory);
    assert.deepEqual(observe(storage), expected);
    assert.deepEqual(storage.recovery.tornTails, []);
    assert.equal(storage.firstIndex(), 201);
    assert.equal(storage.lastIndex(), 300);
    await storage.close();
  });
});

test('real disk: a torn tail is wiped; a flipped bit before valid records is refused with file and offset', async () => {
  await withDirectory(async (directory) => {
    let storage = await open(directory);
    await fill(storage, 2);
    await storage.close();
    const walDirectory = join(directory, 'wal');
    const [name] = await readdir(walDirectory);
    const path = join(walDirectory, name!);
    const fileSize = (await readFile(path)).length;
    assert.equal(fileSize, 4096, 'the segment is preallocated');
    const end = scanSegment(new Uint8Array(await readFile(path)), parseSegmentName(name!)!, 1 << 26).validBytes;
    // A partial record of this segment right after the last one (its header verifies).
    const torn = encodeWrite([{ type: 'hard-state', hardState: { term: 1, vote: 1, commit: 20 } }], parseSegmentName(name!)!, end);
    const handle = await openFile(path, 'r+');
    await handle.write(torn, 0, 20, end);
    await handle.close();
    storage = await open(directory);
    assert.deepEqual(storage.recovery.tornTails, [{ file: path, offset: end, droppedBytes: torn.length }]);
    assert.equal(storage.lastIndex(), 20);
    await storage.close();
    const wiped = await readFile(path);
    assert.equal(wiped.length, fileSize, 'the file keeps its size');
    assert.deepEqual([...wiped.subarray(end, end + torn.length)], new Array(torn.length).fill(0), 'the torn tail was zeroed on disk');

    const content = new Uint8Array(await readFile(path));
    const records = scanSegment(content, parseSegmentName(name!)!, 1 << 26).records;
    const victim = records[3]!.offset; // the first entries record, with more records after it
    content[victim + 30]! ^= 0x01;
    await writeFile(path, content);
    await assert.rejects(open(directory), (error) => {
      assert.ok(isStorageError(error, 'wal-corrupt'));
      assert.equal(error.file, path);
      assert.equal(error.offset, victim);
      assert.ok(error.message.includes(`${path} is corrupt at byte ${victim}`), error.message);
      return true;
    });
  });
});

test('real disk: operating-system errors become StorageErrors with code io', async () => {
  await withDirectory(async (directory) => {
    const fileSystem = new NodeFileSystem();
    await assert.rejects(fileSystem.readFile(join(directory, 'missing')), (error) => isStorageError(error, 'io') && /missing/.test(error.message));
    await writeFile(join(directory, 'a-file'), 'x');
    await assert.rejects(FileStorage.open({ fileSystem, directory: join(directory, 'a-file') }), (error) => isStorageError(error, 'io'));
  });
});

test('real disk: the next segment is prepared full size with zeros, and the roll-over renames that very file', async () => {
  await withDirectory(async (directory) => {
    const walDirectory = join(directory, 'wal');
    const storage = await open(directory);
    await storage.settled();
    const prepared = join(walDirectory, PREPARED_SEGMENT_NAME);
    const before = await stat(prepared);
    assert.equal(before.size, 4096);
    assert.ok(before.blocks * 512 >= 4096, `written blocks, not a hole (${before.blocks} blocks)`);
    assert.deepEqual(new Uint8Array(await readFile(prepared)), new Uint8Array(4096));
    await fill(storage, 1);
    const first = (await readdir(walDirectory)).find((name) => name.endsWith('.wal'))!;
    assert.equal((await stat(join(walDirectory, first))).ino, before.ino, 'the first segment is the prepared file');
    await storage.settled();
    const next = await stat(prepared);
    while (storage.stats().walSegments === 1) await fill(storage, 1);
    const second = (await readdir(walDirectory)).filter((name) => name.endsWith('.wal')).sort()[1]!;
    const segment = await stat(join(walDirectory, second));
    assert.equal(segment.ino, next.ino, 'the roll-over took the prepared file');
    assert.equal(segment.size, 4096, 'and did not grow it');
    await storage.close();
    assert.ok(!(await readdir(walDirectory)).includes(PREPARED_SEGMENT_NAME), 'close deletes the prepared file');
  });
});

test('real disk: writes at offsets and allocated zeros through NodeFileSystem', async () => {
  await withDirectory(async (directory) => {
    const fileSystem = new NodeFileSystem();
    const path = join(directory, 'file');
    const handle = await fileSystem.openWritable(path);
    await handle.allocate(3 * 1024 * 1024 + 5);
    await handle.writeAt(10, new Uint8Array([1, 2, 3]));
    await handle.writeAt(3 * 1024 * 1024, new Uint8Array(100 * 1024).fill(9));
    await handle.allocate(1000);
    await handle.sync();
    await handle.close();
    const content = new Uint8Array(await readFile(path));
    assert.equal(content.length, 3 * 1024 * 1024 + 100 * 1024, 'a write past the end grows the file; a smaller allocation does nothing');
    assert.deepEqual([...content.subarray(9, 14)], [0, 1, 2, 3, 0]);
    assert.ok(content.subarray(3 * 1024 * 1024).every((value) => value === 9));
    const again = await fileSystem.openWritable(path);
    await again.writeAt(0, new Uint8Array([7]));
    await again.close();
    assert.equal((await readFile(path))[0], 7);
    assert.equal((await readFile(path)).length, content.length, 'opening for writing does not truncate');
  });
});
