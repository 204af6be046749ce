/**
 * Picks the {@linkcode Platform} of the running system: on Windows the one
 * over kernel32 (`src/os/windows`); elsewhere the POSIX one over the active
 * {@linkcode Libc} (so a test's fault-injecting libc, swapped in with
 * `useLibc`, is what the platform calls); or one a test supplies with
 * {@linkcode usePlatform}.
 *
 * @module
 */

import { constantsFor, WINDOWS_X64, windowsErrorFor } from "../ffi/constants.ts";
import type { Libc } from "../ffi/libc.ts";
import { libc, onWindows, pageSizeWithoutFfi, runtimeLibcOrUndefined } from "../ffi/mod.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import type { Platform } from "./platform.ts";
import { PosixPlatform } from "./posix/posix_platform.ts";
import { windowsPlatform } from "./windows/windows_platform.ts";

export type * from "./platform.ts";

/** The platform made for the libc that was active last, kept while that libc is. */
let current: { libc: Libc; platform: Platform } | undefined;
/** A replacement set by {@linkcode usePlatform}. */
let replacement: Platform | undefined;
/** Windows is known from the runtime's globals, without binding anything: asked once. */
const windows = onWindows();

/**
 * The active platform. Cheap after the first call (one comparison), but
 * still a call: objects keep the platform they were opened with.
 *
 * @example
 * ```ts
 * import { platform } from "./mod.ts";
 * const os = platform();
 * const region = os.map({ file: null, offset: 0, length: 100, access: "write", shared: false, label: null });
 * new Uint8Array(os.arrayBuffer(region.address, region.length))[0] = 1;
 * os.unmap(region.address, region.length, null);
 * ```
 *
 * @throws {UnsupportedRuntimeError} When this runtime cannot reach the system.
 */
export function platform(): Platform {
  if (replacement) return replacement;
  if (windows) return windowsPlatform();
  const active = libc();
  if (current?.libc !== active) current = { libc: active, platform: new PosixPlatform(active) };
  return current.platform;
}

/**
 * Replaces the active platform (a test's, or a back-end the runtime cannot
 * pick by itself); `null` goes back to the runtime's own.
 *
 * @example
 * ```ts ignore
 * usePlatform(myPlatform);
 * try { ... } finally { usePlatform(null); }
 * ```
 */
export function usePlatform(next: Platform | null): void {
  replacement = next ?? undefined;
}

/**
 * The memory page size, found without binding anything when the system says
 * it some other way: binding at import would print Node's FFI warning (and
 * make Deno ask for FFI) in programs that never map anything.
 *
 * @example
 * ```ts
 * console.log(systemPageSize()); // 4096 on most x86-64 machines
 * ```
 */
export function systemPageSize(): number {
  // Every x64 Windows has 4 KiB pages (GetSystemInfo says so too, once bound).
  if (windows) return WINDOWS_X64.defaultPageSize;
  const known = pageSizeWithoutFfi();
  if (known !== undefined) return known;
  const bound = runtimeLibcOrUndefined();
  if (bound) return bound.pageSize();
  // Without FFI nothing can be mapped; report the platform's usual size.
  const process = (globalThis as { process?: { platform: string; arch: string } }).process;
  return (process && constantsFor(process.platform, process.arch)?.defaultPageSize) ?? 4096;
}

/**
 * This system's number for the errno name `code`, from its tables (nothing
 * is bound): for errors another API reported by name only. `undefined` when
 * the system has no such name.
 *
 * @example
 * ```ts
 * console.log(errnoNumberOf("ENOENT")); // 2
 * ```
 */
export function errnoNumberOf(code: string): number | undefined {
  // Windows reports its own error codes; MmapError.errno holds those there.
  if (windows) return windowsErrorFor(code);
  const { process } = nodeBuiltins();
  const names = constantsFor(process.platform, process.arch)?.errnoNames ?? {};
  for (const [number, name] of Object.entries(names)) if (name === code) return Number(number);
  return undefined;
}
