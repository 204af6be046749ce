/**
 * The `Kernel32` interface: what memmapfs calls on Windows, as the `Libc`
 * interface is on POSIX. {@linkcode bindKernel32} builds it over one runtime's
 * binding (kernel32_bun.ts, kernel32_deno.ts, kernel32_node.ts): paths become
 * NUL-terminated UTF-16, structs are filled and read here, and the thread's
 * last error is read with `GetLastError` in the same synchronous step as the
 * call that failed, before anything else can overwrite it.
 *
 * Conventions: a call that fails returns `false`, `0n`, `null` or
 * {@linkcode INVALID_HANDLE_VALUE} (as its C function does) and leaves the
 * error in {@linkcode Kernel32.lastError}; {@linkcode windowsError} turns it
 * into an `MmapError` with the POSIX name. Handles and addresses are `bigint`.
 *
 * @module
 */

import { errnoError, type MmapError } from "../errors.ts";
import { CURRENT_PROCESS, INVALID_HANDLE_VALUE, type WindowsConstants } from "./constants.ts";
import type { Kernel32Function, Kernel32Native } from "./kernel32_symbols.ts";

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
 * `text` as the NUL-terminated UTF-16LE a `W` function reads. Every code unit
 * passes as it is: Windows names are sequences of 16-bit units, unpaired
 * surrogates included.
 *
 * @throws {TypeError} When `text` holds a NUL: Windows would stop reading
 *   there and act on a different path or name.
 *
 * @example
 * ```ts
 * import { wideString } from "./kernel32.ts";
 * console.log(wideString("C:").length); // 6: 'C', ':' and the NUL, two bytes each
 * ```
 */
export function wideString(text: string): Uint8Array {
  if (text.includes("\0")) throw new TypeError("A path or name passed to kernel32 must not contain NUL characters");
  const bytes = new Uint8Array((text.length + 1) * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i), true);
  return bytes;
}

/**
 * The UTF-16LE text in `bytes` from `offset` up to the first NUL (or
 * `maxUnits` code units): how a `W` function's output is read back.
 *
 * @example
 * ```ts
 * import { readWideString, wideString } from "./kernel32.ts";
 * console.log(readWideString(wideString("Z:\\tmp"))); // "Z:\tmp"
 * ```
 */
export function readWideString(bytes: Uint8Array, offset = 0, maxUnits = (bytes.length - offset) >> 1): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const units: number[] = [];
  for (let i = 0; i < maxUnits; i++) {
    const unit = view.getUint16(offset + i * 2, true);
    if (unit === 0) break;
    units.push(unit);
  }
  let text = "";
  // In slices: String.fromCharCode takes its units as arguments.
  for (let at = 0; at < units.length; at += 4096) text += String.fromCharCode(...units.slice(at, at + 4096));
  return text;
}

/** 100-ns intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/**
 * A FILETIME (two little-endian DWORDs: low, high; 100 ns since 1601) at
 * `offset`, as nanoseconds since 1970.
 *
 * @example
 * ```ts
 * import { fileTimeNs } from "./kernel32.ts";
 * const bytes = new Uint8Array(8);
 * new DataView(bytes.buffer).setBigUint64(0, 116_444_736_000_000_000n, true);
 * console.log(fileTimeNs(new DataView(bytes.buffer), 0)); // 0n
 * ```
 */
