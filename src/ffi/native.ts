/**
 * What a runtime shim provides: libc's functions as the runtime's FFI exposes
 * them, with arguments already in one shape (addresses `bigint`, sizes
 * `number`, C strings as NUL-terminated bytes). {@linkcode bindLibc} turns that
 * into the {@linkcode Libc} the core uses, reading errno right after each
 * failed call.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import { MAP_FAILED } from "./constants.ts";
import type { DirectoryEntry, FileStat, Libc, RuntimeName } from "./libc.ts";
import { normalizedAbsolutePath } from "./checked_path.ts";
import { fullFsync, preallocate } from "./darwin_calls.ts";
import { cString, parseStat } from "./marshal.ts";
import { MmapError } from "../errors.ts";

/** libc's functions as bound by one runtime's FFI. */
export interface NativeCalls {
  readonly runtime: RuntimeName;
  readonly maxArrayBufferLength: number;
  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint;
  munmap(addr: bigint, length: number): number;
  mremap?(addr: bigint, oldLength: number, newLength: number, flags: number): bigint;
  mprotect(addr: bigint, length: number, prot: number): number;
  madvise(addr: bigint, length: number, advice: number): number;
  msync(addr: bigint, length: number, flags: number): number;
  mlock(addr: bigint, length: number): number;
  munlock(addr: bigint, length: number): number;
  mincore(addr: bigint, length: number, vec: Uint8Array): number;
  open(path: Uint8Array, flags: number, mode: number): number;
  close(fd: number): number;
  fstat(fd: number, buffer: Uint8Array): number;
  stat(path: Uint8Array, buffer: Uint8Array): number;
  /** Bytes read into `buffer` (its whole length asked for), or -1. */
  pread(fd: number, buffer: Uint8Array, offset: number): number;
  /** Bytes of `source` (its whole length) written at `offset`, or -1. */
  pwrite(fd: number, source: Uint8Array, offset: number): number;
  openat(dirFd: number, path: Uint8Array, flags: number, mode: number): number;
  /** `syscall(SYS_openat2, dirfd, path, how, how.length)`; absent where the platform has no openat2. */
  openat2?(dirFd: number, path: Uint8Array, how: Uint8Array): number;
  fstatat(dirFd: number, path: Uint8Array, buffer: Uint8Array, flags: number): number;
  mkdirat(dirFd: number, path: Uint8Array, mode: number): number;
  unlinkat(dirFd: number, path: Uint8Array, flags: number): number;
  renameat(fromDirFd: number, from: Uint8Array, toDirFd: number, to: Uint8Array): number;
  fchmod(fd: number, mode: number): number;
  fchmodat(dirFd: number, path: Uint8Array, mode: number, flags: number): number;
  /** Ids as unsigned 32-bit numbers (-1 is 0xffffffff). */
  fchownat(dirFd: number, path: Uint8Array, uid: number, gid: number, flags: number): number;
  /** `times`: two `struct timespec` (seconds, nanoseconds; 64 bits each). */
  utimensat(dirFd: number, path: Uint8Array, times: Uint8Array, flags: number): number;
  readlinkat(dirFd: number, path: Uint8Array, buffer: Uint8Array, size: number): number;
  /** The `DIR *` as an address; 0n on failure. */
  fdopendir(fd: number): bigint;
  /** The `struct dirent *` as an address; 0n at the end or on failure. */
  readdir(dir: bigint): bigint;
  closedir(dir: bigint): number;
  write(fd: number, buffer: Uint8Array, count: number): number;
  ftruncate(fd: number, length: number): number;
  /** Returns 0 or an error number, as C's posix_fallocate does. */
  posixFallocate?(fd: number, offset: number, length: number): number;
  /** Returns 0 or an error number, as C's posix_fadvise does. */
  posixFadvise?(fd: number, offset: number, length: number, advice: number): number;
  fsync(fd: number): number;
  flock(fd: number, operation: number): number;
  /** `fcntl(fd, command, arg)` with an integer argument. */
  fcntl?(fd: number, command: number, arg: number): number;
  /** `fcntl(fd, command, &struct)` with a pointer argument (F_PREALLOCATE's fstore_t). */
  fcntlPointer?(fd: number, command: number, buffer: Uint8Array): number;
  unlink(path: Uint8Array): number;
  shmOpen?(name: Uint8Array, flags: number, mode: number): number;
  shmUnlink?(name: Uint8Array): number;
  memfdCreate?(name: Uint8Array, flags: number): number;
  sysconf(name: number): number;
  /**
   * `long syscall(long number, ...)` bound with the futex shape
   * `(number, u64 addr, i32 op, i32 val, u64 timeout, u64 addr2, i32 val3)`.
   * `syscall` is variadic; on x86-64 and arm64 Linux variadic integer
   * arguments travel in the same registers as fixed ones (and glibc's
   * `syscall` is assembly that never reads `%al`), so a fixed binding is
   * exact there. Apple arm64 passes variadic arguments on the stack, which a
   * fixed binding would put in registers: Darwin must never reach this (it
   * waits with `os_sync_wait_on_address`, a plain function, instead).
   * Linux only; returns -1 with errno on failure.
   */
  syscall?(number: number, addr: bigint, op: number, value: number, timeout: bigint, addr2: bigint, value3: number): number;
  /**
   * A shared (not private) FUTEX_WAIT on `addr` that blocks another thread,
   * never the caller's: resolves to the call's result, 0 when woken and -1
   * otherwise (errno stays on that thread: the caller tells a timeout from a
   * changed word by the clock and the word). `timeoutMs` may be Infinity.
   * Keeps the process alive while pending (the caller waits in slices, so
   * it is never stuck in the kernel for long).
   */
  futexWaitAsync?(addr: bigint, expected: number, timeoutMs: number): Promise<number>;
  /** `int kill(pid_t pid, int sig)` */
  kill(pid: number, signal: number): number;
  /** The calling thread's errno. */
  errno(): number;
  arrayBuffer(addr: bigint, length: number): ArrayBuffer;
  geteuid(): number;
  /** `readlink` into `buffer`; returns the byte count or -1. */
  readlink(path: Uint8Array, buffer: Uint8Array): number;
  /** The runtime's per-path permission model; absent where none limits file access. */
  readonly pathPermissions?: PathPermissions;
}

