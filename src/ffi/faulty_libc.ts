/**
 * A {@linkcode Libc} that fails chosen calls: the seam tests use to prove that
 * every failure path throws the right error and leaks nothing.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import { MAP_FAILED } from "./constants.ts";
import type { DirectoryEntry, FileStat, Libc, RuntimeName } from "./libc.ts";

/** The libc calls a {@linkcode FaultyLibc} can fail. */
export type LibcCall =
  | "mmap" | "munmap" | "mremap" | "mprotect" | "madvise" | "msync" | "mlock" | "munlock"
  | "mincore" | "open" | "close" | "fstat" | "stat" | "pread" | "pwrite" | "ftruncate" | "posixFallocate" | "posixFadvise"
  | "fsync" | "flock" | "unlink" | "shmOpen" | "shmUnlink" | "memfdCreate" | "openat" | "openat2" | "fstatat"
  | "mkdirat" | "unlinkat" | "renameat" | "fchmod" | "fchmodat" | "fchownat" | "utimensat" | "readlinkat"
  | "fdopendir" | "readdir" | "closedir" | "write";

interface PlannedFault {
  remaining: number;
  errno: number;
}

/**
 * Wraps a libc and makes the N-th call of a chosen function fail with a chosen
 * errno, without calling through. Counts every call.
 *
 * @example
 * ```ts
 * import { FaultyLibc, libc, useLibc } from "./mod.ts";
 * const faulty = new FaultyLibc(libc());
 * faulty.fail("mmap", { errno: 12 });
 * useLibc(faulty);
 * // ... the next mmap fails with ENOMEM ...
 * useLibc(null);
 * ```
 */
export class FaultyLibc implements Libc {
  readonly runtime: RuntimeName = "test";
  readonly constants: PlatformConstants;
  readonly maxArrayBufferLength: number;
  readonly mremap?: Libc["mremap"];
  readonly posixFallocate?: Libc["posixFallocate"];
  readonly posixFadvise?: Libc["posixFadvise"];
  readonly memfdCreate?: Libc["memfdCreate"];
  readonly futexWait?: Libc["futexWait"];
  readonly futexWake?: Libc["futexWake"];
  readonly futexWaitAsync?: Libc["futexWaitAsync"];
  readonly gettid?: Libc["gettid"];
  readonly openat2?: Libc["openat2"];
  readonly pwrite?: Libc["pwrite"];
  #inner: Libc;
  #ownErrno: number | undefined;
  #counts = new Map<LibcCall, number>();
  #faults = new Map<LibcCall, PlannedFault[]>();

  constructor(inner: Libc, options: { maxArrayBufferLength?: number } = {}) {
    this.#inner = inner;
    this.constants = inner.constants;
    this.maxArrayBufferLength = options.maxArrayBufferLength ?? inner.maxArrayBufferLength;
    const { mremap, posixFallocate, posixFadvise, memfdCreate, openat2, pwrite } = inner;
    if (pwrite) {
      this.pwrite = (...args) => this.#run("pwrite", -1, () => pwrite.apply(inner, args));
    }
    if (openat2) {
      this.openat2 = (...args) => this.#run("openat2", -1, () => openat2.apply(inner, args));
    }
    if (mremap) {
      this.mremap = (...args) => this.#run("mremap", MAP_FAILED, () => mremap.apply(inner, args));
    }
    if (posixFallocate) {
      this.posixFallocate = (...args) =>
        this.#run("posixFallocate", -1, () => posixFallocate.apply(inner, args));
    }
    if (posixFadvise) {
      this.posixFadvise = (...args) =>
        this.#run("posixFadvise", -1, () => posixFadvise.apply(inner, args));
    }
    if (memfdCreate) {
      this.memfdCreate = (...args) =>
        this.#run("memfdCreate", -1, () => memfdCreate.apply(inner, args));
    }
    // Wait/notify and thread identity pass through (no faults planned for them).
    const { futexWait, futexWake, futexWaitAsync, gettid } = inner;
    if (futexWait) this.futexWait = (...args) => futexWait.apply(inner, args);
    if (futexWake) this.futexWake = (...args) => futexWake.apply(inner, args);
    if (futexWaitAsync) this.futexWaitAsync = (...args) => futexWaitAsync.apply(inner, args);
    if (gettid) this.gettid = () => gettid.call(inner);
  }

  /** errno of the last failure, injected or real. */
  get errno(): number {
    return this.#ownErrno ?? this.#inner.errno;
  }

  /** Makes the `nth` call of `call` from now on (default the next) fail with `errno`. */
  fail(call: LibcCall, options: { nth?: number; errno: number }): void {
    const planned = this.#faults.get(call) ?? [];
    planned.push({ remaining: options.nth ?? 1, errno: options.errno });
    this.#faults.set(call, planned);
  }

  /** How many times `call` was made through this libc. */
  calls(call: LibcCall): number {
    return this.#counts.get(call) ?? 0;
  }

