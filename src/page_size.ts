/**
 * The memory page size, read once when memmapfs loads.
 *
 * @module
 */

import { constantsFor } from "./ffi/constants.ts";
import { pageSizeWithoutFfi, runtimeLibcOrUndefined } from "./ffi/mod.ts";

function readPageSize(): number {
  // Binding libc at import would print Node's FFI warning (and make Deno ask
  // for FFI) in programs that never map anything: the kernel says it elsewhere.
  const known = pageSizeWithoutFfi();
  if (known !== undefined) return known;
  const libc = runtimeLibcOrUndefined();
  if (libc) return libc.pageSize();
  // Without FFI nothing can be mapped; report the platform's usual size.
  const process = (globalThis as { process?: { platform: string; arch: string } }).process;
  return (process && constantsFor(process.platform, process.arch)?.defaultPageSize) ?? 4096;
}

/**
 * Bytes per memory page on this machine (`sysconf(_SC_PAGESIZE)`): the unit
 * mappings, windows and `BlockFile` blocks are aligned to.
 *
 * @example
 * ```ts
 * import { pageSize } from "@memmapfs/memmapfs";
 * console.log(pageSize); // 4096 on most x86-64 machines
 * ```
 */
export const pageSize: number = readPageSize();
