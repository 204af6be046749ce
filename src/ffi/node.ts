/**
 * The Node shim: binds libc with `node:ffi` (Node 26 and later). One of the
 * three files allowed to name a runtime's FFI.
 *
 * Node's fast call path wants `bigint` for 64-bit arguments, so sizes and
 * offsets are converted here.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import { MmapError } from "../errors.ts";
import { RevocationCounter } from "./revocation_counter.ts";
import type { NativeCalls, PathPermissions } from "./native.ts";
import { waiterPool } from "./waiter_pool.ts";
import { prepareBindings, type VariadicMark } from "./variadic.ts";

// The slice of node:ffi this file uses, declared here because @types/node may
// not describe the experimental module yet.
type NodeType = "int32" | "uint32" | "int64" | "uint64" | "buffer";
interface NodeSignature extends VariadicMark {
  arguments: NodeType[];
  return: NodeType;
}
type NodeFunction = (...args: unknown[]) => unknown;
interface NodeFfi {
  dlopen(path: string, definitions: Record<string, NodeSignature>): {
    functions: Record<string, NodeFunction>;
  };
  toArrayBuffer(pointer: bigint, length: number, copy: boolean): ArrayBuffer;
  getInt32(pointer: bigint, offset?: number): number;
}

/** The libc symbols with their C prototypes; `variadicFrom` marks C's `...` (see variadic.ts). */
const SYMBOLS = {
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
  mmap: { arguments: ["uint64", "uint64", "int32", "int32", "int32", "int64"], return: "uint64" },
  // int munmap(void *addr, size_t length)
  munmap: { arguments: ["uint64", "uint64"], return: "int32" },
  // int mprotect(void *addr, size_t len, int prot)
  mprotect: { arguments: ["uint64", "uint64", "int32"], return: "int32" },
  // int madvise(void *addr, size_t length, int advice)
  madvise: { arguments: ["uint64", "uint64", "int32"], return: "int32" },
  // int msync(void *addr, size_t length, int flags)
  msync: { arguments: ["uint64", "uint64", "int32"], return: "int32" },
  // int mlock(const void *addr, size_t len)
  mlock: { arguments: ["uint64", "uint64"], return: "int32" },
  // int munlock(const void *addr, size_t len)
  munlock: { arguments: ["uint64", "uint64"], return: "int32" },
  // int mincore(void *addr, size_t length, unsigned char *vec)
  mincore: { arguments: ["uint64", "uint64", "buffer"], return: "int32" },
  // int open(const char *pathname, int flags, ... /* mode_t mode */)
  open: { arguments: ["buffer", "int32", "uint32"], return: "int32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* int arg */)
  fcntl: { arguments: ["int32", "int32", "int64"], return: "int32", variadicFrom: 2 },
  // int close(int fd)
  close: { arguments: ["int32"], return: "int32" },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: { arguments: ["int32", "buffer", "uint64", "int64"], return: "int64" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
  pwrite: { arguments: ["int32", "buffer", "uint64", "int64"], return: "int64" },
  // int ftruncate(int fd, off_t length)
  ftruncate: { arguments: ["int32", "int64"], return: "int32" },
  // int fsync(int fd)
  fsync: { arguments: ["int32"], return: "int32" },
  // int flock(int fd, int operation)
  flock: { arguments: ["int32", "int32"], return: "int32" },
  // int unlink(const char *pathname)
  unlink: { arguments: ["buffer"], return: "int32" },
  // long sysconf(int name)
  sysconf: { arguments: ["int32"], return: "int64" },
  // int kill(pid_t pid, int sig)
  kill: { arguments: ["int32", "int32"], return: "int32" },
  // uid_t geteuid(void)
  geteuid: { arguments: [], return: "uint32" },
  // ssize_t readlink(const char *pathname, char *buf, size_t bufsiz)
  readlink: { arguments: ["buffer", "buffer", "uint64"], return: "int64" },
  // int openat(int dirfd, const char *pathname, int flags, mode_t mode)
  openat: { arguments: ["int32", "buffer", "int32", "uint32"], return: "int32", variadicFrom: 3 },
  // int mkdirat(int dirfd, const char *pathname, mode_t mode)
  mkdirat: { arguments: ["int32", "buffer", "uint32"], return: "int32" },
  // int unlinkat(int dirfd, const char *pathname, int flags)
  unlinkat: { arguments: ["int32", "buffer", "int32"], return: "int32" },
  // int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
  renameat: { arguments: ["int32", "buffer", "int32", "buffer"], return: "int32" },
  // int fchmod(int fd, mode_t mode)
  fchmod: { arguments: ["int32", "uint32"], return: "int32" },
  // int fchmodat(int dirfd, const char *pathname, mode_t mode, int flags)
  fchmodat: { arguments: ["int32", "buffer", "uint32", "int32"], return: "int32" },
  // int fchownat(int dirfd, const char *pathname, uid_t owner, gid_t group, int flags)
  fchownat: { arguments: ["int32", "buffer", "uint32", "uint32", "int32"], return: "int32" },
  // int utimensat(int dirfd, const char *pathname, const struct timespec times[2], int flags)
  utimensat: { arguments: ["int32", "buffer", "buffer", "int32"], return: "int32" },
  // ssize_t readlinkat(int dirfd, const char *pathname, char *buf, size_t bufsiz)
  readlinkat: { arguments: ["int32", "buffer", "buffer", "uint64"], return: "int64" },
  // int closedir(DIR *dirp)
  closedir: { arguments: ["uint64"], return: "int32" },
  // ssize_t write(int fd, const void *buf, size_t count)
  write: { arguments: ["int32", "buffer", "uint64"], return: "int64" },
  // long syscall(long number, ...): bound for openat2(dirfd, path, struct open_how *, size)
  syscall: { arguments: ["int64", "int64", "buffer", "buffer", "int64"], return: "int64", variadicFrom: 1 },
} satisfies Record<string, NodeSignature>;

/** Symbols some platforms lack; each is bound on its own so a miss costs only itself. */
const OPTIONAL_SYMBOLS = {
  // void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
  mremap: { arguments: ["uint64", "uint64", "uint64", "int32"], return: "uint64", variadicFrom: 4 },
  // int posix_fallocate(int fd, off_t offset, off_t len)
  posix_fallocate: { arguments: ["int32", "int64", "int64"], return: "int32" },
  // int posix_fadvise(int fd, off_t offset, off_t len, int advice)
  posix_fadvise: { arguments: ["int32", "int64", "int64", "int32"], return: "int32" },
  // int shm_open(const char *name, int oflag, ... /* mode_t mode */)
  shm_open: { arguments: ["buffer", "int32", "uint32"], return: "int32", variadicFrom: 2 },
  // int shm_unlink(const char *name)
  shm_unlink: { arguments: ["buffer"], return: "int32" },
  // int memfd_create(const char *name, unsigned int flags)
  memfd_create: { arguments: ["buffer", "uint32"], return: "int32" },
  // long syscall(long number, ...), bound with the futex shape: see NativeCalls.syscall
  // for why fixed arguments are exact on Linux x64/arm64 (and wrong on Apple arm64).
  syscall: { arguments: ["int64", "uint64", "int32", "int32", "uint64", "uint64", "int32"], return: "int64", variadicFrom: 1 },
  // int fcntl(int fd, int cmd, ... /* struct *arg */), bound on its own beside the int form
  fcntl: { arguments: ["int32", "int32", "buffer"], return: "int32", variadicFrom: 2 },
} satisfies Record<string, NodeSignature>;

/** node:ffi's names for the types variadic.ts rearranges. */
const NODE_TYPES = {
  key: "arguments",
  wide: "int64" as NodeType,
  slotSized: ["int64", "uint64", "buffer"] as NodeType[],
};

/**
 * The tables handed to node:ffi's `dlopen` on the platform of `constants`, and
 * adapters that keep variadic calls right there. Exported for the ABI test.
 */
export function nodeBindings(constants: PlatformConstants): {
  main: ReturnType<typeof prepareBindings<NodeSignature, NodeType>>;
  optional: ReturnType<typeof prepareBindings<NodeSignature, NodeType>>;
} {
  const main = prepareBindings<NodeSignature, NodeType>({
    ...SYMBOLS,
    // int fstat(int fd, struct stat *statbuf)
    [constants.fstatSymbol]: { arguments: ["int32", "buffer"], return: "int32" },
    // int stat(const char *path, struct stat *statbuf)
    [constants.statSymbol]: { arguments: ["buffer", "buffer"], return: "int32" },
    // int fstatat(int dirfd, const char *pathname, struct stat *statbuf, int flags)
    [constants.fstatatSymbol]: { arguments: ["int32", "buffer", "buffer", "int32"], return: "int32" },
    // DIR *fdopendir(int fd)
    [constants.fdopendirSymbol]: { arguments: ["int32"], return: "uint64" },
    // struct dirent *readdir(DIR *dirp)
    [constants.readdirSymbol]: { arguments: ["uint64"], return: "uint64" },
    // int *__errno_location(void) on glibc/musl, int *__error(void) on Darwin
    [constants.errnoFunction]: { arguments: [], return: "uint64" },
  }, constants, NODE_TYPES);
  return { main, optional: prepareBindings<NodeSignature, NodeType>(OPTIONAL_SYMBOLS, constants, NODE_TYPES) };
}

/** Returns node:ffi, or `undefined` on a Node without it (before 26, or disabled). */
export function loadNodeFfi(): NodeFfi | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return getBuiltin?.("node:ffi") as NodeFfi | undefined;
}

/** Binds libc through `node:ffi`. */
export function nodeNativeCalls(ffi: NodeFfi, constants: PlatformConstants): NativeCalls {
  const bindings = nodeBindings(constants);
  const [path, bound] = openFirst(ffi, constants.libcPaths, bindings.main.symbols);
  const lib: Record<string, NodeFunction> = Object.fromEntries(
    Object.entries(bound).map(([name, fn]) => [name, bindings.main.adapt(name, fn)]),
  );
  const optional = (name: keyof typeof OPTIONAL_SYMBOLS): NodeFunction | undefined => {
    for (const candidate of [path, ...(name.startsWith("shm_") ? ["librt.so.1"] : [])]) {
      try {
        const fn = ffi.dlopen(candidate, { [name]: bindings.optional.symbols[name] }).functions[name];
        return bindings.optional.adapt(name, fn);
      } catch { /* try the next library; absent everywhere means unsupported */ }
    }
    return undefined;
  };

  // errno is thread-local and its address is fixed for the thread's life.
  const errnoAddress = lib[constants.errnoFunction]!() as bigint;
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
  const big = BigInt;
  const sysOpenat2 = big(constants.SYS_openat2);

  return {
    runtime: "node",
    kill: (pid, signal) => kill(pid, signal) as number,
    syscall: syscall &&
      ((number, addr, op, value, timeout, addr2, value3) =>
        Number(syscall(big(number), addr, op, value, timeout, addr2, value3) as bigint)),
    futexWaitAsync: syscall && waiterPool("node", path, constants),
    maxArrayBufferLength: Number.MAX_SAFE_INTEGER,
    mmap: (addr, length, prot, flags, fd, offset) =>
      mmap(addr, big(length), prot, flags, fd, big(offset)) as bigint,
    munmap: (addr, length) => munmap(addr, big(length)) as number,
    mremap: mremap &&
      ((addr, oldLength, newLength, flags) =>
        mremap(addr, big(oldLength), big(newLength), flags) as bigint),
    mprotect: (addr, length, prot) => mprotect(addr, big(length), prot) as number,
    madvise: (addr, length, advice) => madvise(addr, big(length), advice) as number,
    msync: (addr, length, flags) => msync(addr, big(length), flags) as number,
    mlock: (addr, length) => mlock(addr, big(length)) as number,
    munlock: (addr, length) => munlock(addr, big(length)) as number,
    mincore: (addr, length, vec) => mincore(addr, big(length), vec) as number,
    open: (cPath, flags, mode) => open(cPath, flags, mode) as number,
    close: (fd) => close(fd) as number,
    fstat: (fd, buffer) => fstat(fd, buffer) as number,
    stat: (path, buffer) => stat(path, buffer) as number,
    pread: (fd, buffer, offset) => Number(pread(fd, buffer, big(buffer.length), big(offset))),
    pwrite: (fd, source, offset) => Number(pwrite(fd, source, big(source.length), big(offset))),
    ftruncate: (fd, length) => ftruncate(fd, big(length)) as number,
    posixFallocate: fallocate &&
      ((fd, offset, length) => fallocate(fd, big(offset), big(length)) as number),
    posixFadvise: fadvise &&
      ((fd, offset, length, advice) => fadvise(fd, big(offset), big(length), advice) as number),
    fsync: (fd) => fsync(fd) as number,
    flock: (fd, operation) => flock(fd, operation) as number,
    fcntl: (fd, command, arg) => fcntl(fd, command, big(arg)) as number,
    fcntlPointer: fcntlPointer && ((fd, command, buffer) => fcntlPointer(fd, command, buffer) as number),
    unlink: (path) => unlink(path) as number,
    openat: (dirFd, path, flags, mode) => openat(dirFd, path, flags, mode) as number,
    openat2: constants.SYS_openat2 === 0 ? undefined : (dirFd, path, how) =>
      Number(openat2Syscall(sysOpenat2, big(dirFd), path, how, big(how.length))),
    fstatat: (dirFd, path, buffer, flags) => fstatat(dirFd, path, buffer, flags) as number,
    mkdirat: (dirFd, path, mode) => mkdirat(dirFd, path, mode) as number,
    unlinkat: (dirFd, path, flags) => unlinkat(dirFd, path, flags) as number,
    renameat: (fromDirFd, from, toDirFd, to) => renameat(fromDirFd, from, toDirFd, to) as number,
    fchmod: (fd, mode) => fchmod(fd, mode) as number,
    fchmodat: (dirFd, path, mode, flags) => fchmodat(dirFd, path, mode, flags) as number,
    fchownat: (dirFd, path, uid, gid, flags) => fchownat(dirFd, path, uid, gid, flags) as number,
    utimensat: (dirFd, path, times, flags) => utimensat(dirFd, path, times, flags) as number,
    readlinkat: (dirFd, path, buffer, size) => Number(readlinkat(dirFd, path, buffer, big(size))),
    fdopendir: (fd) => big(fdopendir(fd) as bigint),
    readdir: (dir) => big(readdir(dir) as bigint),
    closedir: (dir) => closedir(dir) as number,
    write: (fd, buffer, count) => Number(write(fd, buffer, big(count))),
    shmOpen: shmOpen && ((name, flags, mode) => shmOpen(name, flags, mode) as number),
    shmUnlink: shmUnlink && ((name) => shmUnlink(name) as number),
    memfdCreate: memfdCreate && ((name, flags) => memfdCreate(name, flags) as number),
    sysconf: (name) => Number(sysconf(name)),
    errno: () => ffi.getInt32(errnoAddress),
    arrayBuffer: (addr, length) => ffi.toArrayBuffer(addr, length, false),
    geteuid: () => geteuid() as number,
    readlink: (path, buffer) => Number(readlink(path, buffer, big(buffer.length))),
    pathPermissions: nodePathPermissions(),
  };
}

/** The slice of `process` this file uses; `permission` exists only under `node --permission`. */
interface NodeProcess {
  cwd(): string;
  permission?: { has(scope: "fs.read" | "fs.write", reference: string): boolean; drop(...args: never[]): unknown };
}

/**
 * Node's permission model when the process runs with `--permission` (fixed
 * for the process's life), else `undefined`: without it Node limits no path.
 * FFI bypasses the model, so memmapfs asks it the way node:fs does.
 */
function nodePathPermissions(): PathPermissions | undefined {
  const node = process as unknown as NodeProcess;
  const permission = node.permission;
  if (!permission) return undefined;
  const counter = new RevocationCounter();
  counter.watch(permission, "drop");
  return {
    cwd: () => node.cwd(),
    get revocations() {
      return counter.count;
    },
    check(path, access, syscall) {
      if (permission.has(`fs.${access}`, path)) return;
      throw new MmapError(
        `EACCES: Node's permission model denies ${access} access to "${path}": ` +
          `run with --allow-fs-${access}=${path} (or a directory holding it)`,
        { code: "EACCES", errno: 13, syscall, path },
      );
    },
  };
}

function openFirst(
  ffi: NodeFfi,
  paths: readonly string[],
  table: Record<string, NodeSignature>,
): [string, Record<string, NodeFunction>] {
  let lastError: unknown;
  for (const path of paths) {
    try {
      return [path, ffi.dlopen(path, table).functions];
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
