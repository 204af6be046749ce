/**
 * The Bun shim: binds libc with `bun:ffi`. One of the three files allowed to
 * name a runtime's FFI.
 *
 * Bun passes raw pointers as `number`; addresses cross this file as `bigint`
 * and are converted here (user-space addresses fit in 53 bits).
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import type { NativeCalls } from "./native.ts";
import { waiterPool } from "./waiter_pool.ts";
import { prepareBindings, type VariadicMark } from "./variadic.ts";

// The slice of bun:ffi this file uses, declared here so the shim type-checks
// under tsc and deno check, which know nothing of `bun:ffi`.
type BunType = "i32" | "u32" | "i64" | "u64" | "ptr";
interface BunSymbol extends VariadicMark {
  args: BunType[];
  returns: BunType;
}
type BunFunction = (...args: unknown[]) => unknown;
interface BunFfi {
  dlopen(path: string, symbols: Record<string, BunSymbol>): {
    symbols: Record<string, BunFunction>;
  };
  toArrayBuffer(pointer: number, byteOffset: number, byteLength: number): ArrayBuffer;
  read: { i32(pointer: number, byteOffset?: number): number };
}

/** The libc symbols with their C prototypes; `variadicFrom` marks C's `...` (see variadic.ts). */
const SYMBOLS = {
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
  mmap: { args: ["u64", "u64", "i32", "i32", "i32", "i64"], returns: "u64" },
  // int munmap(void *addr, size_t length)
  munmap: { args: ["u64", "u64"], returns: "i32" },
  // int mprotect(void *addr, size_t len, int prot)
  mprotect: { args: ["u64", "u64", "i32"], returns: "i32" },
  // int madvise(void *addr, size_t length, int advice)
  madvise: { args: ["u64", "u64", "i32"], returns: "i32" },
  // int msync(void *addr, size_t length, int flags)
  msync: { args: ["u64", "u64", "i32"], returns: "i32" },
  // int mlock(const void *addr, size_t len)
  mlock: { args: ["u64", "u64"], returns: "i32" },
  // int munlock(const void *addr, size_t len)
  munlock: { args: ["u64", "u64"], returns: "i32" },
  // int mincore(void *addr, size_t length, unsigned char *vec)
  mincore: { args: ["u64", "u64", "ptr"], returns: "i32" },
  // int open(const char *pathname, int flags, ... /* mode_t mode */)
  open: { args: ["ptr", "i32", "u32"], returns: "i32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* int arg */)
  fcntl: { args: ["i32", "i32", "i64"], returns: "i32", variadicFrom: 2 },
  // int close(int fd)
  close: { args: ["i32"], returns: "i32" },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: { args: ["i32", "ptr", "u64", "i64"], returns: "i64" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
  pwrite: { args: ["i32", "ptr", "u64", "i64"], returns: "i64" },
  // int ftruncate(int fd, off_t length)
  ftruncate: { args: ["i32", "i64"], returns: "i32" },
  // int fsync(int fd)
  fsync: { args: ["i32"], returns: "i32" },
  // int flock(int fd, int operation)
  flock: { args: ["i32", "i32"], returns: "i32" },
  // int unlink(const char *pathname)
  unlink: { args: ["ptr"], returns: "i32" },
  // long sysconf(int name)
  sysconf: { args: ["i32"], returns: "i64" },
  // int kill(pid_t pid, int sig)
  kill: { args: ["i32", "i32"], returns: "i32" },
  // uid_t geteuid(void)
  geteuid: { args: [], returns: "u32" },
  // ssize_t readlink(const char *pathname, char *buf, size_t bufsiz)
  readlink: { args: ["ptr", "ptr", "u64"], returns: "i64" },
  // int openat(int dirfd, const char *pathname, int flags, mode_t mode)
  openat: { args: ["i32", "ptr", "i32", "u32"], returns: "i32", variadicFrom: 3 },
  // int mkdirat(int dirfd, const char *pathname, mode_t mode)
  mkdirat: { args: ["i32", "ptr", "u32"], returns: "i32" },
  // int unlinkat(int dirfd, const char *pathname, int flags)
  unlinkat: { args: ["i32", "ptr", "i32"], returns: "i32" },
  // int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
  renameat: { args: ["i32", "ptr", "i32", "ptr"], returns: "i32" },
  // int fchmod(int fd, mode_t mode)
  fchmod: { args: ["i32", "u32"], returns: "i32" },
  // int fchmodat(int dirfd, const char *pathname, mode_t mode, int flags)
  fchmodat: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  // int fchownat(int dirfd, const char *pathname, uid_t owner, gid_t group, int flags)
  fchownat: { args: ["i32", "ptr", "u32", "u32", "i32"], returns: "i32" },
  // int utimensat(int dirfd, const char *pathname, const struct timespec times[2], int flags)
  utimensat: { args: ["i32", "ptr", "ptr", "i32"], returns: "i32" },
  // ssize_t readlinkat(int dirfd, const char *pathname, char *buf, size_t bufsiz)
  readlinkat: { args: ["i32", "ptr", "ptr", "u64"], returns: "i64" },
  // int closedir(DIR *dirp)
  closedir: { args: ["u64"], returns: "i32" },
  // ssize_t write(int fd, const void *buf, size_t count)
  write: { args: ["i32", "ptr", "u64"], returns: "i64" },
  // long syscall(long number, ...): bound for openat2(dirfd, path, struct open_how *, size)
  syscall: { args: ["i64", "i64", "ptr", "ptr", "i64"], returns: "i64", variadicFrom: 1 },
} satisfies Record<string, BunSymbol>;

/** Symbols some platforms lack; each is bound on its own so a miss costs only itself. */
const OPTIONAL_SYMBOLS = {
  // void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
  mremap: { args: ["u64", "u64", "u64", "i32"], returns: "u64", variadicFrom: 4 },
  // int posix_fallocate(int fd, off_t offset, off_t len)
  posix_fallocate: { args: ["i32", "i64", "i64"], returns: "i32" },
  // int posix_fadvise(int fd, off_t offset, off_t len, int advice)
  posix_fadvise: { args: ["i32", "i64", "i64", "i32"], returns: "i32" },
  // int shm_open(const char *name, int oflag, ... /* mode_t mode */)
  shm_open: { args: ["ptr", "i32", "u32"], returns: "i32", variadicFrom: 2 },
  // int shm_unlink(const char *name)
  shm_unlink: { args: ["ptr"], returns: "i32" },
  // int memfd_create(const char *name, unsigned int flags)
  memfd_create: { args: ["ptr", "u32"], returns: "i32" },
  // long syscall(long number, ...), bound with the futex shape: see NativeCalls.syscall
  // for why fixed arguments are exact on Linux x64/arm64 (and wrong on Apple arm64).
  syscall: { args: ["i64", "u64", "i32", "i32", "u64", "u64", "i32"], returns: "i64", variadicFrom: 1 },
  // int fcntl(int fd, int cmd, ... /* struct *arg */), bound on its own beside the int form
  fcntl: { args: ["i32", "i32", "ptr"], returns: "i32", variadicFrom: 2 },
} satisfies Record<string, BunSymbol>;

/** bun:ffi's names for the types variadic.ts rearranges. */
const BUN_TYPES = { key: "args", wide: "i64" as BunType, slotSized: ["i64", "u64", "ptr"] as BunType[] };

/**
 * The tables handed to bun:ffi's `dlopen` on the platform of `constants`, and
 * adapters that keep variadic calls right there. Exported for the ABI test.
 */
export function bunBindings(constants: PlatformConstants): {
  main: ReturnType<typeof prepareBindings<BunSymbol, BunType>>;
  optional: ReturnType<typeof prepareBindings<BunSymbol, BunType>>;
} {
  const main = prepareBindings<BunSymbol, BunType>({
    ...SYMBOLS,
    // int fstat(int fd, struct stat *statbuf)
    [constants.fstatSymbol]: { args: ["i32", "ptr"], returns: "i32" },
    // int stat(const char *path, struct stat *statbuf)
    [constants.statSymbol]: { args: ["ptr", "ptr"], returns: "i32" },
    // int fstatat(int dirfd, const char *pathname, struct stat *statbuf, int flags)
    [constants.fstatatSymbol]: { args: ["i32", "ptr", "ptr", "i32"], returns: "i32" },
    // DIR *fdopendir(int fd)
    [constants.fdopendirSymbol]: { args: ["i32"], returns: "u64" },
    // struct dirent *readdir(DIR *dirp)
    [constants.readdirSymbol]: { args: ["u64"], returns: "u64" },
    // int *__errno_location(void) on glibc/musl, int *__error(void) on Darwin
    [constants.errnoFunction]: { args: [], returns: "u64" },
  }, constants, BUN_TYPES);
  return { main, optional: prepareBindings<BunSymbol, BunType>(OPTIONAL_SYMBOLS, constants, BUN_TYPES) };
}

/** Binds libc through `bun:ffi`. */
export function bunNativeCalls(constants: PlatformConstants): NativeCalls {
  const ffi = (process as unknown as { getBuiltinModule(id: string): BunFfi })
    .getBuiltinModule("bun:ffi");
  const bindings = bunBindings(constants);
  const [path, bound] = openFirst(ffi, constants.libcPaths, bindings.main.symbols);
  const lib: Record<string, BunFunction> = Object.fromEntries(
    Object.entries(bound).map(([name, fn]) => [name, bindings.main.adapt(name, fn)]),
  );
  const optional = (name: keyof typeof OPTIONAL_SYMBOLS): BunFunction | undefined => {
    for (const candidate of [path, ...(name.startsWith("shm_") ? ["librt.so.1"] : [])]) {
      try {
        const fn = ffi.dlopen(candidate, { [name]: bindings.optional.symbols[name] }).symbols[name];
        return bindings.optional.adapt(name, fn);
      } catch { /* try the next library; absent everywhere means unsupported */ }
    }
    return undefined;
  };

  // errno is thread-local and its address is fixed for the thread's life.
  const errnoAddress = Number(lib[constants.errnoFunction]!() as bigint);
  const { mmap, munmap, mprotect, madvise, msync, mlock, munlock, mincore, open, close } = lib;
  const { ftruncate, fsync, sysconf, unlink, flock, pread, pwrite, kill, geteuid, readlink, fcntl } = lib;
  const fcntlPointer = optional("fcntl");
  const fstat = lib[constants.fstatSymbol], stat = lib[constants.statSymbol];
  const mremap = optional("mremap"), fallocate = optional("posix_fallocate");
  const shmOpen = optional("shm_open"), shmUnlink = optional("shm_unlink");
  const memfdCreate = optional("memfd_create"), fadvise = optional("posix_fadvise");
  const syscall = constants.futex ? optional("syscall") : undefined;
  const { openat, mkdirat, unlinkat, renameat, fchmod, fchmodat, fchownat, utimensat } = lib;
  const { readlinkat, closedir, write } = lib;
  // The openat2 shape of syscall; the futex shape above is bound by a dlopen of its own.
  const openat2Syscall = lib.syscall;
  const fstatat = lib[constants.fstatatSymbol];
  const fdopendir = lib[constants.fdopendirSymbol], readdir = lib[constants.readdirSymbol];

  return {
    runtime: "bun",
    kill: (pid, signal) => kill(pid, signal) as number,
    syscall: syscall &&
      ((number, addr, op, value, timeout, addr2, value3) =>
        Number(syscall(number, addr, op, value, timeout, addr2, value3) as number | bigint)),
    futexWaitAsync: syscall && waiterPool("bun", path, constants),
    // Bun cannot create a single ArrayBuffer over more than 4 GiB of foreign memory.
    maxArrayBufferLength: 2 ** 32,
    mmap: (addr, length, prot, flags, fd, offset) =>
      mmap(addr, length, prot, flags, fd, offset) as bigint,
    munmap: (addr, length) => munmap(addr, length) as number,
    mremap: mremap &&
      ((addr, oldLength, newLength, flags) => mremap(addr, oldLength, newLength, flags) as bigint),
    mprotect: (addr, length, prot) => mprotect(addr, length, prot) as number,
    madvise: (addr, length, advice) => madvise(addr, length, advice) as number,
    msync: (addr, length, flags) => msync(addr, length, flags) as number,
    mlock: (addr, length) => mlock(addr, length) as number,
    munlock: (addr, length) => munlock(addr, length) as number,
    mincore: (addr, length, vec) => mincore(addr, length, vec) as number,
    open: (cPath, flags, mode) => open(cPath, flags, mode) as number,
    close: (fd) => close(fd) as number,
    fstat: (fd, buffer) => fstat(fd, buffer) as number,
    stat: (path, buffer) => stat(path, buffer) as number,
    pread: (fd, buffer, offset) => Number(pread(fd, buffer, buffer.length, offset)),
    pwrite: (fd, source, offset) => Number(pwrite(fd, source, source.length, offset)),
    ftruncate: (fd, length) => ftruncate(fd, length) as number,
    posixFallocate: fallocate && ((fd, offset, length) => fallocate(fd, offset, length) as number),
    posixFadvise: fadvise && ((fd, offset, length, advice) => fadvise(fd, offset, length, advice) as number),
    fsync: (fd) => fsync(fd) as number,
    flock: (fd, operation) => flock(fd, operation) as number,
    fcntl: (fd, command, arg) => fcntl(fd, command, BigInt(arg)) as number,
    fcntlPointer: fcntlPointer && ((fd, command, buffer) => fcntlPointer(fd, command, buffer) as number),
    unlink: (path) => unlink(path) as number,
    openat: (dirFd, path, flags, mode) => openat(dirFd, path, flags, mode) as number,
    openat2: constants.SYS_openat2 === 0 ? undefined : (dirFd, path, how) =>
      Number(openat2Syscall(constants.SYS_openat2, dirFd, path, how, how.length)),
    fstatat: (dirFd, path, buffer, flags) => fstatat(dirFd, path, buffer, flags) as number,
    mkdirat: (dirFd, path, mode) => mkdirat(dirFd, path, mode) as number,
    unlinkat: (dirFd, path, flags) => unlinkat(dirFd, path, flags) as number,
    renameat: (fromDirFd, from, toDirFd, to) => renameat(fromDirFd, from, toDirFd, to) as number,
    fchmod: (fd, mode) => fchmod(fd, mode) as number,
    fchmodat: (dirFd, path, mode, flags) => fchmodat(dirFd, path, mode, flags) as number,
    fchownat: (dirFd, path, uid, gid, flags) => fchownat(dirFd, path, uid, gid, flags) as number,
    utimensat: (dirFd, path, times, flags) => utimensat(dirFd, path, times, flags) as number,
    readlinkat: (dirFd, path, buffer, size) => Number(readlinkat(dirFd, path, buffer, size)),
    fdopendir: (fd) => BigInt(fdopendir(fd) as bigint),
    readdir: (dir) => BigInt(readdir(dir) as bigint),
    closedir: (dir) => closedir(dir) as number,
    write: (fd, buffer, count) => Number(write(fd, buffer, count)),
    shmOpen: shmOpen && ((name, flags, mode) => shmOpen(name, flags, mode) as number),
    shmUnlink: shmUnlink && ((name) => shmUnlink(name) as number),
    memfdCreate: memfdCreate && ((name, flags) => memfdCreate(name, flags) as number),
    sysconf: (name) => Number(sysconf(name)),
    errno: () => ffi.read.i32(errnoAddress, 0),
    arrayBuffer: (addr, length) => ffi.toArrayBuffer(Number(addr), 0, length),
    geteuid: () => geteuid() as number,
    readlink: (path, buffer) => Number(readlink(path, buffer, buffer.length)),
    // Bun has no permission model for the file system: no pathPermissions.
  };
}

function openFirst(
  ffi: BunFfi,
  paths: readonly string[],
  table: Record<string, BunSymbol>,
): [string, Record<string, BunFunction>] {
  let lastError: unknown;
  for (const path of paths) {
    try {
      return [path, ffi.dlopen(path, table).symbols];
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
