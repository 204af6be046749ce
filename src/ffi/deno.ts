/**
 * The Deno shim: binds libc with `Deno.dlopen`. One of the three files allowed
 * to name a runtime's FFI.
 *
 * Addresses are declared `usize`, so Deno hands them over as `bigint` and takes
 * them back the same way, with no pointer objects in between.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import { MmapError } from "../errors.ts";
import { denoPathPermissions, type DenoPermissionsApi } from "./deno_permissions.ts";
import { type NativeCalls, writeTimespec } from "./native.ts";
import { prepareBindings, type VariadicMark } from "./variadic.ts";

// The slice of Deno's FFI types this file needs, declared here so the shim also
// type-checks under tsc, which does not know the `Deno` namespace.
type DenoType = "i32" | "u32" | "i64" | "usize" | "isize" | "buffer";
interface DenoSymbol extends VariadicMark {
  parameters: DenoType[];
  result: DenoType;
  optional?: boolean;
  /** The C symbol when the key is an alias. */
  name?: string;
  /** Run the call on Deno's blocking thread pool and return a Promise. */
  nonblocking?: boolean;
}
type DenoFunction = (...args: unknown[]) => unknown;
interface DenoApi extends DenoPermissionsApi {
  dlopen(path: string, symbols: Record<string, DenoSymbol>): {
    symbols: Record<string, DenoFunction | null>;
  };
  UnsafePointer: { create(value: bigint): unknown };
  UnsafePointerView: {
    new (pointer: unknown): { getInt32(offset?: number): number };
    getArrayBuffer(pointer: unknown, length: number): ArrayBuffer;
  };
}

/**
 * The libc symbols with their C prototypes; optional ones may be absent
 * (Darwin). `variadicFrom` marks where C's `...` starts (see variadic.ts).
 */
const SYMBOLS = {
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
  mmap: { parameters: ["usize", "usize", "i32", "i32", "i32", "i64"], result: "usize" },
  // int munmap(void *addr, size_t length)
  munmap: { parameters: ["usize", "usize"], result: "i32" },
  // void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
  mremap: { parameters: ["usize", "usize", "usize", "i32"], result: "usize", optional: true, variadicFrom: 4 },
  // int mprotect(void *addr, size_t len, int prot)
  mprotect: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int madvise(void *addr, size_t length, int advice)
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int msync(void *addr, size_t length, int flags)
  msync: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int mlock(const void *addr, size_t len)
  mlock: { parameters: ["usize", "usize"], result: "i32" },
  // int munlock(const void *addr, size_t len)
  munlock: { parameters: ["usize", "usize"], result: "i32" },
  // int mincore(void *addr, size_t length, unsigned char *vec)
  mincore: { parameters: ["usize", "usize", "buffer"], result: "i32" },
  // int open(const char *pathname, int flags, ... /* mode_t mode */)
  open: { parameters: ["buffer", "i32", "u32"], result: "i32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* int arg */)
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* struct *arg */)
  fcntl_pointer: { name: "fcntl", parameters: ["i32", "i32", "buffer"], result: "i32", variadicFrom: 2 },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // int ftruncate(int fd, off_t length)
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // int posix_fallocate(int fd, off_t offset, off_t len)
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32", optional: true },
  // int posix_fadvise(int fd, off_t offset, off_t len, int advice)
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32", optional: true },
  // int fsync(int fd)
  fsync: { parameters: ["i32"], result: "i32" },
  // int flock(int fd, int operation)
  flock: { parameters: ["i32", "i32"], result: "i32" },
  // int unlink(const char *pathname)
  unlink: { parameters: ["buffer"], result: "i32" },
  // int shm_open(const char *name, int oflag, ... /* mode_t mode */)
  shm_open: { parameters: ["buffer", "i32", "u32"], result: "i32", optional: true, variadicFrom: 2 },
  // int shm_unlink(const char *name)
  shm_unlink: { parameters: ["buffer"], result: "i32", optional: true },
  // int memfd_create(const char *name, unsigned int flags)
  memfd_create: { parameters: ["buffer", "u32"], result: "i32", optional: true },
  // long sysconf(int name)
  sysconf: { parameters: ["i32"], result: "i64" },
  // int kill(pid_t pid, int sig)
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // long syscall(long number, ...), bound with the futex shape: see NativeCalls.syscall
  // for why fixed arguments are exact on Linux x64/arm64 (and wrong on Apple arm64).
  syscall: { parameters: ["i64", "usize", "i32", "i32", "usize", "usize", "i32"], result: "i64", optional: true, variadicFrom: 1 },
  // The same futex call on Deno's blocking pool: the timeout is a struct timespec buffer or null.
  syscall_blocking: {
    name: "syscall",
    parameters: ["i64", "usize", "i32", "i32", "buffer", "usize", "i32"],
    result: "i64",
    optional: true,
    nonblocking: true,
    variadicFrom: 1,
  },
  // uid_t geteuid(void)
  geteuid: { parameters: [], result: "u32" },
  // ssize_t readlink(const char *pathname, char *buf, size_t bufsiz)
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  // int openat(int dirfd, const char *pathname, int flags, mode_t mode)
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32", variadicFrom: 3 },
  // int mkdirat(int dirfd, const char *pathname, mode_t mode)
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int unlinkat(int dirfd, const char *pathname, int flags)
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  // int fchmod(int fd, mode_t mode)
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  // int fchmodat(int dirfd, const char *pathname, mode_t mode, int flags)
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  // int fchownat(int dirfd, const char *pathname, uid_t owner, gid_t group, int flags)
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  // int utimensat(int dirfd, const char *pathname, const struct timespec times[2], int flags)
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  // ssize_t readlinkat(int dirfd, const char *pathname, char *buf, size_t bufsiz)
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "i64" },
  // int closedir(DIR *dirp)
  closedir: { parameters: ["usize"], result: "i32" },
  // ssize_t write(int fd, const void *buf, size_t count)
  write: { parameters: ["i32", "buffer", "usize"], result: "i64" },
  // long syscall(long number, ...): bound for openat2(dirfd, path, struct open_how *, size)
  syscall_openat2: { name: "syscall", parameters: ["i64", "i64", "buffer", "buffer", "i64"], result: "i64", variadicFrom: 1 },
} satisfies Record<string, DenoSymbol>;

