/**
 * The POSIX platform (Linux, Darwin): {@linkcode Platform} over the
 * {@linkcode Libc} of the running runtime. memmap2's `unix.rs`.
 *
 * @module
 */

import { errnoError, MmapError } from "../../errors.ts";
import { MAP_FAILED, platformLabel } from "../../ffi/constants.ts";
import type { Libc, RuntimeName } from "../../ffi/libc.ts";
import type {
  AddressWaitResult,
  AdviceName,
  DirectoryRoot,
  FileAdviceName,
  FileHandle,
  FileKind,
  OpenedSharedMemory,
  OpenFileRequest,
  Platform,
  PlatformMapping,
  PlatformMapRequest,
  PlatformStat,
  SharedMemoryRequest,
} from "../platform.ts";
import { probeAdvice } from "./advice_probe.ts";
import { PosixRoot } from "./posix_root.ts";
import { errnoNumber, fileKind, lastError } from "./posix_errors.ts";
import { mapPosix, prefault, residentPages } from "./posix_mapping.ts";

/**
 * {@linkcode Platform} over one {@linkcode Libc}.
 *
 * @example
 * ```ts
 * import { libc } from "../../ffi/mod.ts";
 * const os = new PosixPlatform(libc());
 * console.log(os.granularity === os.pageSize); // true
 * ```
 */
export class PosixPlatform implements Platform {
  readonly #libc: Libc;
  readonly runtime: RuntimeName;
  readonly label: string;
  readonly displayName: string;
  readonly maxArrayBufferLength: number;
  readonly flushNeedsFileFlush: boolean;
  readonly shmNameMaxBytes: number;
  readonly sharedMemorySizeFixedOnce: boolean;
  readonly arrayBuffer: (address: bigint, length: number) => ArrayBuffer;
  readonly remap?: Platform["remap"];
  readonly writeAt?: Platform["writeAt"];
  readonly adviseFile?: Platform["adviseFile"];
  readonly createMemoryFile?: Platform["createMemoryFile"];
  readonly waitOnAddress?: Platform["waitOnAddress"];
  readonly waitOnAddressAsync?: Platform["waitOnAddressAsync"];
  readonly wakeAddress?: Platform["wakeAddress"];
  readonly threadId?: Platform["threadId"];

  constructor(libc: Libc) {
    this.#libc = libc;
    const c = libc.constants;
    this.runtime = libc.runtime;
    this.label = c.name;
    this.displayName = platformLabel(c);
    this.maxArrayBufferLength = libc.maxArrayBufferLength;
    // Darwin's msync leaves the bytes in the drive's cache: F_FULLFSYNC after it.
    this.flushNeedsFileFlush = c.F_FULLFSYNC !== 0;
    this.shmNameMaxBytes = c.shmNameMaxBytes;
    this.sharedMemorySizeFixedOnce = c.shmSizeFixedOnce;
    this.arrayBuffer = libc.arrayBuffer.bind(libc);
    // A method of the binding: bound, so it keeps its `this`.
    const pwrite = libc.pwrite?.bind(libc);
    if (pwrite) {
      this.writeAt = (file, bytes, offset, label) => {
        let done = 0;
        while (done < bytes.length) {
          const wrote = pwrite(file, done === 0 ? bytes : bytes.subarray(done), offset + done);
          if (wrote > 0) {
            done += wrote;
            continue;
          }
          // A regular file never takes 0 bytes of a non-empty write: EIO rather than spin.
          const errno = wrote === 0 ? errnoNumber(libc, "EIO") : libc.errno;
          if (c.errnoNames[errno] !== "EINTR") throw lastError(libc, "pwrite", label, errno);
        }
      };
    }
    const { mremap, posixFadvise, memfdCreate, futexWait, futexWake, futexWaitAsync, gettid } = libc;
    if (mremap) {
      this.remap = (address, oldLength, newLength, label) => {
        const moved = mremap(address, oldLength, newLength, c.MREMAP_MAYMOVE);
        if (moved === MAP_FAILED) throw lastError(libc, "mremap", label);
        return moved;
      };
    }
    if (posixFadvise && c.POSIX_FADV_DONTNEED) {
      this.adviseFile = (file: FileHandle, offset: number, length: number, _advice: FileAdviceName, label: string | null) => {
        if (posixFadvise(file, offset, length, c.POSIX_FADV_DONTNEED) !== 0) throw lastError(libc, "posix_fadvise", label);
      };
    }
    if (memfdCreate) {
      this.createMemoryFile = (name) => {
        // MFD_NOEXEC_SEAL (Linux 6.3+) says the memory is never executed, which
        // vm.memfd_noexec may require; older kernels refuse the flag with EINVAL.
        let fd = memfdCreate(name, c.MFD_CLOEXEC | c.MFD_NOEXEC_SEAL);
        if (fd < 0 && c.errnoNames[libc.errno] === "EINVAL") fd = memfdCreate(name, c.MFD_CLOEXEC);
        if (fd < 0) throw lastError(libc, "memfd_create", null);
        return fd;
      };
    }
    if (futexWait && futexWake && c.futex) {
      const { EAGAIN, ETIMEDOUT, EINTR } = c.futex;
      this.waitOnAddress = (address, expected, timeoutMs): AddressWaitResult => {
        const deadline = performance.now() + timeoutMs;
        for (let attempt = 0;; attempt++) {
          const remaining = timeoutMs === Infinity ? Infinity : Math.max(0, deadline - performance.now());
          if (futexWait(address, expected, remaining) === 0) return "ok";
          const errno = libc.errno;
          // After an interruption the word may have changed while we slept: that is a wake-up.
          if (errno === EAGAIN) return attempt === 0 ? "not-equal" : "ok";
          if (errno === ETIMEDOUT) return "timed-out";
          if (errno !== EINTR) throw errnoError(errno, c.errnoNames, "futex");
          if (remaining === 0) return "timed-out";
        }
      };
      this.wakeAddress = (address, count) => {
        const woken = futexWake(address, count);
        if (woken === -1) throw errnoError(libc.errno, c.errnoNames, "futex");
        return woken;
      };
      if (futexWaitAsync) {
        this.waitOnAddressAsync = async (address, expected, timeoutMs) => await futexWaitAsync(address, expected, timeoutMs) === 0;
      }
    }
    if (gettid) this.threadId = gettid;
  }

