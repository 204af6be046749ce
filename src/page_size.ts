/**
 * The memory page size, read once when memmapfs loads.
 *
 * @module
 */

import { systemPageSize } from "./os/mod.ts";

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
export const pageSize: number = systemPageSize();
