/**
 * The Windows platform: {@linkcode Platform} over kernel32 (memmap2's
 * `windows.rs`). A {@linkcode FileHandle} is the value of the `HANDLE`
 * itself (Windows keeps handle values within 32 bits so that 32- and 64-bit
 * processes can share them), so it means the same thing in every worker of
 * the process.
 *
 * What differs from POSIX, on purpose:
 * - mapping offsets are aligned to the 64 KiB allocation granularity, not the
 *   page (`granularity`); any byte offset still works for the caller;
 * - a file cannot be cut or grown while a view of it is open (error 1224,
 *   `EBUSY`): callers unmap, resize, map again (`remap`, `unmapTail` and
 *   `overlay` are absent);
 * - `flush` (`FlushViewOfFile`) only starts the write-back; durability needs
 *   `flushFile` (`FlushFileBuffers`) after it (`flushNeedsFileFlush`);
 * - a removed file that is still open stays until its last handle closes,
 *   and named shared memory lives while any handle or view of it does (no
 *   `unlinkSharedMemory`);
 * - the exclusive lock (`tryLockFile`) is a `LockFileEx` on one byte far past
 *   any data: Windows byte-range locks are mandatory, and locking the data
 *   would make other processes' reads fail instead of just their lock.
 *
 * @module
 */

import type { MmapError } from "../../errors.ts";
import { INVALID_HANDLE_VALUE } from "../../ffi/constants.ts";
import type { Kernel32, WindowsFileInformation } from "../../ffi/kernel32.ts";
import { kernel32 } from "../../ffi/mod.ts";
import type {
  AdviceName,
  DirectoryRoot,
  FileHandle,
  FileKind,
  OpenedSharedMemory,
  OpenFileRequest,
  Platform,
  PlatformMapping,
  PlatformMapRequest,
  PlatformStat,
  RuntimeName,
  SharedMemoryRequest,
} from "../platform.ts";
import { deleteFile } from "./windows_delete.ts";
import { lastWindowsError, posixNamedError } from "./windows_errors.ts";
import { isSection, mapWindows, prefetch, sections, sectionSize } from "./windows_mapping.ts";
import { isDevicePath, kernelPath, sharedMemoryObjectName } from "./windows_paths.ts";
import { WindowsRoot } from "./windows_root.ts";

/** The byte `tryLockFile` locks: past any file (2^53 − 2), so no read or write of data is ever blocked. */
const LOCK_BYTE = Number.MAX_SAFE_INTEGER - 1;
/** The advice Windows takes (see `advise`). */
const WINDOWS_ADVICE: ReadonlySet<AdviceName> = new Set([
  "normal", "random", "sequential", "willneed", "populate-read", "populate-write", "dontneed",
]);

/**
 * {@linkcode Platform} over one {@linkcode Kernel32}.
 *
 * @example
 * ```ts ignore
 * import { kernel32 } from "../../ffi/mod.ts";
 * const os = new WindowsPlatform(kernel32());
 * console.log(os.granularity); // 65536
 * ```
 */
export class WindowsPlatform implements Platform {
  readonly #k: Kernel32;
  readonly runtime: RuntimeName;
  readonly label = "windows-x64";
  readonly displayName = "Windows (windows-x64)";
  readonly pageSize: number;
  readonly granularity: number;
  readonly maxArrayBufferLength: number;
  readonly flushNeedsFileFlush = true;
  /** A file's size cannot change under a view of it (error 1224): callers let views go first. */
  readonly viewsPinFileSize = true;
  /** Object names are at most MAX_PATH (260) characters with their `Local\` and NUL. */
  readonly shmNameMaxBytes = 250;
  readonly randomNamePrefix = "wnsm_";
  readonly sharedMemorySizeFixedOnce = true;
  readonly arrayBuffer: (address: bigint, length: number) => ArrayBuffer;
  readonly resident?: Platform["resident"];

  constructor(k: Kernel32) {
    this.#k = k;
    this.runtime = k.runtime;
    const info = k.systemInfo();
    this.pageSize = info.pageSize;
    this.granularity = info.allocationGranularity;
    this.maxArrayBufferLength = k.maxArrayBufferLength;
    this.arrayBuffer = k.arrayBuffer;
    const { residentPages } = k;
    if (residentPages) {
      this.resident = (address, length, label) => {
        const pages = Math.ceil(length / this.pageSize);
        const resident = residentPages(address, pages, this.pageSize);
        if (resident < 0) throw lastWindowsError(k, "QueryWorkingSetEx", label);
        return { pages, resident };
      };
    }
  }

  /** The kernel32 binding this platform calls (for the other files of `src/os/windows`). */
  get kernel32(): Kernel32 {
    return this.#k;
  }