/** Deno's names for the types variadic.ts rearranges. */
const DENO_TYPES = { key: "parameters", wide: "i64" as DenoType, slotSized: ["i64", "usize", "buffer"] as DenoType[] };

/**
 * The table handed to `Deno.dlopen` on the platform of `constants`, and the
 * adapter that keeps variadic calls right there. Exported for the ABI test.
 */
export function denoBindings(constants: PlatformConstants): ReturnType<typeof prepareBindings<DenoSymbol, DenoType>> {
  return prepareBindings<DenoSymbol, DenoType>({
    ...SYMBOLS,
    // int fstat(int fd, struct stat *statbuf)
    [constants.fstatSymbol]: { parameters: ["i32", "buffer"], result: "i32" },
    // int stat(const char *path, struct stat *statbuf)
    [constants.statSymbol]: { parameters: ["buffer", "buffer"], result: "i32" },
    // int fstatat(int dirfd, const char *pathname, struct stat *statbuf, int flags)
    [constants.fstatatSymbol]: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
    // DIR *fdopendir(int fd)
    [constants.fdopendirSymbol]: { parameters: ["i32"], result: "usize" },
    // struct dirent *readdir(DIR *dirp)
    [constants.readdirSymbol]: { parameters: ["usize"], result: "usize" },
    // int *__errno_location(void) on glibc/musl, int *__error(void) on Darwin
    [constants.errnoFunction]: { parameters: [], result: "usize" },
  }, constants, DENO_TYPES);
}