  /** The libc this platform calls (for the other files of `src/os/posix`). */
  get libc(): Libc {
    return this.#libc;
  }

  get pageSize(): number {
    return this.#libc.pageSize();
  }

  get granularity(): number {
    return this.#libc.pageSize();
  }

  checkPathAccess(path: string, access: "read" | "write", syscall?: string): string {
    return this.#libc.checkPathAccess(path, access, syscall);
  }

  checkOpenedFile(file: FileHandle, syscall?: string): void {
    this.#libc.checkOpenedFile(file, syscall);
  }

  openFile(path: string, request: OpenFileRequest): FileHandle {
    const libc = this.#libc;
    const fd = libc.open(path, openFlags(libc, request, true), request.create ? request.permissions ?? 0o600 : 0);
    if (fd < 0) throw lastError(libc, "open", path);
    return fd;
  }

  stat(file: FileHandle, label: string | null): PlatformStat {
    const stat = this.#libc.fstat(file) as { kind?: FileKind } | null;
    if (!stat) throw lastError(this.#libc, "fstat", label);
    stat.kind = fileKind((stat as PlatformStat).mode, this.#libc.constants);
    return stat as PlatformStat;
  }

  statPath(path: string): PlatformStat | null {
    const stat = this.#libc.stat(path) as { kind?: FileKind } | null;
    if (stat) stat.kind = fileKind((stat as PlatformStat).mode, this.#libc.constants);
    return stat as PlatformStat | null;
  }

  readAt(file: FileHandle, buffer: Uint8Array, offset: number, label: string | null): number {
    const read = this.#libc.pread(file, buffer, offset);
    if (read < 0) throw lastError(this.#libc, "pread", label);
    return read;
  }

  setSize(file: FileHandle, newSize: number, oldSize: number, label: string | null): void {
    const libc = this.#libc;
    if (newSize > oldSize && libc.posixFallocate) {
      if (libc.posixFallocate(file, oldSize, newSize - oldSize) === 0) return;
      const errno = libc.errno;
      // Filesystems without fallocate support say so; fall back to ftruncate.
      if (!["EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EINVAL"].includes(libc.constants.errnoNames[errno])) {
        const error = lastError(libc, "posix_fallocate", label, errno);
        libc.ftruncate(file, oldSize);
        throw error;
      }
    }
    this.truncateFile(file, newSize, label);
  }

  truncateFile(file: FileHandle, size: number, label: string | null): void {
    if (this.#libc.ftruncate(file, size) !== 0) throw lastError(this.#libc, "ftruncate", label);
  }

  flushFile(file: FileHandle, label: string | null): void {
    if (this.#libc.fsync(file) !== 0) throw lastError(this.#libc, "fsync", label);
  }

  syncParentDirectory(path: string): void {
    const libc = this.#libc;
    const c = libc.constants;
    const slash = path.lastIndexOf("/");
    const directory = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
    const fd = libc.open(directory, c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0);
    if (fd < 0) throw lastError(libc, "open", directory);
    let error = libc.fsync(fd) === 0 ? undefined : lastError(libc, "fsync", directory);
    // A close error after fsync is reported too: we cannot tell what it lost.
    if (libc.close(fd) !== 0) error ??= lastError(libc, "close", directory);
    if (error) throw error;
  }

  closeFile(file: FileHandle, label: string | null): MmapError | undefined {
    // Linux releases the descriptor even when close reports an error.
    return this.#libc.close(file) === 0 ? undefined : lastError(this.#libc, "close", label);
  }

  removeFile(path: string): MmapError | undefined {
    return this.#libc.unlink(path) === 0 ? undefined : lastError(this.#libc, "unlink", path);
  }

  tryLockFile(file: FileHandle, label: string | null): boolean {
    const libc = this.#libc;
    const c = libc.constants;
    if (libc.flock(file, c.LOCK_EX | c.LOCK_NB) === 0) return true;
    if (c.errnoNames[libc.errno] === "EAGAIN") return false;
    throw lastError(libc, "flock", label);
  }

  reopenInProcess(file: FileHandle, write: boolean): FileHandle | null {
    const libc = this.#libc;
    const c = libc.constants;
    const flags = (write ? c.O_RDWR : c.O_RDONLY) | c.O_CLOEXEC;
    // Opening the descriptor's link opens the object itself (a new open of
    // it, with its own offset and lifetime), even after it was unlinked.
    for (const directory of ["/proc/self/fd", "/dev/fd"]) {
      const fd = libc.open(`${directory}/${file}`, flags, 0);
      if (fd >= 0) return fd;
    }
    return null;
  }

  openSharedMemory(name: string, request: SharedMemoryRequest): OpenedSharedMemory {
    const libc = this.#libc;
    const c = libc.constants;
    // FFI bypasses the runtime's permission model: an object is checked as the
    // file it is (/dev/shm/<name>), for reading and, unless read-only, writing.
    const asPath = this.sharedMemoryPermissionPath(name);
    libc.checkPathAccess(asPath, "read", "shm_open");
    if (!request.readonly) libc.checkPathAccess(asPath, "write", "shm_open");
    // glibc adds O_NOFOLLOW and O_CLOEXEC itself; darwin does not, so say it.
    // Where objects are files anyone may plant (/dev/shm), O_NONBLOCK keeps a
    // FIFO from hanging the open; the caller's type check then refuses it.
    // darwin's shm_open takes no other flags, and its objects are never FIFOs.
    const nonblocking = c.shmDirectory === null ? 0 : c.O_NONBLOCK | c.O_NOCTTY;
    const base = (request.readonly ? c.O_RDONLY : c.O_RDWR) | c.O_CLOEXEC | nonblocking;
    const posixName = `/${name}`;
    let fd: number;
    let created = false;
    if (request.create) {
      fd = libc.shmOpen(posixName, base | c.O_CREAT | c.O_EXCL, request.permissions);
      created = fd >= 0;
      if (fd < 0 && !request.exclusive && libc.errno === errnoNumber(libc, "EEXIST")) {
        fd = libc.shmOpen(posixName, base, 0);
      }
    } else {
      fd = libc.shmOpen(posixName, base, 0);
    }
    if (fd < 0) throw lastError(libc, "shm_open", name);
    return { file: fd, created };
  }

  unlinkSharedMemory(name: string): void {
    const libc = this.#libc;
    libc.checkPathAccess(this.sharedMemoryPermissionPath(name), "write", "shm_unlink");
    if (libc.shmUnlink(`/${name}`) !== 0) throw lastError(libc, "shm_unlink", name);
  }

  /**
   * The path a shared-memory object is checked as against the runtime's
   * permission model: its file in `/dev/shm` where shm_open keeps objects as
   * files (Linux), and `/` where they live outside the file system (darwin),
   * so a name then needs access to everything, as no narrower grant names it.
   */
  sharedMemoryPermissionPath(name: string): string {
    const directory = this.#libc.constants.shmDirectory;
    return directory === null ? "/" : `${directory}/${name}`;
  }

  untrustedReason(stat: PlatformStat): string | undefined {
    const { uid, mode } = stat;
    // geteuid through libc: the runtimes' own uid calls need --allow-sys on Deno.
    const me = this.#libc.geteuid();
    return uid !== me
      ? `it belongs to user ${uid}, not to this process's user ${me}`
      : (mode & 0o022) !== 0
      ? `group or others may write it (mode ${(mode & 0o777).toString(8).padStart(4, "0")})`
      : undefined;
  }

  map(request: PlatformMapRequest): PlatformMapping {
    return mapPosix(this.#libc, request);
  }

  unmap(address: bigint, length: number, label: string | null): MmapError | undefined {
    return this.#libc.munmap(address, length) === 0 ? undefined : lastError(this.#libc, "munmap", label);
  }

  unmapTail(address: bigint, length: number, label: string | null): MmapError | undefined {
    return this.unmap(address, length, label);
  }

  overlay(address: bigint, length: number, label: string | null): MmapError | undefined {
    const { PROT_READ, PROT_WRITE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = this.#libc.constants;
    const flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
    const overlaid = this.#libc.mmap(address, length, PROT_READ | PROT_WRITE, flags, -1, 0);
    return overlaid !== MAP_FAILED ? undefined : lastError(this.#libc, "mmap", label);
  }

  flush(address: bigint, length: number, async: boolean, label: string | null): void {
    const { MS_SYNC, MS_ASYNC } = this.#libc.constants;
    if (this.#libc.msync(address, length, async ? MS_ASYNC : MS_SYNC) !== 0) throw lastError(this.#libc, "msync", label);
  }

  lock(address: bigint, length: number, label: string | null): void {
    if (this.#libc.mlock(address, length) !== 0) throw lastError(this.#libc, "mlock", label);
  }

  unlock(address: bigint, length: number, label: string | null): void {
    if (this.#libc.munlock(address, length) !== 0) throw lastError(this.#libc, "munlock", label);
  }

  protect(address: bigint, length: number, access: "read" | "write", label: string | null): void {
    const { PROT_READ, PROT_WRITE } = this.#libc.constants;
    const prot = access === "read" ? PROT_READ : PROT_READ | PROT_WRITE;
    if (this.#libc.mprotect(address, length, prot) !== 0) throw lastError(this.#libc, "mprotect", label);
  }

  advise(address: bigint, length: number, advice: AdviceName, label: string | null): void {
    const number = this.#libc.constants.advice[advice];
    if (number === undefined) {
      throw new MmapError(`EINVAL: madvise "${advice}" is not available on this platform`, {
        code: "EINVAL", errno: errnoNumber(this.#libc, "EINVAL"), syscall: "madvise", path: label,
      });
    }
    if (this.#libc.madvise(address, length, number) !== 0) throw lastError(this.#libc, "madvise", label);
  }

  adviceKnown(advice: AdviceName): boolean {
    return this.#libc.constants.advice[advice] !== undefined;
  }

  supportsAdvice(advice: AdviceName): boolean {
    return probeAdvice(this.#libc, advice);
  }

  prefetch(address: bigint, length: number): void {
    prefault(this.#libc, address, length);
  }

  resident(address: bigint, length: number, label: string | null): { pages: number; resident: number } {
    return residentPages(this.#libc, address, length, label);
  }

  openRoot(path: string): DirectoryRoot {
    return PosixRoot.open(path);
  }

  unconfinedRoot(): DirectoryRoot {
    return PosixRoot.unconfined();
  }

  processExists(id: number): boolean {
    const libc = this.#libc;
    return !(libc.kill(id, 0) !== 0 && libc.errno === libc.constants.futex?.ESRCH);
  }

  error(code: string, syscall: string, label: string | null): MmapError {
    return errnoError(errnoNumber(this.#libc, code), this.#libc.constants.errnoNames, syscall, label);
  }
}

/**
 * `open` flags for `request`, with `O_NOFOLLOW` when `noFollow`.
 *
 * @example
 * ```ts
 * import { libc } from "../../ffi/mod.ts";
 * const flags = openFlags(libc(), { write: false }, true);
 * console.log((flags & libc().constants.O_NOFOLLOW) !== 0); // true
 * ```
 */
export function openFlags(libc: Libc, request: OpenFileRequest, noFollow: boolean): number {
  const c = libc.constants;
  // O_NONBLOCK keeps a FIFO someone planted from hanging the open (the
  // caller's type check then refuses it); on a regular file it changes
  // nothing memmapfs does, so it stays set (no variadic fcntl to clear it).
  let flags = (request.write ? c.O_RDWR : c.O_RDONLY) | c.O_CLOEXEC | c.O_NONBLOCK | c.O_NOCTTY;
  if (noFollow) flags |= c.O_NOFOLLOW;
  if (request.create) flags |= c.O_CREAT | c.O_EXCL;
  return flags;
}
