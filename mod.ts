/**
 * memmapfs: zero-copy access to files and shared memory through `mmap`, for
 * Deno, Bun and Node 26+, with no native addon.
 *
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 *
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "hello, mapped world");
 * using file = MappedFile.open(path);
 * console.log(new TextDecoder().decode(file.subarray(0, 5))); // "hello"
 * ```
 *
 * @module
 */

export { MappedFile } from "./src/fs/mapped_file.ts";
export type { Advice, MapOptions, Mode, SharedMappedFile, SyncMode } from "./src/fs/mapped_file.ts";
export { ClosedError, FileTruncatedError, MmapError, UnsupportedRuntimeError } from "./src/errors.ts";
export { pageSize } from "./src/page_size.ts";
export { TypedAccess, type ValueSlot } from "./src/fs/typed_access.ts";
export { SharedMemory } from "./src/shm/shared_memory.ts";
export type { SharedMemoryCreateOptions, SharedMemoryOpenOptions, SharedRegion } from "./src/shm/shared_memory.ts";
export { BlockFile, BlockFileCorruptError, BlockFileLockedError, OutstandingViewsError } from "./src/block/block_file.ts";
export { MemMapFS } from "./src/fs/memmapfs.ts";
export type { CacheLimits, CacheStats, DirEntry, FileInfo, MemMapFSOptions, OpenFlags } from "./src/fs/memmapfs.ts";
export type { BlockFileCorruptCode, BlockFileOptions, BlockFileStats } from "./src/block/block_file.ts";
export type { WaitResult } from "./src/shm/wait_notify.ts";
export { MutexGuard, SharedMutex, type WaitableRegion } from "./src/shm/shared_mutex.ts";
export { LockTimeoutError, MutexOwnershipError, SharedFormatError } from "./src/shm/sync_errors.ts";
export { SharedRing, type SharedRingOptions } from "./src/shm/shared_ring.ts";
