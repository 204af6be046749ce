/**
 * The {@linkcode Kernel32} over one runtime's {@linkcode Kernel32Native}:
 * arguments marshalled, structs read, and `GetLastError` called in the same
 * synchronous step as the call that failed.
 *
 * @module
 */

import { CURRENT_PROCESS, INVALID_HANDLE_VALUE, type WindowsConstants } from "./constants.ts";
import type {
  Kernel32,
  WindowsFileInformation,
  WindowsStandardInformation,
  WindowsPathAttributes,
  WindowsDirectoryEntry,
  WindowsSystemInfo,
} from "./kernel32.ts";
import { FILETIME_UNIX_EPOCH, fileTimeNs, readWideString, wideString } from "./kernel32_marshal.ts";
import type { Kernel32Function, Kernel32Native } from "./kernel32_symbols.ts";

// Struct sizes (x64, from the SDK headers).
const BY_HANDLE_FILE_INFORMATION_SIZE = 52;
const FILE_STANDARD_INFO_SIZE = 24;
const WIN32_FILE_ATTRIBUTE_DATA_SIZE = 36;
const WIN32_FIND_DATAW_SIZE = 592;
const WIN32_FIND_DATAW_NAME = 44;
const SYSTEM_INFO_SIZE = 48;
const OVERLAPPED_SIZE = 32;
const MEMORY_BASIC_INFORMATION_SIZE = 48;
/** ERROR_MORE_DATA-free upper bound of a long path (\\?\ paths go to 32,767 units). */
const MAX_PATH_UNITS = 32_768;

/**
 * {@linkcode Kernel32} over a runtime's binding: what `bindKernel32` returns.
 *
 * @example
 * ```ts ignore
 * const k = new BoundKernel32(bunKernel32(), WINDOWS_X64);
 * ```
 */
export class BoundKernel32 implements Kernel32 {
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
      return this.lastError === this.constants.ERROR_HANDLE_EOF ? 0 : -1;
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

  setDisposition(handle: bigint, flags: number): boolean {
    // FILE_DISPOSITION_INFO_EX { ULONG Flags; }
    const info = new Uint8Array(4);
    new DataView(info.buffer).setUint32(0, flags, true);
    return this.#ok(this.#calls.SetFileInformationByHandle(handle, this.constants.FileDispositionInfoEx, info, info.length));
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
          if (this.lastError === this.constants.ERROR_NO_MORE_FILES) return entries;
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
    const process = this.#handle(this.#calls.OpenProcess(this.constants.PROCESS_QUERY_LIMITED_INFORMATION, 0, id), 0n);
    // Access denied: a process is there, owned by someone this one may not query.
    if (process === 0n) return this.lastError === this.constants.ERROR_ACCESS_DENIED;
    try {
      if (!this.#ok(this.#calls.GetExitCodeProcess(process, this.#word))) return true;
      return this.#wordView.getUint32(0, true) === this.constants.STILL_ACTIVE;
    } finally {
      this.#calls.CloseHandle(process);
    }
  }
}