/** A runtime's per-path file permission model, as a shim exposes it. */
export interface PathPermissions {
  /** The directory a relative path is resolved against, as the runtime resolves it. */
  cwd(): string;
  /** Grows whenever the runtime revokes a permission: remembered grants are then forgotten. */
  readonly revocations: number;
  /**
   * Throws MmapError EACCES unless the model grants `access` to `path`, which
   * is already absolute and normalised.
   */
  check(path: string, access: "read" | "write", syscall: string): void;
  /**
   * Throws MmapError EACCES when the model refuses the file at `realPath`,
   * the fully resolved path of a descriptor just opened, whatever text led
   * there (Deno: /dev, /proc and /sys need --allow-all). Absent where the
   * model judges only the text.
   */
  checkRealPath?(realPath: string, syscall: string): void;
  /**
   * True when the model grants everything and checks nothing (Deno under
   * --allow-all, whose own APIs then open the path as given): memmapfs does
   * the same.
   */
  allowsAll?(): boolean;
}

const utf8 = new TextDecoder();

/** Remembered grants per access, past which the memory starts over. */
const MAX_REMEMBERED_GRANTS = 4096;

/** Wraps a runtime's {@linkcode NativeCalls} into the core's {@linkcode Libc}. */
export function bindLibc(native: NativeCalls, constants: PlatformConstants): Libc {
  return new BoundLibc(native, constants);
}

/** Writes `milliseconds` (finite, >= 0) as a little-endian `struct timespec` of two 64-bit fields. */
export function writeTimespec(view: DataView, milliseconds: number): void {
  const seconds = Math.floor(milliseconds / 1000);
  const nanoseconds = Math.min(999_999_999, Math.round((milliseconds - seconds * 1000) * 1e6));
  view.setBigInt64(0, BigInt(seconds), true);
  view.setBigInt64(8, BigInt(nanoseconds), true);
}

