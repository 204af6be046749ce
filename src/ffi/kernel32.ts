/**
 * The `Kernel32` interface: what memmapfs calls on Windows, as the `Libc`
 * interface is on POSIX. {@linkcode bindKernel32} builds it over one runtime's
 * binding (kernel32_bun.ts, kernel32_deno.ts, kernel32_node.ts): paths become
 * NUL-terminated UTF-16, structs are filled and read here, and the thread's
 * last error is read with `GetLastError` in the same synchronous step as the
 * call that failed, before anything else can overwrite it.
 *
 * Conventions: a call that fails returns `false`, `0n`, `null` or
 * `INVALID_HANDLE_VALUE` (as its C function does) and leaves the
 * error in {@linkcode Kernel32.lastError}; {@linkcode windowsError} turns it
 * into an `MmapError` with the POSIX name. Handles and addresses are `bigint`.
 *
 * @module
 */

import { errnoError, type MmapError } from "../errors.ts";
import type { WindowsConstants } from "./constants.ts";
import { BoundKernel32 } from "./kernel32_binding.ts";
import type { Kernel32Native } from "./kernel32_symbols.ts";

export { fileTimeNs, readWideString, wideString } from "./kernel32_marshal.ts";

/** What `GetFileInformationByHandle` reports (BY_HANDLE_FILE_INFORMATION), times in ns since 1970. */
export interface WindowsFileInformation {
  readonly attributes: number;
  readonly creationTimeNs: bigint;
  readonly lastAccessTimeNs: bigint;
  readonly lastWriteTimeNs: bigint;
  readonly volumeSerialNumber: number;
  readonly size: number;
  readonly links: number;
  /** The file's index on its volume: with the serial number, the file's identity. */
  readonly fileIndex: bigint;
}

/** What `GetFileInformationByHandleEx(FileStandardInfo)` reports (FILE_STANDARD_INFO). */
export interface WindowsStandardInformation {
  readonly allocationSize: number;
  readonly endOfFile: number;
  readonly links: number;
  /** Deleted, and gone once the last handle closes (Windows' unlinked-but-open). */
  readonly deletePending: boolean;
  readonly directory: boolean;
}

/** What `GetFileAttributesExW` reports about a path (WIN32_FILE_ATTRIBUTE_DATA). */
export interface WindowsPathAttributes {
  readonly attributes: number;
  readonly lastAccessTimeNs: bigint;
  readonly lastWriteTimeNs: bigint;
  readonly size: number;
}

/** One entry of a directory listed with `FindFirstFileW`/`FindNextFileW`. */
export interface WindowsDirectoryEntry {
  readonly name: string;
  readonly attributes: number;
}

/** The fields of `GetSystemInfo` memmapfs uses (SYSTEM_INFO). */
export interface WindowsSystemInfo {
  readonly pageSize: number;
  /** Mapping offsets and `VirtualAlloc` addresses are multiples of this (64 KiB). */
  readonly allocationGranularity: number;
  readonly processors: number;
}

/** The kernel32 calls memmapfs makes, bound through one runtime's FFI. */
export interface Kernel32 {
  readonly runtime: "deno" | "bun" | "node";
  readonly constants: WindowsConstants;
  /** The Windows error code of the last call that failed (`GetLastError` right after it). */
  readonly lastError: number;
  /** The largest `ArrayBuffer` this runtime can create over foreign memory. */
  readonly maxArrayBufferLength: number;

