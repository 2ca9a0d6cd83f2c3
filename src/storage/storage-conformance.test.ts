// Runs the one conformance suite against every DurableStorage implementation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStorageConformance } from './conformance.ts';
import type { StorageHarness } from './conformance.ts';
import { FileStorage } from './file-storage.ts';
import { MemoryStorage } from './memory-storage.ts';
import { NodeFileSystem } from './node-file-system.ts';
import { SimulatedFileSystem } from './simulated-file-system.ts';

runStorageConformance('MemoryStorage', (): StorageHarness => {
  let current: MemoryStorage | undefined;
  return {
    async open() {
      current = current === undefined ? new MemoryStorage() : MemoryStorage.reopen(current);
      return current;
    },
    async dispose() {},
  };
});

// Small segments so that rolling over and deleting segments happen in nearly every test.
runStorageConformance('FileStorage on the simulated file system', (): StorageHarness => {
  const fileSystem = new SimulatedFileSystem();
  return {
    open: () => FileStorage.open({ fileSystem, directory: '/node-1', segmentMaxBytes: 1024 }),
    async dispose() {},
  };
});

// A power loss after every close: close() must leave everything durable, directories included.
runStorageConformance('FileStorage on the simulated file system, crashing after close', (): StorageHarness => {
  const fileSystem = new SimulatedFileSystem();
  return {
    open: () => {
      fileSystem.crash();
      return FileStorage.open({ fileSystem, directory: '/node-1', segmentMaxBytes: 1024 });
    },
    async dispose() {},
  };
});

runStorageConformance('FileStorage on the real file system', async (): Promise<StorageHarness> => {
  const directory = await mkdtemp(join(tmpdir(), 'cairn-storage-'));
  return {
    open: () => FileStorage.open({ fileSystem: new NodeFileSystem(), directory, segmentMaxBytes: 1024 }),
    dispose: () => rm(directory, { recursive: true, force: true }),
  };
}, { propertyRuns: 6 });
