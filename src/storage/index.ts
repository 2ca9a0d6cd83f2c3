// The public API of src/storage: durable Raft log storage (WAL + snapshots) on a FileSystem, the
// in-memory version for tests, the file systems, and the conformance suite for new implementations.
export type { DurableStorage, StorageUpdate, StorageStats, RecoveryReport, StorageErrorCode } from './types.ts';
export { StorageError, isStorageError } from './types.ts';
export { FileStorage, FILE_STORAGE_DEFAULTS } from './file-storage.ts';
export type { FileStorageOptions } from './file-storage.ts';
export { MemoryStorage } from './memory-storage.ts';
export type { FileSystem, AppendHandle, WritableHandle, FileOperation, FileOperationKind } from './file-system.ts';
export { NodeFileSystem } from './node-file-system.ts';
export { SimulatedFileSystem } from './simulated-file-system.ts';
export type { SimulatedFileSystemOptions, SimulatedFileSystemStats } from './simulated-file-system.ts';