class BoundLibc implements Libc {
  readonly runtime: RuntimeName;
  readonly constants: PlatformConstants;
  readonly maxArrayBufferLength: number;
  errno = 0;
  readonly mremap?: Libc["mremap"];
  readonly posixFallocate?: Libc["posixFallocate"];
  readonly posixFadvise?: Libc["posixFadvise"];
  readonly memfdCreate?: Libc["memfdCreate"];
  // Assigned once, by #bindFutex in the constructor.
  futexWait?: Libc["futexWait"];
  futexWake?: Libc["futexWake"];
  futexWaitAsync?: Libc["futexWaitAsync"];
  gettid?: Libc["gettid"];
  readonly openat2?: Libc["openat2"];
  #native: NativeCalls;
  #statBuffer: Uint8Array;
  /** Paths the permission model granted, by access, with the path checked; see checkPathAccess. */
  #readGrants = new Map<string, string>();
  #writeGrants = new Map<string, string>();
  #grantsAsOf = 0;
  /** PATH_MAX bytes: what readlink of a descriptor's link can return. */
  #linkBuffer = new Uint8Array(4096);
  #pageSize: number | undefined;

  constructor(native: NativeCalls, constants: PlatformConstants) {
    this.#native = native;
    this.runtime = native.runtime;
    this.constants = constants;
    this.maxArrayBufferLength = native.maxArrayBufferLength;
    this.#statBuffer = new Uint8Array(constants.stat.size);
    const { mremap, posixFallocate, posixFadvise, memfdCreate, openat2 } = native;
    if (openat2) {
      // struct open_how { __u64 flags; __u64 mode; __u64 resolve; } (linux/openat2.h)
      const how = new Uint8Array(24);
      const fields = new DataView(how.buffer);
      this.openat2 = (dirFd, path, flags, mode, resolve) => {
        fields.setBigUint64(0, BigInt(flags), true);
        fields.setBigUint64(8, BigInt(mode), true);
        fields.setBigUint64(16, BigInt(resolve), true);
        return this.#int(openat2.call(native, dirFd, cString(path), how));
      };
    }
    if (mremap) {
      this.mremap = (addr, oldLength, newLength, flags) =>
        this.#address(mremap.call(native, addr, oldLength, newLength, flags));
    }
    // Darwin has no posix_fallocate: F_PREALLOCATE and ftruncate stand in (darwin_calls.ts).
    const fallocate = posixFallocate?.bind(native) ??
      (constants.F_PREALLOCATE !== 0
        ? (fd: number, offset: number, length: number) => preallocate(native, constants, fd, offset, length)
        : undefined);
    if (fallocate) {
      this.posixFallocate = (fd, offset, length) => {
        const error = fallocate(fd, offset, length);
        if (error === 0) return 0;
        this.errno = error;
        return -1;
      };
    }
    if (posixFadvise) {
      this.posixFadvise = (fd, offset, length, advice) => {
        const error = posixFadvise.call(native, fd, offset, length, advice);
        if (error === 0) return 0;
        this.errno = error;
        return -1;
      };
    }
    if (memfdCreate) {
      this.memfdCreate = (name, flags) => this.#int(memfdCreate.call(native, cString(name), flags));
    }
    this.#bindFutex(native, constants);
  }

