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
  readonly gid: number;
  readonly dev: bigint;
  readonly ino: bigint;
  /** Access time in nanoseconds since the epoch. */
  readonly atimeNs: bigint;
  /** Modification time in nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
}

/** One entry of a directory listing from {@linkcode Libc.readdir}. */
export interface DirectoryEntry {
  readonly name: string;
  /** `d_type`: `DT_REG`, `DT_DIR`, `DT_LNK`, … or `DT_UNKNOWN` when the file system does not say. */
  readonly type: number;
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
  /**
   * `ssize_t pread(int fd, void *buf, size_t count, off_t offset)` into
   * `buffer` (count is its length); bytes read, 0 at end of file, or -1.
   */
  pread(fd: number, buffer: Uint8Array, offset: number): number;
  /**
   * `ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)` of
   * `source` (count is its length); bytes written, or -1. Optional: without
   * it writes go through the mapping only.
   */
  readonly pwrite?: (fd: number, source: Uint8Array, offset: number) => number;
  /** `int openat(int dirfd, const char *path, int flags, mode_t mode)` */
  openat(dirFd: number, path: string, flags: number, mode: number): number;
  /**
   * `syscall(SYS_openat2, dirfd, path, &how, sizeof how)` with `struct open_how`
   * `{ flags, mode, resolve }`; `undefined` where the platform has none (Darwin).
   * An old kernel answers ENOSYS, a seccomp filter may answer EPERM.
   */
  readonly openat2?: (dirFd: number, path: string, flags: number, mode: number, resolve: number) => number;
  /** `int fstatat(int dirfd, const char *path, struct stat *st, int flags)`; `null` on failure. */
  fstatat(dirFd: number, path: string, flags: number): FileStat | null;
  /** `int mkdirat(int dirfd, const char *path, mode_t mode)` */
  mkdirat(dirFd: number, path: string, mode: number): number;
  /** `int unlinkat(int dirfd, const char *path, int flags)` */
  unlinkat(dirFd: number, path: string, flags: number): number;
  /** `int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)` */
  renameat(fromDirFd: number, from: string, toDirFd: number, to: string): number;
  /** `int fchmod(int fd, mode_t mode)` */
  fchmod(fd: number, mode: number): number;
  /** `int fchmodat(int dirfd, const char *path, mode_t mode, int flags)` */
  fchmodat(dirFd: number, path: string, mode: number, flags: number): number;
  /** `int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)`; -1 ids leave that one. */
  fchownat(dirFd: number, path: string, uid: number, gid: number, flags: number): number;
  /** `int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags)`, times in ns. */
  utimensat(dirFd: number, path: string, atimeNs: bigint, mtimeNs: bigint, flags: number): number;
  /** `ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)`; the target, or `null` on failure. */
  readlinkat(dirFd: number, path: string): string | null;
  /** `DIR *fdopendir(int fd)`: takes over `fd`; `0n` on failure. */
  fdopendir(fd: number): bigint;
  /** `struct dirent *readdir(DIR *dir)`: the next entry, `null` at the end, or `-1` on failure. */
  readdir(dir: bigint): DirectoryEntry | null | -1;
  /** `int closedir(DIR *dir)`: closes the descriptor it took over. */
  closedir(dir: bigint): number;
  /** `ssize_t write(int fd, const void *buf, size_t count)` of all of `source`. */
  write(fd: number, source: Uint8Array): number;
  /** `int ftruncate(int fd, off_t length)` */
  ftruncate(fd: number, length: number): number;
  /**
   * `int posix_fallocate(int fd, off_t offset, off_t length)`, normalised to
   * return -1 and set errno. On Darwin, which has none, `fcntl(F_PREALLOCATE)`
   * then `ftruncate` (darwin_calls.ts); `undefined` where neither exists.
   */
  readonly posixFallocate?: (fd: number, offset: number, length: number) => number;
  /**
   * `int posix_fadvise(int fd, off_t offset, off_t length, int advice)`,
   * normalised to return -1 and set errno; `undefined` where the platform has
   * none (Darwin).
   */
  readonly posixFadvise?: (fd: number, offset: number, length: number, advice: number) => number;
  /**
   * `int fsync(int fd)`, made durable: on Darwin `fcntl(fd, F_FULLFSYNC)`,
   * which also flushes the drive's cache, falling back to `fsync` where the
   * file system cannot (darwin_calls.ts).
   */
  fsync(fd: number): number;
  /** `int flock(int fd, int operation)`: a whole-file advisory lock, held by the open file description. */
  flock(fd: number, operation: number): number;
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
  /** `uid_t geteuid(void)`: the user new files belong to; needs no runtime permission. */
  geteuid(): number;
  /** `ssize_t readlink(const char *path, char *buf, size_t size)`; `null` on failure. */
  readlink(path: string): string | null;
  /**
   * Throws when the runtime's permission model refuses the file descriptor
   * `fd` actually refers to, judged by its real path: the rules that look
   * past the text (Deno's for /dev, /proc and /sys, which need --allow-all
   * whatever link led there). A no-op where the model has none.
   *
   * @throws {MmapError} EACCES, naming the flag that would allow it.
   */
  checkOpenedFile(fd: number, syscall?: string): void;
  /**
   * Asks the runtime's own permission model for `access` to `path` (FFI
   * bypasses it, so the library asks first) and returns the path to use: the
   * very string that was checked, so the check and the system call are about
   * the same file. Where a per-path model exists (Deno; Node run with
   * `--permission`) that is `path` made absolute and normalised as text, the
   * way the runtime's own file APIs check it. Where none exists (Bun; Node
   * without `--permission`) nothing is checked and `path` comes back as it
   * is, so the kernel reads it as the runtime's own fs would.
   *
   * @throws {MmapError} EACCES, naming the flag that would allow it, with `syscall`.
   */
  checkPathAccess(path: string, access: "read" | "write", syscall?: string): string;
  /**
   * `syscall(SYS_futex, addr, FUTEX_WAIT, expected, timeout)`, shared (no
   * `FUTEX_PRIVATE_FLAG`): blocks the calling thread while the 32-bit word at
   * `addr` holds `expected`, for at most `timeoutMs` (Infinity: no limit).
   * 0 when woken; -1 with errno EAGAIN (the word differed), ETIMEDOUT or
   * EINTR. `undefined` where the platform has no back-end.
   */
  readonly futexWait?: (addr: bigint, expected: number, timeoutMs: number) => number;
  /** `syscall(SYS_futex, addr, FUTEX_WAKE, count)`: the number of waiters woken, or -1. */
  readonly futexWake?: (addr: bigint, count: number) => number;
  /**
   * The wait of {@linkcode Libc.futexWait} on another thread: resolves to 0
   * when woken, -1 otherwise (errno is not available). Keeps the process
   * alive while pending, as a pending read does.
   */
  readonly futexWaitAsync?: (addr: bigint, expected: number, timeoutMs: number) => Promise<number>;
  /** `gettid()`: the kernel's id of the calling thread (the pid for the main thread). */
  readonly gettid?: () => number;
  /** `int kill(pid_t pid, int sig)`; with signal 0 it only asks whether `pid` exists. */
  kill(pid: number, signal: number): number;
}
