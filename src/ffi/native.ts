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
import type { FileStat, Libc, RuntimeName } from "./libc.ts";
import { fullFsync, preallocate } from "./darwin_calls.ts";
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
  ftruncate(fd: number, length: number): number;
  /** Returns 0 or an error number, as C's posix_fallocate does. */
  posixFallocate?(fd: number, offset: number, length: number): number;
  fsync(fd: number): number;
  /** `fcntl(fd, command, arg)` with an integer argument. */
  fcntl?(fd: number, command: number, arg: number): number;
  /** `fcntl(fd, command, &struct)` with a pointer argument (F_PREALLOCATE's fstore_t). */
  fcntlPointer?(fd: number, command: number, buffer: Uint8Array): number;
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
  #native: NativeCalls;
  #statBuffer: Uint8Array;
  #pageSize: number | undefined;

  constructor(native: NativeCalls, constants: PlatformConstants) {
    this.#native = native;
    this.runtime = native.runtime;
    this.constants = constants;
    this.maxArrayBufferLength = native.maxArrayBufferLength;
    this.#statBuffer = new Uint8Array(constants.stat.size);
    const { mremap, posixFallocate, memfdCreate } = native;
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
    const entry = Object.entries(this.constants.errnoNames).find(([, name]) => name === "ENOSYS");
    this.errno = Number(entry?.[0] ?? 38);
    return -1;
  }
}