  /** The futex calls, where the platform has a futex and the shim a `syscall`. */
  #bindFutex(native: NativeCalls, constants: PlatformConstants): void {
    const futex = constants.futex;
    const syscall = native.syscall;
    if (!futex || !syscall) return;
    let timespec: DataView | undefined;
    let timespecAddress = 0n;
    this.futexWait = (addr, expected, timeoutMs) => {
      let timeout = 0n; // NULL: no timeout
      if (timeoutMs !== Infinity) {
        if (!timespec) {
          // One page of this thread's own memory holds the relative timeout:
          // the kernel reads a pointer, and an address is all every shim passes.
          const { PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS } = constants;
          const page = native.mmap(0n, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          if (page === MAP_FAILED) return this.#int(-1);
          timespecAddress = page;
          timespec = new DataView(native.arrayBuffer(page, 16));
        }
        writeTimespec(timespec, timeoutMs);
        timeout = timespecAddress;
      }
      return this.#int(syscall.call(native, futex.SYS_futex, addr, futex.FUTEX_WAIT, expected | 0, timeout, 0n, 0));
    };
    this.futexWake = (addr, count) =>
      this.#int(syscall.call(native, futex.SYS_futex, addr, futex.FUTEX_WAKE, count, 0n, 0n, 0));
    const waitAsync = native.futexWaitAsync;
    if (waitAsync) {
      this.futexWaitAsync = (addr, expected, timeoutMs) => waitAsync.call(native, addr, expected | 0, timeoutMs);
    }
    this.gettid = () => syscall.call(native, futex.SYS_gettid, 0n, 0, 0, 0n, 0n, 0);
  }

