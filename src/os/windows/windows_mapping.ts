/**
 * Mapping on Windows: a file mapping object (`CreateFileMappingW`) and a view
 * of it (`MapViewOfFileEx`) from the offset rounded down to the 64 KiB
 * allocation granularity. The object is closed as soon as the view exists
 * (the view holds it), as memmap2 does, so a mapping costs no handle.
 *
 * Named shared memory is an object that outlives any view: its handle is
 * what `openSharedMemory` returns as the file, kept in {@linkcode sections}
 * so `map` maps it directly instead of making an object of it.
 *
 * @module
 */

import { INVALID_HANDLE_VALUE } from "../../ffi/constants.ts";
import type { Kernel32 } from "../../ffi/kernel32.ts";
import type { PlatformMapping, PlatformMapRequest } from "../platform.ts";
import { lastWindowsError } from "./windows_errors.ts";

/**
 * The handles of named shared memory objects open in this JavaScript realm,
 * with their sizes (Windows has no call that reports an object's size
 * without mapping it). A handle another realm of this process opened (a
 * worker's `reopenInProcess`) is recognised by {@linkcode isSection} instead.
 */
export const sections: Map<number, { size: number }> = new Map();

/**
 * Whether `file` is a file mapping object (named shared memory) rather than
 * a file: registered here, or a handle that is no file (no file information:
 * Wine's `GetFileType` calls a section a disk file) and yet maps.
 *
 * @example
 * ```ts ignore
 * if (isSection(k, file)) sectionSize(k, file);
 * ```
 */
export function isSection(k: Kernel32, file: number): boolean {
  if (sections.has(file)) return true;
  if (k.fileInformation(BigInt(file)) !== null) return false;
  const view = k.mapView(BigInt(file), k.constants.FILE_MAP_READ, 0, 1);
  if (view === 0n) return false;
  k.unmapView(view);
  return true;
}

/**
 * The size of the object `section`: registered, or found by mapping all of
 * it and asking `VirtualQuery` (page-rounded, as Python's `SharedMemory`
 * reports an object it opens).
 *
 * @example
 * ```ts ignore
 * const size = sectionSize(k, file, name);
 * ```
 *
 * @throws {MmapError} When the object cannot be mapped.
 */
export function sectionSize(k: Kernel32, section: number, label: string | null): number {
  const known = sections.get(section);
  if (known) return known.size;
  const view = k.mapView(BigInt(section), k.constants.FILE_MAP_READ, 0, 0);
  if (view === 0n) throw lastWindowsError(k, "MapViewOfFileEx", label);
  try {
    const region = k.virtualQuery(view);
    if (!region) throw lastWindowsError(k, "VirtualQuery", label);
    return region.regionSize;
  } finally {
    k.unmapView(view);
  }
}

/**
 * Maps what `request` asks for, from its offset rounded down to
 * `granularity`.
 *
 * @example
 * ```ts ignore
 * const mapped = mapWindows(k, 65536, { file: null, offset: 0, length: 10, access: "write", shared: false, label: null });
 * ```
 *
 * @throws {MmapError} When the object or the view cannot be made.
 */
export function mapWindows(k: Kernel32, granularity: number, request: PlatformMapRequest): PlatformMapping {
  const delta = request.offset % granularity;
  const aligned = request.offset - delta;
  const length = delta + request.length;
  const absorb = request.absorbWrites === true && request.access === "read";
  let address = absorb ? mapView(k, request, aligned, length, true) : null;
  const absorbing = address !== null;
  address ??= mapView(k, request, aligned, length, false);
  if (address === null) throw lastWindowsError(k, request.file === null ? "CreateFileMappingW" : "MapViewOfFileEx", request.label);
  // Large pages need SeLockMemoryPrivilege and page-file-backed memory: the
  // request falls back to ordinary pages silently, as the contract allows.
  if (request.populate) prefetch(k, address, length);
  return { address, length, delta, absorbing };
}

/** One attempt at a view; `null` (with the error in `k.lastError`) when it fails. */
function mapView(k: Kernel32, request: PlatformMapRequest, offset: number, length: number, absorb: boolean): bigint | null {
  const c = k.constants;
  const shared = request.shared && request.access !== "copy";
  // Copy-on-write: writes stay in this process (FILE_MAP_COPY over PAGE_WRITECOPY).
  const copy = absorb || (request.access !== "read" && !shared);
  const viewAccess = copy ? c.FILE_MAP_COPY : request.access === "read" ? c.FILE_MAP_READ : c.FILE_MAP_WRITE;
  if (request.file !== null && isSection(k, request.file)) {
    const view = k.mapView(BigInt(request.file), viewAccess, offset, length);
    return view === 0n ? null : view;
  }
  let object: bigint;
  if (request.file === null) {
    // Zero-filled memory from the paging file, in an object of its own: no
    // other process has it, so shared and private behave alike here.
    object = k.createFileMapping(INVALID_HANDLE_VALUE, c.PAGE_READWRITE, length, null);
  } else {
    const protect = copy ? c.PAGE_WRITECOPY : request.access === "read" ? c.PAGE_READONLY : c.PAGE_READWRITE;
    // The object ends where the view does (the caller has checked the file
    // holds that much): a larger object would grow the file, and an object
    // of the whole file would keep the file from being cut down to this
    // view's end (error 1224) while the view lives, as a shrink needs.
    object = k.createFileMapping(BigInt(request.file), protect, offset + length, null);
  }
  if (object === 0n) return null;
  const view = k.mapView(object, viewAccess, offset, length);
  // The view holds the object from here on. (A CloseHandle that succeeds
  // leaves lastError as the view's call set it.)
  k.closeHandle(object);
  return view === 0n ? null : view;
}

/**
 * Faults the pages in for reading: `PrefetchVirtualMemory` (Windows 8+)
 * reads them from disk in large batches, into the file cache; then one read
 * per page maps each into this process's working set, which is what
 * `MADV_POPULATE_READ` gives on Linux and what `resident()` counts. A hint:
 * never throws.
 *
 * @example
 * ```ts ignore
 * prefetch(k, address, length);
 * ```
 */
export function prefetch(k: Kernel32, address: bigint, length: number): void {
  k.prefetch?.(address, length);
  const bytes = new Uint8Array(k.arrayBuffer(address, length));
  let sink = 0;
  for (let at = 0; at < length; at += k.constants.defaultPageSize) sink ^= bytes[at]!;
  if (sink === -1) throw new Error("unreachable: keeps the reads from being optimised away");
}
