/**
 * The memory calls of the POSIX platform: `mmap` with the flags a request
 * asks for (and the fallbacks it allows), and what touches a mapped range.
 *
 * @module
 */

import { MAP_FAILED } from "../../ffi/constants.ts";
import type { Libc } from "../../ffi/libc.ts";
import type { PlatformMapping, PlatformMapRequest } from "../platform.ts";
import { lastError } from "./posix_errors.ts";

/**
 * Maps what `request` asks for, from its offset rounded down to the page.
 *
 * @example
 * ```ts
 * import { libc } from "../../ffi/mod.ts";
 * const mapped = mapPosix(libc(), { file: null, offset: 0, length: 10, access: "write", shared: false, label: null });
 * libc().munmap(mapped.address, mapped.length);
 * ```
 *
 * @throws {MmapError} When mmap fails.
 */
export function mapPosix(libc: Libc, request: PlatformMapRequest): PlatformMapping {
  const page = libc.pageSize();
  const delta = request.offset % page;
  const aligned = request.offset - delta;
  const length = delta + request.length;
  const absorbing = request.absorbWrites === true && request.access === "read"
    ? mapAbsorbing(libc, request, aligned, length)
    : null;
  const address = absorbing ?? mapStrict(libc, request, aligned, length);
  if (request.populate && (absorbing !== null || !libc.constants.MAP_POPULATE)) prefault(libc, address, length);
  if (request.hugePages) adviseQuietly(libc, address, length, "hugepage");
  return { address, length, delta, absorbing: absorbing !== null };
}

/**
 * A read-only request mapped private, readable and writable, without commit
 * charge; `null` when the kernel refuses (then the strict mapping is made).
 */
function mapAbsorbing(libc: Libc, request: PlatformMapRequest, alignedOffset: number, length: number): bigint | null {
  const c = libc.constants;
  const fd = request.file ?? -1;
  const flags = (fd < 0 ? c.MAP_ANONYMOUS : 0) | c.MAP_PRIVATE | c.MAP_NORESERVE;
  const address = libc.mmap(0n, length, c.PROT_READ | c.PROT_WRITE, flags, fd, alignedOffset);
  return address === MAP_FAILED ? null : address;
}

/** mmap with the request's protection and flags; falls back from huge pages. */
function mapStrict(libc: Libc, request: PlatformMapRequest, alignedOffset: number, length: number): bigint {
  const c = libc.constants;
  const fd = request.file ?? -1;
  const writable = request.access !== "read";
  const shared = request.shared && request.access !== "copy";
  const prot = c.PROT_READ | (writable ? c.PROT_WRITE : 0);
  let flags = fd < 0 ? c.MAP_ANONYMOUS : 0;
  flags |= shared ? c.MAP_SHARED : c.MAP_PRIVATE;
  if (request.populate) flags |= c.MAP_POPULATE;
  if (request.hugePages && fd < 0 && c.MAP_HUGETLB) {
    // Only anonymous memory can ask for hugetlb pages; without reserved huge
    // pages the kernel refuses and ordinary pages are used instead.
    const huge = libc.mmap(0n, length, prot, flags | c.MAP_HUGETLB, fd, alignedOffset);
    if (huge !== MAP_FAILED) return huge;
  }
  const address = libc.mmap(0n, length, prot, flags, fd, alignedOffset);
  if (address === MAP_FAILED) throw lastError(libc, "mmap", request.label);
  return address;
}

/**
 * Prefaults the pages without writing: `MADV_POPULATE_READ` (Linux 5.14+),
 * else `MADV_WILLNEED`. `MAP_POPULATE` would fault a private writable
 * mapping for writing, copying every page of the file.
 *
 * @example
 * ```ts ignore
 * prefault(libc, address, length);
 * ```
 */
export function prefault(libc: Libc, address: bigint, length: number): void {
  const read = libc.constants.advice["populate-read"];
  if (read !== undefined && libc.madvise(address, length, read) === 0) return;
  adviseQuietly(libc, address, length, "willneed");
}

function adviseQuietly(libc: Libc, address: bigint, length: number, name: "willneed" | "hugepage"): void {
  const advice = libc.constants.advice[name];
  // A hint: the mapping works without it, so its failure is not an error.
  if (advice !== undefined) libc.madvise(address, length, advice);
}

/**
 * Pages mapped and how many of them are in memory now (`mincore`).
 *
 * @example
 * ```ts ignore
 * const { pages, resident } = residentPages(libc, address, length, path);
 * ```
 *
 * @throws {MmapError} When mincore fails.
 */
export function residentPages(libc: Libc, address: bigint, length: number, label: string | null): { pages: number; resident: number } {
  const pages = Math.ceil(length / libc.pageSize());
  const vector = new Uint8Array(pages);
  if (libc.mincore(address, length, vector) !== 0) throw lastError(libc, "mincore", label);
  let resident = 0;
  for (const flags of vector) resident += flags & 1;
  return { pages, resident };
}