/** Binds libc through `Deno.dlopen`; throws when FFI is not permitted. */
export function denoNativeCalls(constants: PlatformConstants): NativeCalls {
  const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
  // Pointers need FFI permission for everything, not one library: when Deno
  // would prompt, ask once for that (one question instead of two, the first
  // of which could not have been enough).
  if (deno.permissions.querySync({ name: "ffi" }).state === "prompt") deno.permissions.requestSync?.({ name: "ffi" });
  const { symbols, adapt } = denoBindings(constants);
  const lib = openFirst(deno, libcCandidates(deno, constants), symbols);
  if (!lib.shm_open && constants.name.startsWith("linux")) {
    // glibc before 2.34 keeps shm_open in librt.
    try {
      Object.assign(lib, deno.dlopen("librt.so.1", {
        shm_open: symbols.shm_open,
        shm_unlink: symbols.shm_unlink,
      }).symbols);
    } catch { /* stays unbound: named shared memory then fails with ENOSYS */ }
  }
  const call = (name: string) => adapt(name, lib[name] as DenoFunction);
  const optional = (name: string) => (lib[name] ? adapt(name, lib[name]) : undefined);

  // errno is thread-local and its address is fixed for the thread's life.
  const errnoAddress = call(constants.errnoFunction)() as bigint;
  const errnoView = new deno.UnsafePointerView(deno.UnsafePointer.create(errnoAddress));

  const mmap = call("mmap"), munmap = call("munmap"), mprotect = call("mprotect");
  const madvise = call("madvise"), msync = call("msync"), mlock = call("mlock");
  const munlock = call("munlock"), mincore = call("mincore"), open = call("open");
  const close = call("close"), fstat = call(constants.fstatSymbol), stat = call(constants.statSymbol);
  const ftruncate = call("ftruncate"), fsync = call("fsync"), sysconf = call("sysconf");
  const unlink = call("unlink"), flock = call("flock"), pread = call("pread");
  const pwrite = call("pwrite");
  const geteuid = call("geteuid"), readlink = call("readlink");
  const fcntl = call("fcntl"), fcntlPointer = call("fcntl_pointer");
  const mremap = optional("mremap"), fallocate = optional("posix_fallocate");
  const shmOpen = optional("shm_open"), shmUnlink = optional("shm_unlink");
  const memfdCreate = optional("memfd_create"), fadvise = optional("posix_fadvise");
  const kill = call("kill");
  const syscall = constants.futex ? optional("syscall") : undefined;
  const syscallBlocking = constants.futex ? optional("syscall_blocking") : undefined;
  const openat = call("openat"), fstatat = call(constants.fstatatSymbol), mkdirat = call("mkdirat");
  const unlinkat = call("unlinkat"), renameat = call("renameat"), fchmod = call("fchmod");
  const fchmodat = call("fchmodat"), fchownat = call("fchownat"), utimensat = call("utimensat");
  const readlinkat = call("readlinkat"), fdopendir = call(constants.fdopendirSymbol);
  const readdir = call(constants.readdirSymbol), closedir = call("closedir");
  const write = call("write"), openat2Syscall = call("syscall_openat2");
  const sysOpenat2 = BigInt(constants.SYS_openat2);

  return {
    runtime: "deno",
    kill: (pid, signal) => kill(pid, signal) as number,
    syscall: syscall &&
      ((number, addr, op, value, timeout, addr2, value3) =>
        Number(syscall(number, addr, op, value, timeout, addr2, value3) as number | bigint)),
    futexWaitAsync: syscallBlocking && constants.futex &&
      ((addr, expected, timeoutMs) => futexWaitOnPool(syscallBlocking, constants, addr, expected, timeoutMs)),
    maxArrayBufferLength: Number.MAX_SAFE_INTEGER,
    mmap: (addr, length, prot, flags, fd, offset) =>
      mmap(addr, BigInt(length), prot, flags, fd, BigInt(offset)) as bigint,
    munmap: (addr, length) => munmap(addr, BigInt(length)) as number,
    mremap: mremap &&
      ((addr, oldLength, newLength, flags) =>
        mremap(addr, BigInt(oldLength), BigInt(newLength), flags) as bigint),
    mprotect: (addr, length, prot) => mprotect(addr, BigInt(length), prot) as number,
    madvise: (addr, length, advice) => madvise(addr, BigInt(length), advice) as number,
    msync: (addr, length, flags) => msync(addr, BigInt(length), flags) as number,
    mlock: (addr, length) => mlock(addr, BigInt(length)) as number,
    munlock: (addr, length) => munlock(addr, BigInt(length)) as number,
    mincore: (addr, length, vec) => mincore(addr, BigInt(length), vec) as number,
    open: (path, flags, mode) => open(path, flags, mode) as number,
    close: (fd) => close(fd) as number,
    fstat: (fd, buffer) => fstat(fd, buffer) as number,
    stat: (path, buffer) => stat(path, buffer) as number,
    pread: (fd, buffer, offset) => Number(pread(fd, buffer, BigInt(buffer.length), BigInt(offset))),
    pwrite: (fd, source, offset) => Number(pwrite(fd, source, BigInt(source.length), BigInt(offset))),
    ftruncate: (fd, length) => ftruncate(fd, BigInt(length)) as number,
    posixFallocate: fallocate &&
      ((fd, offset, length) => fallocate(fd, BigInt(offset), BigInt(length)) as number),
    posixFadvise: fadvise &&
      ((fd, offset, length, advice) => fadvise(fd, BigInt(offset), BigInt(length), advice) as number),
    fsync: (fd) => fsync(fd) as number,
    flock: (fd, operation) => flock(fd, operation) as number,
    fcntl: (fd, command, arg) => fcntl(fd, command, BigInt(arg)) as number,
    fcntlPointer: (fd, command, buffer) => fcntlPointer(fd, command, buffer) as number,
    unlink: (path) => unlink(path) as number,
    openat: (dirFd, path, flags, mode) => openat(dirFd, path, flags, mode) as number,
    openat2: constants.SYS_openat2 === 0 ? undefined : (dirFd, path, how) =>
      Number(openat2Syscall(sysOpenat2, BigInt(dirFd), path, how, BigInt(how.length))),
    fstatat: (dirFd, path, buffer, flags) => fstatat(dirFd, path, buffer, flags) as number,
    mkdirat: (dirFd, path, mode) => mkdirat(dirFd, path, mode) as number,
    unlinkat: (dirFd, path, flags) => unlinkat(dirFd, path, flags) as number,
    renameat: (fromDirFd, from, toDirFd, to) => renameat(fromDirFd, from, toDirFd, to) as number,
    fchmod: (fd, mode) => fchmod(fd, mode) as number,
    fchmodat: (dirFd, path, mode, flags) => fchmodat(dirFd, path, mode, flags) as number,
    fchownat: (dirFd, path, uid, gid, flags) => fchownat(dirFd, path, uid, gid, flags) as number,
    utimensat: (dirFd, path, times, flags) => utimensat(dirFd, path, times, flags) as number,
    readlinkat: (dirFd, path, buffer, size) => Number(readlinkat(dirFd, path, buffer, BigInt(size))),
    fdopendir: (fd) => BigInt(fdopendir(fd) as bigint),
    readdir: (dir) => BigInt(readdir(dir) as bigint),
    closedir: (dir) => closedir(dir) as number,
    write: (fd, buffer, count) => Number(write(fd, buffer, BigInt(count))),
    shmOpen: shmOpen && ((name, flags, mode) => shmOpen(name, flags, mode) as number),
    shmUnlink: shmUnlink && ((name) => shmUnlink(name) as number),
    memfdCreate: memfdCreate && ((name, flags) => memfdCreate(name, flags) as number),
    sysconf: (name) => Number(sysconf(name)),
    errno: () => errnoView.getInt32(),
    arrayBuffer: (addr, length) =>
      deno.UnsafePointerView.getArrayBuffer(deno.UnsafePointer.create(addr), length),
    // Through libc, not Deno.uid(), which needs --allow-sys.
    geteuid: () => geteuid() as number,
    readlink: (path, buffer) => Number(readlink(path, buffer, BigInt(buffer.length))),
    pathPermissions: denoPathPermissions(deno, constants),
  };
}