  checkPathAccess(path: string, access: "read" | "write", syscall = "CreateFileW"): string {
    const permits = this.#k.permits;
    if (permits && !permits(path, access)) {
      throw posixNamedError(this.#k.constants.errorNames, "EACCES", syscall, path);
    }
    return path;
  }

  checkOpenedFile(file: FileHandle, syscall = "CreateFileW"): void {
    const permits = this.#k.permits;
    if (!permits) return;
    // The file the handle really is, wherever links led: the runtime judges that path too.
    const real = this.#k.finalPath(BigInt(file));
    if (real !== null && !permits(real.replace(/^\\\\\?\\/, ""), "read")) {
      throw posixNamedError(this.#k.constants.errorNames, "EACCES", syscall, real);
    }
  }

  openFile(path: string, request: OpenFileRequest): FileHandle {
    const k = this.#k;
    const c = k.constants;
    // CON, NUL, COM1, \\.\…: devices, which a file API must never open by accident.
    if (isDevicePath(path)) throw posixNamedError(c.errorNames, "ENODEV", "CreateFileW", path);
    const target = kernelPath(path);
    const access = c.GENERIC_READ | (request.write ? c.GENERIC_WRITE : 0);
    const disposition = request.create === "exclusive" ? c.CREATE_NEW : c.OPEN_EXISTING;
    // BACKUP_SEMANTICS lets a directory open (the caller refuses it by kind);
    // OPEN_REPARSE_POINT opens a final link itself, refused below as O_NOFOLLOW would.
    const flags = c.FILE_ATTRIBUTE_NORMAL | c.FILE_FLAG_BACKUP_SEMANTICS | c.FILE_FLAG_OPEN_REPARSE_POINT;
    const handle = k.createFile(target, access, shareAll(c), disposition, flags);
    if (handle === INVALID_HANDLE_VALUE) {
      const error = k.lastError;
      const attributes = c.errorNames[error] === "EACCES" ? k.pathAttributes(target) : null;
      if (attributes && (attributes.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) {
        throw posixNamedError(c.errorNames, "EISDIR", "CreateFileW", path);
      }
      throw lastWindowsError(k, "CreateFileW", path, error);
    }
    const info = k.fileInformation(handle);
    const refused = !info ? null
      : (info.attributes & c.FILE_ATTRIBUTE_REPARSE_POINT) !== 0 ? "ELOOP"
      // Windows opens a directory for writing; POSIX says EISDIR, and so does memmapfs.
      : request.write && (info.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0 ? "EISDIR"
      : null;
    if (refused) {
      k.closeHandle(handle);
      throw posixNamedError(c.errorNames, refused, "CreateFileW", path);
    }
    return Number(handle);
  }

  stat(file: FileHandle, label: string | null): PlatformStat {
    const k = this.#k;
    const c = k.constants;
    if (isSection(k, file)) {
      const size = sectionSize(k, file, label);
      return { kind: "file", size, mode: c.S_IFREG | 0o666, uid: 0, gid: 0, dev: 0n, ino: BigInt(file), atimeNs: 0n, mtimeNs: 0n };
    }
    const handle = BigInt(file);
    const type = k.fileType(handle);
    if (type === c.FILE_TYPE_CHAR || type === c.FILE_TYPE_PIPE) {
      const kind: FileKind = type === c.FILE_TYPE_CHAR ? "character-device" : "fifo";
      const mode = (type === c.FILE_TYPE_CHAR ? c.S_IFCHR : c.S_IFIFO) | 0o666;
      return { kind, size: 0, mode, uid: 0, gid: 0, dev: 0n, ino: 0n, atimeNs: 0n, mtimeNs: 0n };
    }
    const info = k.fileInformation(handle);
    if (!info) throw lastWindowsError(k, "GetFileInformationByHandle", label);
    return statOf(info, c);
  }

  statPath(path: string): PlatformStat | null {
    const k = this.#k;
    const c = k.constants;
    if (isDevicePath(path)) return null;
    const handle = k.createFile(kernelPath(path), c.FILE_READ_ATTRIBUTES, shareAll(c), c.OPEN_EXISTING, c.FILE_FLAG_BACKUP_SEMANTICS);
    if (handle === INVALID_HANDLE_VALUE) return null;
    try {
      const info = k.fileInformation(handle);
      return info && statOf(info, c);
    } finally {
      k.closeHandle(handle);
    }
  }

  readAt(file: FileHandle, buffer: Uint8Array, offset: number, label: string | null): number {
    const read = this.#k.readAt(BigInt(file), buffer, offset);
    if (read < 0) throw lastWindowsError(this.#k, "ReadFile", label);
    return read;
  }

  setSize(file: FileHandle, newSize: number, _oldSize: number, label: string | null): void {
    // SetEndOfFile allocates the clusters of a growing (non-sparse) file on
    // NTFS, so a full disk fails here, as posix_fallocate would; a failure
    // leaves the file at its old size.
    this.truncateFile(file, newSize, label);
  }

  truncateFile(file: FileHandle, size: number, label: string | null): void {
    if (!this.#k.setFileSize(BigInt(file), size)) throw lastWindowsError(this.#k, "SetEndOfFile", label);
  }

  flushFile(file: FileHandle, label: string | null): void {
    // Named shared memory has no file behind it: nothing to make durable.
    if (isSection(this.#k, file)) return;
    if (!this.#k.flushFileBuffers(BigInt(file))) throw lastWindowsError(this.#k, "FlushFileBuffers", label);
  }

  syncParentDirectory(_path: string): void {
    // NTFS journals directory entries itself; Windows has no fsync of a directory.
  }

  closeFile(file: FileHandle, label: string | null): MmapError | undefined {
    sections.delete(file);
    return this.#k.closeHandle(BigInt(file)) ? undefined : lastWindowsError(this.#k, "CloseHandle", label);
  }

  removeFile(path: string): MmapError | undefined {
    return deleteFile(this.#k, kernelPath(path)) ? undefined : lastWindowsError(this.#k, "DeleteFileW", path);
  }

  tryLockFile(file: FileHandle, label: string | null): boolean {
    const k = this.#k;
    const flags = k.constants.LOCKFILE_EXCLUSIVE_LOCK | k.constants.LOCKFILE_FAIL_IMMEDIATELY;
    if (k.lockFile(BigInt(file), flags, LOCK_BYTE, 1)) return true;
    // Another handle holds the lock byte (ERROR_LOCK_VIOLATION; a sharing violation on some file systems).
    const { ERROR_LOCK_VIOLATION, ERROR_SHARING_VIOLATION } = k.constants;
    if (k.lastError === ERROR_LOCK_VIOLATION || k.lastError === ERROR_SHARING_VIOLATION) return false;
    throw lastWindowsError(k, "LockFileEx", label);
  }

  reopenInProcess(file: FileHandle, _write: boolean): FileHandle | null {
    const copy = this.#k.duplicateHandle(BigInt(file), false);
    if (copy === null) return null;
    const section = sections.get(file);
    if (section) sections.set(Number(copy), { ...section });
    return Number(copy);
  }

  openSharedMemory(name: string, request: SharedMemoryRequest): OpenedSharedMemory {
    const k = this.#k;
    const c = k.constants;
    const objectName = sharedMemoryObjectName(name);
    if (request.create) {
      const size = request.size ?? 0;
      // Windows fixes an object's size when it is made: it cannot be created empty and grown later.
      if (size <= 0) throw posixNamedError(c.errorNames, "EINVAL", "CreateFileMappingW", name);
      const object = k.createFileMapping(INVALID_HANDLE_VALUE, c.PAGE_READWRITE, size, objectName);
      if (object === 0n) throw lastWindowsError(k, "CreateFileMappingW", name);
      if (k.lastError !== c.ERROR_ALREADY_EXISTS) {
        sections.set(Number(object), { size });
        return { file: Number(object), created: true };
      }
      k.closeHandle(object);
      if (request.exclusive) throw posixNamedError(c.errorNames, "EEXIST", "CreateFileMappingW", name);
    }
    const access = c.FILE_MAP_READ | (request.readonly ? 0 : c.FILE_MAP_WRITE);
    const object = k.openFileMapping(access, objectName);
    if (object === 0n) throw lastWindowsError(k, "OpenFileMappingW", name);
    const file = Number(object);
    try {
      sections.set(file, { size: sectionSize(k, file, name) });
    } catch (error) {
      k.closeHandle(object);
      throw error;
    }
    return { file, created: false };
  }

  map(request: PlatformMapRequest): PlatformMapping {
    return mapWindows(this.#k, this.granularity, request);
  }

  unmap(address: bigint, _length: number, label: string | null): MmapError | undefined {
    return this.#k.unmapView(address) ? undefined : lastWindowsError(this.#k, "UnmapViewOfFile", label);
  }

  flush(address: bigint, length: number, _async: boolean, label: string | null): void {
    // FlushViewOfFile starts writing the dirty pages and returns; both modes
    // end here, and a durable sync adds FlushFileBuffers (flushNeedsFileFlush).
    if (!this.#k.flushView(address, length)) throw lastWindowsError(this.#k, "FlushViewOfFile", label);
  }

  lock(address: bigint, length: number, label: string | null): void {
    if (!this.#k.virtualLock(address, length)) throw lastWindowsError(this.#k, "VirtualLock", label);
  }

  unlock(address: bigint, length: number, label: string | null): void {
    // Pages that were not locked: munlock calls that success.
    if (this.#k.virtualUnlock(address, length) || this.#k.lastError === this.#k.constants.ERROR_NOT_LOCKED) return;
    throw lastWindowsError(this.#k, "VirtualUnlock", label);
  }

  protect(address: bigint, length: number, access: "read" | "write", label: string | null): void {
    const k = this.#k;
    const c = k.constants;
    if (access === "read") {
      if (k.virtualProtect(address, length, c.PAGE_READONLY) < 0) throw lastWindowsError(k, "VirtualProtect", label);
      return;
    }
    // A copy-on-write view takes PAGE_WRITECOPY where a shared one takes PAGE_READWRITE.
    if (k.virtualProtect(address, length, c.PAGE_READWRITE) >= 0) return;
    if (k.virtualProtect(address, length, c.PAGE_WRITECOPY) < 0) throw lastWindowsError(k, "VirtualProtect", label);
  }

  /**
   * Windows' advice: `willneed` and `populate-*` prefetch the pages,
   * `dontneed` drops them from the working set (`VirtualUnlock` of pages
   * not locked does exactly that; clean file pages stay in the cache).
   * `normal`, `random` and `sequential` are taken and change nothing: Windows
   * has no read-ahead setting per view (its cache manager watches the access
   * pattern itself), and the advice is a hint a kernel may ignore anyway, so
   * portable programs that give it keep working. The rest (`free`, `remove`,
   * `hugepage`, `dontfork`, `mergeable`, …: Linux's own) is `EINVAL`.
   */
  advise(address: bigint, length: number, advice: AdviceName, label: string | null): void {
    const k = this.#k;
    if (!WINDOWS_ADVICE.has(advice)) {
      throw posixNamedError(k.constants.errorNames, "EINVAL", `advise "${advice}"`, label);
    }
    if (advice === "dontneed") {
      if (!k.virtualUnlock(address, length) && k.lastError !== k.constants.ERROR_NOT_LOCKED) {
        throw lastWindowsError(k, "VirtualUnlock", label);
      }
    } else if (advice === "willneed" || advice.startsWith("populate")) {
      prefetch(k, address, length);
    }
  }

  adviceKnown(advice: AdviceName): boolean {
    return WINDOWS_ADVICE.has(advice);
  }

  supportsAdvice(advice: AdviceName): boolean {
    return WINDOWS_ADVICE.has(advice);
  }

  prefetch(address: bigint, length: number): void {
    prefetch(this.#k, address, length);
  }

  openRoot(path: string): DirectoryRoot {
    return WindowsRoot.open(this, path);
  }

  unconfinedRoot(): DirectoryRoot {
    return WindowsRoot.unconfined(this);
  }

  processExists(id: number): boolean {
    return this.#k.processRunning(id);
  }

  error(code: string, syscall: string, label: string | null): MmapError {
    return posixNamedError(this.#k.constants.errorNames, code, syscall, label);
  }
}

/** Other processes may read, write, rename and delete what memmapfs opens, as on POSIX. */
function shareAll(c: Kernel32["constants"]): number {
  return c.FILE_SHARE_READ | c.FILE_SHARE_WRITE | c.FILE_SHARE_DELETE;
}

/** A {@linkcode PlatformStat} from what `GetFileInformationByHandle` said. */
function statOf(info: WindowsFileInformation, c: Kernel32["constants"]): PlatformStat {
  const directory = (info.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0;
  const link = (info.attributes & c.FILE_ATTRIBUTE_REPARSE_POINT) !== 0;
  const kind: FileKind = link ? "symlink" : directory ? "directory" : "file";
  const permissions = (info.attributes & c.FILE_ATTRIBUTE_READONLY) !== 0 ? 0o444 : 0o666;
  return {
    kind,
    size: directory ? 0 : info.size,
    mode: (directory ? c.S_IFDIR : c.S_IFREG) | permissions,
    uid: 0,
    gid: 0,
    dev: BigInt(info.volumeSerialNumber),
    ino: info.fileIndex,
    atimeNs: info.lastAccessTimeNs,
    mtimeNs: info.lastWriteTimeNs,
  };
}

let shared: WindowsPlatform | undefined;

/**
 * The Windows platform of this runtime, made on first use over
 * `kernel32()`: what `platform()` in `src/os/mod.ts` returns on Windows.
 *
 * @example
 * ```ts ignore
 * import { windowsPlatform } from "./windows_platform.ts";
 * console.log(windowsPlatform().granularity); // 65536
 * ```
 *
 * @throws {UnsupportedRuntimeError} Off Windows, or when kernel32 cannot be bound.
 */
export function windowsPlatform(): WindowsPlatform {
  shared ??= new WindowsPlatform(kernel32());
  return shared;
}
