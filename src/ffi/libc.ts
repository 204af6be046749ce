/**
 * The `Libc` interface: the only contract between the core of memmapfs and a
 * JavaScript runtime's FFI. A shim (Deno, Bun, Node) implements it; tests may
 * wrap it to inject faults. Above this file nothing knows which runtime runs.
 *
 * Conventions every implementation keeps:
 * - Addresses are `bigint`. Sizes and file offsets are safe-integer `number`s.
 * - A call that fails returns `-1` (`MAP_FAILED` for `mmap`/`mremap`) and, in the
 *   same synchronous step, stores the thread's `errno` in {@linkcode Libc.errno}.
 *   Calls whose C function returns an error number instead (`posix_fallocate`)
 *   are normalised to the same convention.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";

/** The fields of `struct stat` memmapfs uses. */
export interface FileStat {
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly dev: bigint;
  readonly ino: bigint;
  /** Modification time in nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
}

/** Which runtime's FFI a {@linkcode Libc} goes through. */
export type RuntimeName = "deno" | "bun" | "node" | "test";

/** The libc calls memmapfs makes, bound through one runtime's FFI. */
export interface Libc {
  readonly runtime: RuntimeName;
  /** The numbers of the platform this libc belongs to. */
  readonly constants: PlatformConstants;
  /** errno of the last call that failed. */
  readonly errno: number;
  /** The largest `ArrayBuffer` this runtime can create over foreign memory. */
  readonly maxArrayBufferLength: number;

  /** `void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)` */
  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  /** `int munmap(void *addr, size_t length)` */
  munmap(addr: bigint, length: number): number;
  /**
   * `void *mremap(void *old, size_t oldSize, size_t newSize, int flags, ...)`;
   * `undefined` where the platform has none (Darwin).
   */
  readonly mremap?: (addr: bigint, oldLength: number, newLength: number, flags: number) => bigint;
  /** `int mprotect(void *addr, size_t length, int prot)` */
  mprotect(addr: bigint, length: number, prot: number): number;
  /** `int madvise(void *addr, size_t length, int advice)` */
  madvise(addr: bigint, length: number, advice: number): number;
  /** `int msync(void *addr, size_t length, int flags)` */
  msync(addr: bigint, length: number, flags: number): number;
  /** `int mlock(const void *addr, size_t length)` */
  mlock(addr: bigint, length: number): number;
  /** `int munlock(const void *addr, size_t length)` */
  munlock(addr: bigint, length: number): number;
  /** `int mincore(void *addr, size_t length, unsigned char *vec)` */
  mincore(addr: bigint, length: number, vec: Uint8Array): number;
  /** `int open(const char *path, int flags, mode_t mode)` */
  open(path: string, flags: number, mode: number): number;
  /** `int close(int fd)` */
  close(fd: number): number;
  /** `int fstat(int fd, struct stat *st)`; `null` on failure. */
  fstat(fd: number): FileStat | null;
  /** `int stat(const char *path, struct stat *st)`, following links; `null` on failure. */
  stat(path: string): FileStat | null;
  /** `int ftruncate(int fd, off_t length)` */
  ftruncate(fd: number, length: number): number;
  /**
   * `int posix_fallocate(int fd, off_t offset, off_t length)`, normalised to
   * return -1 and set errno. On Darwin, which has none, `fcntl(F_PREALLOCATE)`
   * then `ftruncate` (darwin_calls.ts); `undefined` where neither exists.
   */
  readonly posixFallocate?: (fd: number, offset: number, length: number) => number;
  /**
   * `int fsync(int fd)`, made durable: on Darwin `fcntl(fd, F_FULLFSYNC)`,
   * which also flushes the drive's cache, falling back to `fsync` where the
   * file system cannot (darwin_calls.ts).
   */
  fsync(fd: number): number;
  /** `int unlink(const char *path)` */
  unlink(path: string): number;
  /** `int shm_open(const char *name, int flags, mode_t mode)` */
  shmOpen(name: string, flags: number, mode: number): number;
  /** `int shm_unlink(const char *name)` */
  shmUnlink(name: string): number;
  /** `int memfd_create(const char *name, unsigned int flags)`; Linux only. */
  readonly memfdCreate?: (name: string, flags: number) => number;
  /** `long sysconf(int name)` for `_SC_PAGESIZE`. */
  pageSize(): number;
  /**
   * A zero-copy `ArrayBuffer` over `length` bytes at `addr`. The caller owns
   * its lifetime and must detach it before the memory goes away.
   */
  arrayBuffer(addr: bigint, length: number): ArrayBuffer;
  /**
   * Throws when the runtime's own permission model denies `access` to `path`
   * (FFI bypasses it, so the library asks first). A no-op without such a model.
   */
  checkPathAccess(path: string, access: "read" | "write"): void;
}