  #run<T>(call: LibcCall, failure: T, through: () => T): T {
    this.#counts.set(call, this.calls(call) + 1);
    const planned = this.#faults.get(call);
    // Every planned fault counts this call, so each `nth` counts from when it was planned.
    for (const fault of planned ?? []) fault.remaining--;
    const due = planned?.find((fault) => fault.remaining === 0);
    if (due) {
      planned!.splice(planned!.indexOf(due), 1);
      // Linux releases the descriptor even when close() reports an error, so a
      // faithful failure still closes it.
      if (call === "close" || call === "closedir") through();
      this.#ownErrno = due.errno;
      return failure;
    }
    this.#ownErrno = undefined;
    return through();
  }

  mmap(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): bigint {
    return this.#run("mmap", MAP_FAILED, () => this.#inner.mmap(addr, length, prot, flags, fd, offset));
  }
  munmap(addr: bigint, length: number): number {
    return this.#run("munmap", -1, () => this.#inner.munmap(addr, length));
  }
  mprotect(addr: bigint, length: number, prot: number): number {
    return this.#run("mprotect", -1, () => this.#inner.mprotect(addr, length, prot));
  }
  madvise(addr: bigint, length: number, advice: number): number {
    return this.#run("madvise", -1, () => this.#inner.madvise(addr, length, advice));
  }
  msync(addr: bigint, length: number, flags: number): number {
    return this.#run("msync", -1, () => this.#inner.msync(addr, length, flags));
  }
  mlock(addr: bigint, length: number): number {
    return this.#run("mlock", -1, () => this.#inner.mlock(addr, length));
  }
  munlock(addr: bigint, length: number): number {
    return this.#run("munlock", -1, () => this.#inner.munlock(addr, length));
  }
  mincore(addr: bigint, length: number, vec: Uint8Array): number {
    return this.#run("mincore", -1, () => this.#inner.mincore(addr, length, vec));
  }
  open(path: string, flags: number, mode: number): number {
    return this.#run("open", -1, () => this.#inner.open(path, flags, mode));
  }
  close(fd: number): number {
    return this.#run("close", -1, () => this.#inner.close(fd));
  }
  fstat(fd: number): FileStat | null {
    return this.#run("fstat", null, () => this.#inner.fstat(fd));
  }
  stat(path: string): FileStat | null {
    return this.#run("stat", null, () => this.#inner.stat(path));
  }
  pread(fd: number, buffer: Uint8Array, offset: number): number {
    return this.#run("pread", -1, () => this.#inner.pread(fd, buffer, offset));
  }
  ftruncate(fd: number, length: number): number {
    return this.#run("ftruncate", -1, () => this.#inner.ftruncate(fd, length));
  }
  fsync(fd: number): number {
    return this.#run("fsync", -1, () => this.#inner.fsync(fd));
  }
  flock(fd: number, operation: number): number {
    return this.#run("flock", -1, () => this.#inner.flock(fd, operation));
  }
  openat(dirFd: number, path: string, flags: number, mode: number): number {
    return this.#run("openat", -1, () => this.#inner.openat(dirFd, path, flags, mode));
  }
  fstatat(dirFd: number, path: string, flags: number): FileStat | null {
    return this.#run("fstatat", null, () => this.#inner.fstatat(dirFd, path, flags));
  }
  mkdirat(dirFd: number, path: string, mode: number): number {
    return this.#run("mkdirat", -1, () => this.#inner.mkdirat(dirFd, path, mode));
  }
  unlinkat(dirFd: number, path: string, flags: number): number {
    return this.#run("unlinkat", -1, () => this.#inner.unlinkat(dirFd, path, flags));
  }
  renameat(fromDirFd: number, from: string, toDirFd: number, to: string): number {
    return this.#run("renameat", -1, () => this.#inner.renameat(fromDirFd, from, toDirFd, to));
  }
  fchmod(fd: number, mode: number): number {
    return this.#run("fchmod", -1, () => this.#inner.fchmod(fd, mode));
  }
  fchmodat(dirFd: number, path: string, mode: number, flags: number): number {
    return this.#run("fchmodat", -1, () => this.#inner.fchmodat(dirFd, path, mode, flags));
  }
  fchownat(dirFd: number, path: string, uid: number, gid: number, flags: number): number {
    return this.#run("fchownat", -1, () => this.#inner.fchownat(dirFd, path, uid, gid, flags));
  }
  utimensat(dirFd: number, path: string, atimeNs: bigint, mtimeNs: bigint, flags: number): number {
    return this.#run("utimensat", -1, () => this.#inner.utimensat(dirFd, path, atimeNs, mtimeNs, flags));
  }
  readlinkat(dirFd: number, path: string): string | null {
    return this.#run("readlinkat", null, () => this.#inner.readlinkat(dirFd, path));
  }
  fdopendir(fd: number): bigint {
    // A faithful failure leaves the descriptor with the caller, as fdopendir does.
    return this.#run("fdopendir", 0n, () => this.#inner.fdopendir(fd));
  }
  readdir(dir: bigint): DirectoryEntry | null | -1 {
    return this.#run("readdir", -1 as const, () => this.#inner.readdir(dir));
  }
  closedir(dir: bigint): number {
    return this.#run("closedir", -1, () => this.#inner.closedir(dir));
  }
  write(fd: number, source: Uint8Array): number {
    return this.#run("write", -1, () => this.#inner.write(fd, source));
  }
  unlink(path: string): number {
    return this.#run("unlink", -1, () => this.#inner.unlink(path));
  }
  shmOpen(name: string, flags: number, mode: number): number {
    return this.#run("shmOpen", -1, () => this.#inner.shmOpen(name, flags, mode));
  }
  shmUnlink(name: string): number {
    return this.#run("shmUnlink", -1, () => this.#inner.shmUnlink(name));
  }
  pageSize(): number {
    return this.#inner.pageSize();
  }
  arrayBuffer(addr: bigint, length: number): ArrayBuffer {
    return this.#inner.arrayBuffer(addr, length);
  }
  geteuid(): number {
    return this.#inner.geteuid();
  }
  readlink(path: string): string | null {
    return this.#inner.readlink(path);
  }
  checkOpenedFile(fd: number, syscall?: string): void {
    this.#inner.checkOpenedFile(fd, syscall);
  }
  checkPathAccess(path: string, access: "read" | "write", syscall?: string): string {
    return this.#inner.checkPathAccess(path, access, syscall);
  }
  kill(pid: number, signal: number): number {
    return this.#inner.kill(pid, signal);
  }
}