/**
 * The libc paths to try, absolute ones first. Deno checks `--allow-ffi=<path>`
 * and its interactive prompt against the path given to dlopen, resolving a
 * bare name like "libc.so.6" against the working directory, so a bare name
 * only works with a blanket `--allow-ffi`. The paths this process may already
 * load come first; without any, each absolute path in turn (the prompt
 * then names it), and the bare names last for systems with libc elsewhere.
 */
function libcCandidates(deno: DenoApi, constants: PlatformConstants): string[] {
  const bare = constants.libcPaths.filter((path) => !path.startsWith("/"));
  const absolute = [
    ...constants.libcPaths.filter((path) => path.startsWith("/")),
    ...constants.libcDirectories.flatMap((directory) => bare.map((name) => `${directory}/${name}`)),
  ];
  const granted = absolute.filter((path) => deno.permissions.querySync({ name: "ffi", path }).state === "granted");
  const rest = absolute.filter((path) => !granted.includes(path));
  return [...granted, ...rest, ...bare];
}

/**
 * A FUTEX_WAIT on Deno's blocking thread pool (`nonblocking: true`). The op
 * keeps the event loop alive while pending, which is what a process waiting
 * for another one needs (as a pending socket read does); closing the region
 * wakes it, and `Deno.exit()` does not wait for the pool thread.
 */
function futexWaitOnPool(
  syscallBlocking: DenoFunction,
  constants: PlatformConstants,
  addr: bigint,
  expected: number,
  timeoutMs: number,
): Promise<number> {
  const futex = constants.futex!;
  let timeout: Uint8Array | null = null;
  if (timeoutMs !== Infinity) {
    timeout = new Uint8Array(16);
    writeTimespec(new DataView(timeout.buffer), timeoutMs);
  }
  const pending = syscallBlocking(futex.SYS_futex, addr, futex.FUTEX_WAIT, expected, timeout, 0n, 0) as Promise<
    number | bigint
  >;
  return pending.then((result) => {
    void timeout; // referenced until the kernel is done with it
    return Number(result);
  });
}

function openFirst(
  deno: DenoApi,
  paths: readonly string[],
  table: Record<string, DenoSymbol>,
): Record<string, DenoFunction | null> {
  let lastError: unknown;
  for (const path of paths) {
    try {
      return { ...deno.dlopen(path, table).symbols };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
