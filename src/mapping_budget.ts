/**
 * The mapping budget: how many mmap'd ranges memmapfs may hold at once.
 *
 * The kernel caps the mappings of a process (`vm.max_map_count`, 65530 by
 * default on Linux). Past it every mmap fails — including the runtime's own:
 * V8 and Deno abort the process when their heap cannot map a page, and no
 * JavaScript can catch that. So memmapfs keeps its own count within half of
 * `vm.max_map_count`, read once from `/proc/sys/vm/max_map_count`, and
 * leaves the other half to the runtime; where there is no such file (Darwin,
 * or a Deno without read permission) the budget is {@linkcode DEFAULT_BUDGET}.
 *
 * Counted: every range memmapfs maps and has not unmapped — a whole file, a
 * window, the internal copy window, a cached file, shared memory — plus
 * each overlay of zero pages left behind for a view that could not be
 * detached (it stays mapped for good). A mapping at the budget first asks
 * the mapping caches to let go of idle entries; if none can, it fails with
 * `MmapError` ENOMEM before calling mmap, and the process lives on.
 *
 * @module
 */

import type { MmapError } from "./errors.ts";
import type { Platform } from "./os/platform.ts";
import { nodeBuiltins } from "./node_builtins.ts";

/** The budget where `vm.max_map_count` cannot be read: half of Linux's default count. */
export const DEFAULT_BUDGET = 32_765;

/** Something holding mappings it can let go of on demand (a mapping cache's idle entries). */
export interface MappingReclaimer {
  /** Unmaps one mapping nobody else uses; false when there is none. */
  reclaimOne(): boolean;
}

let systemBudget: number | undefined;
let override: number | null = null;
let held = 0;
const reclaimers = new Set<WeakRef<MappingReclaimer>>();

/** Half of `vm.max_map_count`, read once; {@linkcode DEFAULT_BUDGET} where it cannot be read. */
function readSystemBudget(): number {
  try {
    const count = Number(nodeBuiltins().fs.readFileSync("/proc/sys/vm/max_map_count", "utf8").trim());
    if (Number.isSafeInteger(count) && count > 0) return Math.max(1, Math.floor(count / 2));
  } catch { /* no /proc (Darwin), no node:fs, or no permission to read it */ }
  return DEFAULT_BUDGET;
}

/**
 * How many mappings memmapfs may hold at once.
 *
 * @example
 * ```ts ignore
 * console.log(mappingBudget()); // 32765 with vm.max_map_count = 65530
 * ```
 */
export function mappingBudget(): number {
  if (override !== null) return override;
  systemBudget ??= readSystemBudget();
  return systemBudget;
}

/**
 * How many mappings memmapfs holds now.
 *
 * @example
 * ```ts ignore
 * const before = mappingsHeld();
 * ```
 */
export function mappingsHeld(): number {
  return held;
}

/**
 * Sets the budget (for tests: a small one instead of tens of thousands of
 * files), or puts back the one from `vm.max_map_count` with `null`.
 *
 * @example
 * ```ts ignore
 * setMappingBudget(mappingsHeld() + 3);
 * try { ... } finally { setMappingBudget(null); }
 * ```
 */
export function setMappingBudget(limit: number | null): void {
  if (limit !== null && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`Limit must be a non-negative integer or null, got ${limit}`);
  }
  override = limit;
}

/**
 * Lets `reclaimer` be asked to unmap idle mappings when the budget is used
 * up. Held weakly: a cache nobody references any more is not kept alive.
 *
 * @example
 * ```ts ignore
 * addMappingReclaimer(cache);
 * ```
 */
export function addMappingReclaimer(reclaimer: MappingReclaimer): void {
  reclaimers.add(new WeakRef(reclaimer));
}

/**
 * Counts one mapping about to be made, after making room by reclaiming idle
 * ones when the budget is used up. Call {@linkcode returnMapping} when the
 * mmap fails or the range is unmapped.
 *
 * @example
 * ```ts ignore
 * reserveMapping(platform(), path);
 * ```
 *
 * @throws {MmapError} ENOMEM when memmapfs holds its whole budget and nothing idle can go.
 */
export function reserveMapping(platform: Platform, path: string | null): void {
  const budget = mappingBudget();
  while (held >= budget && reclaimOne()) { /* each round unmapped one */ }
  if (held >= budget) throw overBudget(platform, path, budget);
  held++;
}

/**
 * Counts a mapping that exists already and cannot be refused (an overlay
 * left for a view that could not be detached).
 *
 * @example
 * ```ts ignore
 * countMapping();
 * ```
 */
export function countMapping(): void {
  held++;
}

/**
 * Uncounts a mapping: its mmap failed, or it was unmapped.
 *
 * @example
 * ```ts ignore
 * if (!platform().unmap(address, length, path)) returnMapping();
 * ```
 */
export function returnMapping(): void {
  held = Math.max(0, held - 1);
}

function reclaimOne(): boolean {
  for (const ref of reclaimers) {
    const reclaimer = ref.deref();
    if (!reclaimer) {
      reclaimers.delete(ref);
      continue;
    }
    if (reclaimer.reclaimOne()) return true;
  }
  return false;
}

function overBudget(platform: Platform, path: string | null, budget: number): MmapError {
  const error = platform.error("ENOMEM", "mmap", path);
  error.message += `: memmapfs holds ${held} mappings, its whole budget of ${budget} (half of ` +
    "vm.max_map_count, so the runtime keeps the rest); close files or shared memory you no longer need";
  return error;
}