export function fileTimeNs(view: DataView, offset: number): bigint {
  const ticks = (BigInt(view.getUint32(offset + 4, true)) << 32n) | BigInt(view.getUint32(offset, true));
  return (ticks - FILETIME_UNIX_EPOCH) * 100n;
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

// Struct sizes (x64, from the SDK headers).
const BY_HANDLE_FILE_INFORMATION_SIZE = 52;
const FILE_STANDARD_INFO_SIZE = 24;
const WIN32_FILE_ATTRIBUTE_DATA_SIZE = 36;
const WIN32_FIND_DATAW_SIZE = 592;
const WIN32_FIND_DATAW_NAME = 44;
const SYSTEM_INFO_SIZE = 48;
const OVERLAPPED_SIZE = 32;
const MEMORY_BASIC_INFORMATION_SIZE = 48;
/** PROCESS_QUERY_LIMITED_INFORMATION (winnt.h): enough to read an exit code. */
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
/** GetExitCodeProcess's code of a process still running. */
const STILL_ACTIVE = 259;
/** ERROR_MORE_DATA-free upper bound of a long path (\\?\ paths go to 32,767 units). */
const MAX_PATH_UNITS = 32_768;
/** ERROR_NO_MORE_FILES (winerror.h): the end of a directory listing. */
const ERROR_NO_MORE_FILES = 18;

class BoundKernel32 implements Kernel32 {
  readonly runtime: Kernel32["runtime"];
  readonly constants: WindowsConstants;
  readonly maxArrayBufferLength: number;
  readonly arrayBuffer: Kernel32["arrayBuffer"];
  readonly prefetch?: Kernel32["prefetch"];
  readonly residentPages?: Kernel32["residentPages"];
  readonly permits?: Kernel32["permits"];
  lastError = 0;
  #calls: Kernel32Native["calls"];
  #getLastError: Kernel32Function;
  #word = new Uint8Array(8);
  #wordView = new DataView(this.#word.buffer);

  constructor(native: Kernel32Native, constants: WindowsConstants) {
    this.runtime = native.runtime;
    this.constants = constants;
    this.maxArrayBufferLength = native.maxArrayBufferLength;
    this.arrayBuffer = native.arrayBuffer;
    this.#calls = native.calls;
    this.#getLastError = native.calls.GetLastError;
    if (native.permits) this.permits = native.permits;
    const { PrefetchVirtualMemory, K32QueryWorkingSetEx } = native.optional;
    if (PrefetchVirtualMemory) {
      // WIN32_MEMORY_RANGE_ENTRY { PVOID VirtualAddress; SIZE_T NumberOfBytes; }
      const entry = new Uint8Array(16);
      const fields = new DataView(entry.buffer);
      this.prefetch = (address, length) => {
        fields.setBigUint64(0, address, true);
        fields.setBigUint64(8, BigInt(length), true);
        return this.#ok(PrefetchVirtualMemory(CURRENT_PROCESS, 1n, entry, 0));
      };
    }
    if (K32QueryWorkingSetEx) {
      this.residentPages = (address, pages, pageSize) => {
        // PSAPI_WORKING_SET_EX_INFORMATION { PVOID VirtualAddress; ULONG_PTR VirtualAttributes; } per page
        const table = new Uint8Array(pages * 16);
        const fields = new DataView(table.buffer);
        for (let page = 0; page < pages; page++) {
          fields.setBigUint64(page * 16, address + BigInt(page * pageSize), true);
        }
        if (!this.#ok(K32QueryWorkingSetEx(CURRENT_PROCESS, table, table.length))) return -1;
        let resident = 0;
        for (let page = 0; page < pages; page++) {
          if ((fields.getUint32(page * 16 + 8, true) & constants.WORKING_SET_VALID) !== 0) resident++;
        }
        return resident;
      };
    }
  }

  /** `result` of a BOOL function as a boolean, with the error read at once when it is FALSE. */
  #ok(result: unknown): boolean {
    if (result !== 0) return true;
    this.lastError = this.#getLastError() as number;
    return false;
  }

  /** A HANDLE result, with the error read when it is `failed`. */
  #handle(result: unknown, failed: bigint): bigint {
    if (result === failed) this.lastError = this.#getLastError() as number;
    return result as bigint;
  }

  createFile(path: string, access: number, share: number, disposition: number, flags: number): bigint {
    const name = wideString(path);
    return this.#handle(this.#calls.CreateFileW(name, access, share, 0n, disposition, flags, 0n), INVALID_HANDLE_VALUE);
  }

  closeHandle(handle: bigint): boolean {
    return this.#ok(this.#calls.CloseHandle(handle));
  }

  duplicateHandle(handle: bigint, inherit: boolean): bigint | null {
    const target = new Uint8Array(8);
    const ok = this.#ok(this.#calls.DuplicateHandle(
      CURRENT_PROCESS, handle, CURRENT_PROCESS, target, 0, inherit ? 1 : 0, this.constants.DUPLICATE_SAME_ACCESS,
    ));
    return ok ? new DataView(target.buffer).getBigUint64(0, true) : null;
  }

  fileSize(handle: bigint): number {
    if (!this.#ok(this.#calls.GetFileSizeEx(handle, this.#word))) return -1;
    return Number(this.#wordView.getBigInt64(0, true));
  }

  fileInformation(handle: bigint): WindowsFileInformation | null {
    const buffer = new Uint8Array(BY_HANDLE_FILE_INFORMATION_SIZE);
    if (!this.#ok(this.#calls.GetFileInformationByHandle(handle, buffer))) return null;
    const view = new DataView(buffer.buffer);
    const high = (at: number) => BigInt(view.getUint32(at, true)) << 32n;
    return {
      attributes: view.getUint32(0, true),
      creationTimeNs: fileTimeNs(view, 4),
      lastAccessTimeNs: fileTimeNs(view, 12),
      lastWriteTimeNs: fileTimeNs(view, 20),
      volumeSerialNumber: view.getUint32(28, true),
      size: Number(high(32) | BigInt(view.getUint32(36, true))),
      links: view.getUint32(40, true),
      fileIndex: high(44) | BigInt(view.getUint32(48, true)),
    };
  }

  standardInformation(handle: bigint): WindowsStandardInformation | null {
    const buffer = new Uint8Array(FILE_STANDARD_INFO_SIZE);
    const { FileStandardInfo } = this.constants;
    if (!this.#ok(this.#calls.GetFileInformationByHandleEx(handle, FileStandardInfo, buffer, buffer.length))) return null;
    const view = new DataView(buffer.buffer);
    return {
      allocationSize: Number(view.getBigInt64(0, true)),
      endOfFile: Number(view.getBigInt64(8, true)),
      links: view.getUint32(16, true),
      deletePending: buffer[20] !== 0,
      directory: buffer[21] !== 0,
    };
  }

  pathAttributes(path: string): WindowsPathAttributes | null {
    const buffer = new Uint8Array(WIN32_FILE_ATTRIBUTE_DATA_SIZE);
    const name = wideString(path);
    if (!this.#ok(this.#calls.GetFileAttributesExW(name, this.constants.GetFileExInfoStandard, buffer))) return null;
    const view = new DataView(buffer.buffer);
    return {
      attributes: view.getUint32(0, true),
      lastAccessTimeNs: fileTimeNs(view, 12),
      lastWriteTimeNs: fileTimeNs(view, 20),
      size: Number((BigInt(view.getUint32(28, true)) << 32n) | BigInt(view.getUint32(32, true))),
    };
  }

  finalPath(handle: bigint): string | null {
    let units = 512;
    for (;;) {
      const buffer = new Uint8Array(units * 2);
      const length = this.#calls.GetFinalPathNameByHandleW(handle, buffer, units, this.constants.VOLUME_NAME_DOS) as number;
      if (length === 0) {
        this.lastError = this.#getLastError() as number;
        return null;
      }
      // Too small: the length needed (with its NUL) came back instead.
      if (length < units) return readWideString(buffer, 0, length);
      if (units >= MAX_PATH_UNITS) return null;
      units = Math.min(MAX_PATH_UNITS, length + 1);
    }
  }

  fileType(handle: bigint): number {
    const type = this.#calls.GetFileType(handle) as number;
    if (type === 0) this.lastError = this.#getLastError() as number;
    return type;
  }

  setFileSize(handle: bigint, size: number): boolean {
    const { SetFilePointerEx, SetEndOfFile } = this.#calls;
    return this.#ok(SetFilePointerEx(handle, BigInt(size), null, this.constants.FILE_BEGIN)) &&
      this.#ok(SetEndOfFile(handle));
  }

  readAt(handle: bigint, buffer: Uint8Array, offset: number): number {
    return this.#transfer(this.#calls.ReadFile, handle, buffer, offset);
  }

  writeAt(handle: bigint, buffer: Uint8Array, offset: number): number {
    return this.#transfer(this.#calls.WriteFile, handle, buffer, offset);
  }

  /** ReadFile or WriteFile at `offset` of at most 2^31 bytes (DWORD counts); the bytes moved or -1. */
  #transfer(call: Kernel32Function, handle: bigint, buffer: Uint8Array, offset: number): number {
    const overlapped = this.#overlapped(offset);
    const count = Math.min(buffer.length, 0x8000_0000);
    const chunk = count === buffer.length ? buffer : buffer.subarray(0, count);
    if (!this.#ok(call(handle, chunk, count, this.#word, overlapped))) {
      // ERROR_HANDLE_EOF: a positional read at or past the end reads nothing.
      return this.lastError === 38 ? 0 : -1;
    }
    return this.#wordView.getUint32(0, true);
  }

  /** An OVERLAPPED with the 64-bit file position `offset` (Offset, OffsetHigh), no event. */
  #overlapped(offset: number): Uint8Array {
    const overlapped = new Uint8Array(OVERLAPPED_SIZE);
    const view = new DataView(overlapped.buffer);
    view.setUint32(16, offset % 2 ** 32, true);
    view.setUint32(20, Math.floor(offset / 2 ** 32), true);
    return overlapped;
  }

  flushFileBuffers(handle: bigint): boolean {
    return this.#ok(this.#calls.FlushFileBuffers(handle));
  }

  lockFile(handle: bigint, flags: number, offset: number, length: number): boolean {
    const low = length % 2 ** 32, high = Math.floor(length / 2 ** 32);
    return this.#ok(this.#calls.LockFileEx(handle, flags, 0, low, high, this.#overlapped(offset)));
  }

  unlockFile(handle: bigint, offset: number, length: number): boolean {
    const low = length % 2 ** 32, high = Math.floor(length / 2 ** 32);
    return this.#ok(this.#calls.UnlockFileEx(handle, 0, low, high, this.#overlapped(offset)));
  }

  setFileAttributes(path: string, attributes: number): boolean {
    const name = wideString(path);
    return this.#ok(this.#calls.SetFileAttributesW(name, attributes));
  }

  setFileTimes(handle: bigint, accessNs: bigint, writeNs: bigint): boolean {
    const fileTime = (ns: bigint) => {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, ns / 100n + FILETIME_UNIX_EPOCH, true);
      return bytes;
    };
    return this.#ok(this.#calls.SetFileTime(handle, null, fileTime(accessNs), fileTime(writeNs)));
  }

  deleteFile(path: string): boolean {
    const name = wideString(path);
    return this.#ok(this.#calls.DeleteFileW(name));
  }

  moveFile(from: string, to: string, flags: number): boolean {
    const source = wideString(from), target = wideString(to);
    return this.#ok(this.#calls.MoveFileExW(source, target, flags));
  }

  createDirectory(path: string): boolean {
    const name = wideString(path);
    return this.#ok(this.#calls.CreateDirectoryW(name, 0n));
  }

  removeDirectory(path: string): boolean {
    const name = wideString(path);
    return this.#ok(this.#calls.RemoveDirectoryW(name));
  }

  listDirectory(directory: string): WindowsDirectoryEntry[] | null {
    const data = new Uint8Array(WIN32_FIND_DATAW_SIZE);
    const view = new DataView(data.buffer);
    const pattern = wideString(`${directory.replace(/[\\/]+$/, "")}\\*`);
    const find = this.#handle(this.#calls.FindFirstFileW(pattern, data), INVALID_HANDLE_VALUE);
    if (find === INVALID_HANDLE_VALUE) return null;
    const entries: WindowsDirectoryEntry[] = [];
    try {
      for (;;) {
        entries.push({ name: readWideString(data, WIN32_FIND_DATAW_NAME, 260), attributes: view.getUint32(0, true) });
        if (!this.#ok(this.#calls.FindNextFileW(find, data))) {
          if (this.lastError === ERROR_NO_MORE_FILES) return entries;
          return null;
        }
      }
    } finally {
      this.#calls.FindClose(find);
    }
  }

  createFileMapping(file: bigint, protect: number, maximumSize: number, name: string | null): bigint {
    const wide = name === null ? null : wideString(name);
    const high = Math.floor(maximumSize / 2 ** 32), low = maximumSize % 2 ** 32;
    const mapping = this.#calls.CreateFileMappingW(file, 0n, protect, high, low, wide) as bigint;
    // A named object that exists already comes back with ERROR_ALREADY_EXISTS set: read it either way.
    if (mapping === 0n || name !== null) this.lastError = this.#getLastError() as number;
    return mapping;
  }

  openFileMapping(access: number, name: string): bigint {
    const wide = wideString(name);
    return this.#handle(this.#calls.OpenFileMappingW(access, 0, wide), 0n);
  }

  mapView(mapping: bigint, access: number, offset: number, length: number): bigint {
    const high = Math.floor(offset / 2 ** 32), low = offset % 2 ** 32;
    return this.#handle(this.#calls.MapViewOfFileEx(mapping, access, high, low, BigInt(length), 0n), 0n);
  }

  unmapView(address: bigint): boolean {
    return this.#ok(this.#calls.UnmapViewOfFile(address));
  }

  flushView(address: bigint, length: number): boolean {
    return this.#ok(this.#calls.FlushViewOfFile(address, BigInt(length)));
  }

  virtualLock(address: bigint, length: number): boolean {
    return this.#ok(this.#calls.VirtualLock(address, BigInt(length)));
  }

  virtualUnlock(address: bigint, length: number): boolean {
    return this.#ok(this.#calls.VirtualUnlock(address, BigInt(length)));
  }

  virtualProtect(address: bigint, length: number, protect: number): number {
    if (!this.#ok(this.#calls.VirtualProtect(address, BigInt(length), protect, this.#word))) return -1;
    return this.#wordView.getUint32(0, true);
  }

  virtualQuery(address: bigint): { allocationBase: bigint; regionSize: number } | null {
    // MEMORY_BASIC_INFORMATION (x64): BaseAddress, AllocationBase, AllocationProtect + PartitionId, RegionSize, …
    const buffer = new Uint8Array(MEMORY_BASIC_INFORMATION_SIZE);
    const written = this.#calls.VirtualQuery(address, buffer, BigInt(buffer.length)) as bigint;
    if (written === 0n) {
      this.lastError = this.#getLastError() as number;
      return null;
    }
    const view = new DataView(buffer.buffer);
    return { allocationBase: view.getBigUint64(8, true), regionSize: Number(view.getBigUint64(24, true)) };
  }

  virtualAlloc(address: bigint, length: number, type: number, protect: number): bigint {
    return this.#handle(this.#calls.VirtualAlloc(address, BigInt(length), type, protect), 0n);
  }

  virtualFree(address: bigint, length: number, type: number): boolean {
    return this.#ok(this.#calls.VirtualFree(address, BigInt(length), type));
  }

  systemInfo(): WindowsSystemInfo {
    const buffer = new Uint8Array(SYSTEM_INFO_SIZE);
    this.#calls.GetSystemInfo(buffer);
    const view = new DataView(buffer.buffer);
    return {
      pageSize: view.getUint32(4, true),
      processors: view.getUint32(32, true),
      allocationGranularity: view.getUint32(40, true),
    };
  }

  currentProcessId(): number {
    return this.#calls.GetCurrentProcessId() as number;
  }

  currentThreadId(): number {
    return this.#calls.GetCurrentThreadId() as number;
  }

  processRunning(id: number): boolean {
    const process = this.#handle(this.#calls.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, id), 0n);
    // Access denied: a process is there, owned by someone this one may not query.
    if (process === 0n) return this.lastError === 5;
    try {
      if (!this.#ok(this.#calls.GetExitCodeProcess(process, this.#word))) return true;
      return this.#wordView.getUint32(0, true) === STILL_ACTIVE;
    } finally {
      this.#calls.CloseHandle(process);
    }
  }
}