  /** Records errno when `result` says the call failed; nothing runs in between. */
  #int(result: number): number {
    if (result === -1) this.errno = this.#native.errno();
    return result;
  }

  #address(result: bigint): bigint {
    if (result === MAP_FAILED) this.errno = this.#native.errno();
    return result;
  }

  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint {
    return this.#address(this.#native.mmap(addr, length, prot, flags, fd, offset));
  }
  munmap(addr: bigint, length: number): number {
    return this.#int(this.#native.munmap(addr, length));
  }
  mprotect(addr: bigint, length: number, prot: number): number {
    return this.#int(this.#native.mprotect(addr, length, prot));
  }
  madvise(addr: bigint, length: number, advice: number): number {
    return this.#int(this.#native.madvise(addr, length, advice));
  }
  msync(addr: bigint, length: number, flags: number): number {
    return this.#int(this.#native.msync(addr, length, flags));
  }
  mlock(addr: bigint, length: number): number {
    return this.#int(this.#native.mlock(addr, length));
  }
  munlock(addr: bigint, length: number): number {
    return this.#int(this.#native.munlock(addr, length));
  }
  mincore(addr: bigint, length: number, vec: Uint8Array): number {
    return this.#int(this.#native.mincore(addr, length, vec));
  }
  open(path: string, flags: number, mode: number): number {
    return this.#int(this.#native.open(cString(path), flags, mode));
  }
  close(fd: number): number {
    return this.#int(this.#native.close(fd));
  }
  fstat(fd: number): FileStat | null {
    if (this.#int(this.#native.fstat(fd, this.#statBuffer)) === -1) return null;
    return parseStat(this.#statBuffer, this.constants.stat);
  }
  stat(path: string): FileStat | null {
    if (this.#int(this.#native.stat(cString(path), this.#statBuffer)) === -1) return null;
    return parseStat(this.#statBuffer, this.constants.stat);
  }
  pread(fd: number, buffer: Uint8Array, offset: number): number {
    return this.#int(this.#native.pread(fd, buffer, offset));
  }
  pwrite(fd: number, source: Uint8Array, offset: number): number {
    return this.#int(this.#native.pwrite(fd, source, offset));
  }
  openat(dirFd: number, path: string, flags: number, mode: number): number {
    return this.#int(this.#native.openat(dirFd, cString(path), flags, mode));
  }
  fstatat(dirFd: number, path: string, flags: number): FileStat | null {
    if (this.#int(this.#native.fstatat(dirFd, cString(path), this.#statBuffer, flags)) === -1) return null;
    return parseStat(this.#statBuffer, this.constants.stat);
  }
  mkdirat(dirFd: number, path: string, mode: number): number {
    return this.#int(this.#native.mkdirat(dirFd, cString(path), mode));
  }
  unlinkat(dirFd: number, path: string, flags: number): number {
    return this.#int(this.#native.unlinkat(dirFd, cString(path), flags));
  }
  renameat(fromDirFd: number, from: string, toDirFd: number, to: string): number {
    return this.#int(this.#native.renameat(fromDirFd, cString(from), toDirFd, cString(to)));
  }
  fchmod(fd: number, mode: number): number {
    return this.#int(this.#native.fchmod(fd, mode));
  }
  fchmodat(dirFd: number, path: string, mode: number, flags: number): number {
    return this.#int(this.#native.fchmodat(dirFd, cString(path), mode, flags));
  }
  fchownat(dirFd: number, path: string, uid: number, gid: number, flags: number): number {
    return this.#int(this.#native.fchownat(dirFd, cString(path), uid >>> 0, gid >>> 0, flags));
  }
  utimensat(dirFd: number, path: string, atimeNs: bigint, mtimeNs: bigint, flags: number): number {
    const times = new Uint8Array(32);
    const view = new DataView(times.buffer);
    const second = 1_000_000_000n;
    // Floor division, so a time before 1970 gets a negative second and a nanosecond part in range.
    const put = (at: number, ns: bigint) => {
      const nanoseconds = ((ns % second) + second) % second;
      view.setBigInt64(at, (ns - nanoseconds) / second, true);
      view.setBigInt64(at + 8, nanoseconds, true);
    };
    put(0, atimeNs);
    put(16, mtimeNs);
    return this.#int(this.#native.utimensat(dirFd, cString(path), times, flags));
  }
  readlinkat(dirFd: number, path: string): string | null {
    // PATH_MAX on Linux; a target that fills the buffer may be cut, so it is refused.
    const buffer = new Uint8Array(4096);
    const length = this.#int(this.#native.readlinkat(dirFd, cString(path), buffer, buffer.length));
    if (length === -1) return null;
    if (length >= buffer.length) {
      this.errno = errnoNumberOf(this.constants, "ENAMETOOLONG");
      return null;
    }
    return decoder.decode(buffer.subarray(0, length));
  }
  fdopendir(fd: number): bigint {
    const dir = this.#native.fdopendir(fd);
    if (dir === 0n) this.errno = this.#native.errno();
    return dir;
  }
  readdir(dir: bigint): DirectoryEntry | null | -1 {
    // readdir returns NULL both at the end (errno untouched) and on failure
    // (errno set), so errno is first set to a value readdir never reports:
    // EBADF from close(-1). Still EBADF after a NULL means the end.
    const ebadf = errnoNumberOf(this.constants, "EBADF");
    this.#native.close(-1);
    const entry = this.#native.readdir(dir);
    if (entry === 0n) {
      const errno = this.#native.errno();
      if (errno === ebadf) return null;
      this.errno = errno;
      return -1;
    }
    const { reclen, type, name } = this.constants.dirent;
    const header = new DataView(this.#native.arrayBuffer(entry, name + 3));
    const length = header.getUint16(reclen, true);
    const record = new Uint8Array(this.#native.arrayBuffer(entry, length));
    const end = record.indexOf(0, name);
    // Copied out: readdir's buffer is reused by the next call.
    return { name: decoder.decode(record.slice(name, end < 0 ? length : end)), type: record[type] };
  }
  closedir(dir: bigint): number {
    return this.#int(this.#native.closedir(dir));
  }
  write(fd: number, source: Uint8Array): number {
    return this.#int(this.#native.write(fd, source, source.length));
  }
  ftruncate(fd: number, length: number): number {
    return this.#int(this.#native.ftruncate(fd, length));
  }
  fsync(fd: number): number {
    if (this.constants.F_FULLFSYNC === 0) return this.#int(this.#native.fsync(fd));
    // Darwin: fsync alone leaves the data in the drive's cache (darwin_calls.ts).
    const { result, errno } = fullFsync(this.#native, this.constants, fd);
    if (result === -1) this.errno = errno;
    return result;
  }
  flock(fd: number, operation: number): number {
    return this.#int(this.#native.flock(fd, operation));
  }
  unlink(path: string): number {
    return this.#int(this.#native.unlink(cString(path)));
  }
  shmOpen(name: string, flags: number, mode: number): number {
    if (!this.#native.shmOpen) return this.#unbound();
    return this.#int(this.#native.shmOpen(cString(name), flags, mode));
  }
  shmUnlink(name: string): number {
    if (!this.#native.shmUnlink) return this.#unbound();
    return this.#int(this.#native.shmUnlink(cString(name)));
  }
  pageSize(): number {
    // Fixed for the life of the process; asked for on every mapping.
    this.#pageSize ??= this.#native.sysconf(this.constants.SC_PAGESIZE);
    return this.#pageSize;
  }
  arrayBuffer(addr: bigint, length: number): ArrayBuffer {
    return this.#native.arrayBuffer(addr, length);
  }
  geteuid(): number {
    return this.#native.geteuid();
  }
  readlink(path: string): string | null {
    const buffer = this.#linkBuffer;
    const length = this.#int(this.#native.readlink(cString(path), buffer));
    // A full buffer may be a cut-off path: report it as too long rather than guess.
    if (length === -1 || length === buffer.length) return null;
    return utf8.decode(buffer.subarray(0, length));
  }
  checkOpenedFile(fd: number, syscall = "open"): void {
    const permissions = this.#native.pathPermissions;
    if (!permissions?.checkRealPath || permissions.allowsAll?.()) return;
    // Linux names a descriptor's file in /proc/self/fd; darwin has no such
    // link (F_GETPATH is a variadic fcntl): there only the text is judged.
    if (!this.constants.name.startsWith("linux")) return;
    const real = this.readlink(`/proc/self/fd/${fd}`);
    if (real === null) {
      throw new MmapError(`EACCES: cannot tell which file descriptor ${fd} is, so cannot check it`, {
        code: "EACCES", errno: 13, syscall, path: `/proc/self/fd/${fd}`,
      });
    }
    permissions.checkRealPath(real.replace(/ \(deleted\)$/, ""), syscall);
  }
  checkPathAccess(path: string, access: "read" | "write", syscall = "open"): string {
    const permissions = this.#native.pathPermissions;
    if (!permissions || permissions.allowsAll?.()) return path;
    // A warm MemMapFS.open costs a few µs and asks this on every hit: grants
    // of absolute paths are remembered until the runtime revokes anything.
    // (Kept small: the slow path is a method of its own.)
    const known = (access === "read" ? this.#readGrants : this.#writeGrants).get(path);
    if (known !== undefined && this.#grantsAsOf === permissions.revocations) return known;
    return this.#askPermissions(permissions, path, access, syscall);
  }

  #askPermissions(permissions: PathPermissions, path: string, access: "read" | "write", syscall: string): string {
    if (this.#grantsAsOf !== permissions.revocations) {
      this.#readGrants.clear();
      this.#writeGrants.clear();
      this.#grantsAsOf = permissions.revocations;
    }
    const checked = normalizedAbsolutePath(path, () => permissions.cwd());
    permissions.check(checked, access, syscall);
    // A relative path's meaning depends on the working directory: not remembered.
    if (path.startsWith("/")) {
      const grants = access === "read" ? this.#readGrants : this.#writeGrants;
      if (grants.size >= MAX_REMEMBERED_GRANTS) grants.clear();
      grants.set(path, checked);
    }
    return checked;
  }
  kill(pid: number, signal: number): number {
    return this.#int(this.#native.kill(pid, signal));
  }

  /** A libc without the function: report ENOSYS like the kernel would. */
  #unbound(): number {
    this.errno = errnoNumberOf(this.constants, "ENOSYS");
    return -1;
  }
}

const decoder = new TextDecoder();

function errnoNumberOf(constants: PlatformConstants, name: string): number {
  const entry = Object.entries(constants.errnoNames).find(([, candidate]) => candidate === name);
  return Number(entry?.[0] ?? -1);
}