  /** `CreateFileW`; {@linkcode INVALID_HANDLE_VALUE} on failure. No security attributes, no template. */
  createFile(path: string, access: number, share: number, disposition: number, flags: number): bigint;
  /** `CloseHandle` */
  closeHandle(handle: bigint): boolean;
  /** `DuplicateHandle` within this process, same access; `null` on failure. */
  duplicateHandle(handle: bigint, inherit: boolean): bigint | null;
  /** `GetFileSizeEx`; -1 on failure. */
  fileSize(handle: bigint): number;
  /** `GetFileInformationByHandle`; `null` on failure. */
  fileInformation(handle: bigint): WindowsFileInformation | null;
  /** `GetFileInformationByHandleEx(FileStandardInfo)`; `null` on failure. */
  standardInformation(handle: bigint): WindowsStandardInformation | null;
  /** `GetFileAttributesExW(GetFileExInfoStandard)`; `null` on failure. */
  pathAttributes(path: string): WindowsPathAttributes | null;
  /** `GetFinalPathNameByHandleW(VOLUME_NAME_DOS)`: the path the handle really opened; `null` on failure. */
  finalPath(handle: bigint): string | null;
  /** `GetFileType`: FILE_TYPE_DISK (1), FILE_TYPE_CHAR (2), FILE_TYPE_PIPE (3); 0 when unknown or on failure. */
  fileType(handle: bigint): number;
  /** `SetFilePointerEx(FILE_BEGIN)` then `SetEndOfFile`: the file is `size` bytes. */
  setFileSize(handle: bigint, size: number): boolean;
  /** `ReadFile` at `offset` (an OVERLAPPED position, so no shared file pointer moves); -1 on failure. */
  readAt(handle: bigint, buffer: Uint8Array, offset: number): number;
  /** `WriteFile` at `offset`; -1 on failure. */
  writeAt(handle: bigint, buffer: Uint8Array, offset: number): number;
  /** `FlushFileBuffers` */
  flushFileBuffers(handle: bigint): boolean;
  /** `LockFileEx` on `length` bytes from `offset`. */
  lockFile(handle: bigint, flags: number, offset: number, length: number): boolean;
  /** `UnlockFileEx` */
  unlockFile(handle: bigint, offset: number, length: number): boolean;
  /**
   * `SetFileInformationByHandle(FileDispositionInfoEx)` with `flags`
   * (FILE_DISPOSITION_FLAG_*): with DELETE | POSIX_SEMANTICS the name goes at
   * once while open handles keep the file (Windows 10 1709+, NTFS). The
   * handle needs DELETE access.
   */
  setDisposition(handle: bigint, flags: number): boolean;
  /** `SetFileAttributesW` */
  setFileAttributes(path: string, attributes: number): boolean;
  /** `SetFileTime` of the last access and last write, in nanoseconds since 1970 (creation time kept). */
  setFileTimes(handle: bigint, accessNs: bigint, writeNs: bigint): boolean;
  /** `DeleteFileW` */
  deleteFile(path: string): boolean;
  /** `MoveFileExW` */
  moveFile(from: string, to: string, flags: number): boolean;
  /** `CreateDirectoryW` with default security. */
  createDirectory(path: string): boolean;
  /** `RemoveDirectoryW` */
  removeDirectory(path: string): boolean;
  /** `FindFirstFileW(directory\*)` … `FindClose`: the entries, with `.` and `..`; `null` on failure. */
  listDirectory(directory: string): WindowsDirectoryEntry[] | null;
  /**
   * `CreateFileMappingW` of `file` (or of the paging file when `file` is
   * {@linkcode INVALID_HANDLE_VALUE}) at most `maximumSize` bytes (0: the
   * file's size), named `name` or anonymous; `0n` on failure. When the named
   * object exists already its handle comes back and {@linkcode Kernel32.lastError}
   * is ERROR_ALREADY_EXISTS (183).
   */
  createFileMapping(file: bigint, protect: number, maximumSize: number, name: string | null): bigint;
  /** `OpenFileMappingW`; `0n` on failure. */
  openFileMapping(access: number, name: string): bigint;
  /** `MapViewOfFileEx` at any address; `0n` on failure. `offset` must be a multiple of the allocation granularity. */
  mapView(mapping: bigint, access: number, offset: number, length: number): bigint;
  /** `UnmapViewOfFile` */
  unmapView(address: bigint): boolean;
  /** `FlushViewOfFile`: starts writing the dirty pages; `FlushFileBuffers` makes them durable. */
  flushView(address: bigint, length: number): boolean;
  /** `VirtualLock` */
  virtualLock(address: bigint, length: number): boolean;
  /** `VirtualUnlock` */
  virtualUnlock(address: bigint, length: number): boolean;
  /** `VirtualProtect`: the old protection, or -1 on failure. */
  virtualProtect(address: bigint, length: number, protect: number): number;
  /**
   * `VirtualQuery`: the region of pages with the same state from `address`
   * (MEMORY_BASIC_INFORMATION's RegionSize and AllocationBase); `null` on failure.
   */
  virtualQuery(address: bigint): { allocationBase: bigint; regionSize: number } | null;
  /** `VirtualAlloc`; `0n` on failure. */
  virtualAlloc(address: bigint, length: number, type: number, protect: number): bigint;
  /** `VirtualFree` */
  virtualFree(address: bigint, length: number, type: number): boolean;
  /** `PrefetchVirtualMemory` of this process; absent before Windows 8 (and on Wines without it). */
  readonly prefetch?: (address: bigint, length: number) => boolean;
  /**
   * `QueryWorkingSetEx` of this process for each page of the range: how many
   * are resident (the Valid bit); -1 on failure. Absent where kernel32 lacks
   * `K32QueryWorkingSetEx`.
   */
  readonly residentPages?: (address: bigint, pages: number, pageSize: number) => number;
  /** `GetSystemInfo` */
  systemInfo(): WindowsSystemInfo;
  /** `GetCurrentProcessId` */
  currentProcessId(): number;
  /** `GetCurrentThreadId` */
  currentThreadId(): number;
  /** Whether a process with this id is running now (`OpenProcess` + `GetExitCodeProcess`). */
  processRunning(id: number): boolean;
  /** A zero-copy `ArrayBuffer` over `length` bytes at `address` (the runtime's own function). */
  arrayBuffer(address: bigint, length: number): ArrayBuffer;
  /**
   * Whether the runtime's permission model allows `access` to the absolute
   * `path`; absent where there is none (Bun).
   */
  readonly permits?: (path: string, access: "read" | "write") => boolean;
}

/**
 * The {@linkcode MmapError} for a failed kernel32 call: `code` the POSIX name
 * of the Windows error (`E<number>` for one the table lacks), `errno` the
 * Windows error code itself.
 *
 * @example
 * ```ts
 * import { windowsError } from "./kernel32.ts";
 * import { WINDOWS_X64 } from "./constants.ts";
 * const error = windowsError(WINDOWS_X64, 2, "CreateFileW", "C:\\missing");
 * console.log(error.code, error.errno); // "ENOENT" 2
 * ```
 */
export function windowsError(
  constants: WindowsConstants,
  error: number,
  syscall: string,
  path: string | null = null,
): MmapError {
  return errnoError(error, constants.errorNames, syscall, path);
}

/** Wraps a runtime's {@linkcode Kernel32Native} into the {@linkcode Kernel32} the Windows platform uses. */
export function bindKernel32(native: Kernel32Native, constants: WindowsConstants): Kernel32 {
  return new BoundKernel32(native, constants);
}
