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
import { cString, parseStat } from "./marshal.ts";

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
  pread(fd: number, buffer: Uint8Array, count: number, offset: number): number;
  write(fd: number, buffer: Uint8Array, count: number): number;
  ftruncate(fd: number, length: number): number;
  /** Returns 0 or an error number, as C's posix_fallocate does. */
  posixFallocate?(fd: number, offset: number, length: number): number;
  fsync(fd: number): number;
  unlink(path: Uint8Array): number;
  shmOpen?(name: Uint8Array, flags: number, mode: number): number;
  shmUnlink?(name: Uint8Array): number;
  memfdCreate?(name: Uint8Array, flags: number): number;
  sysconf(name: number): number;
  /** The calling thread's errno. */
  errno(): number;
  arrayBuffer(addr: bigint, length: number): ArrayBuffer;
  checkPathAccess(path: string, access: "read" | "write"): void;
}

/** Wraps a runtime's {@linkcode NativeCalls} into the core's {@linkcode Libc}. */
export function bindLibc(native: NativeCalls, constants: PlatformConstants): Libc {
  return new BoundLibc(native, constants);
}

class BoundLibc implements Libc {
  readonly runtime: RuntimeName;
  readonly constants: PlatformConstants;
  readonly maxArrayBufferLength: number;
  errno = 0;
  readonly mremap?: Libc["mremap"];
  readonly posixFallocate?: Libc["posixFallocate"];
  readonly memfdCreate?: Libc["memfdCreate"];
  readonly openat2?: Libc["openat2"];
  #native: NativeCalls;
  #statBuffer: Uint8Array;
  #pageSize: number | undefined;

  constructor(native: NativeCalls, constants: PlatformConstants) {
    this.#native = native;
    this.runtime = native.runtime;
    this.constants = constants;
    this.maxArrayBufferLength = native.maxArrayBufferLength;
    this.#statBuffer = new Uint8Array(constants.stat.size);
    const { mremap, posixFallocate, memfdCreate, openat2 } = native;
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
    if (posixFallocate) {
      this.posixFallocate = (fd, offset, length) => {
        const error = posixFallocate.call(native, fd, offset, length);
        if (error === 0) return 0;
        this.errno = error;
        return -1;
      };
    }
    if (memfdCreate) {
      this.memfdCreate = (name, flags) => this.#int(memfdCreate.call(native, cString(name), flags));
    }
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
  pread(fd: number, target: Uint8Array, offset: number): number {
    return this.#int(this.#native.pread(fd, target, target.length, offset));
  }
  write(fd: number, source: Uint8Array): number {
    return this.#int(this.#native.write(fd, source, source.length));
  }
  ftruncate(fd: number, length: number): number {
    return this.#int(this.#native.ftruncate(fd, length));
  }
  fsync(fd: number): number {
    return this.#int(this.#native.fsync(fd));
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
  checkPathAccess(path: string, access: "read" | "write"): void {
    this.#native.checkPathAccess(path, access);
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
