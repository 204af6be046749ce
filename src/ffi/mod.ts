/**
 * Picks the libc binding for the running runtime, once, when memmapfs loads;
 * on Windows, the kernel32 binding instead ({@linkcode kernel32}). A runtime
 * without FFI does not fail the import: the first call that needs libc (or
 * kernel32) throws an {@linkcode UnsupportedRuntimeError} that says what is
 * missing. Tests may swap the active {@linkcode Libc} for a fault-injecting one.
 *
 * @module
 */

import { UnsupportedRuntimeError } from "../errors.ts";
import { bunNativeCalls } from "./bun.ts";
import { constantsFor, type PlatformConstants, platformLabel, windowsConstantsFor } from "./constants.ts";
import { denoNativeCalls } from "./deno.ts";
import type { Libc } from "./libc.ts";
import { bindLibc, type NativeCalls } from "./native.ts";
import { loadNodeFfi, nodeNativeCalls } from "./node.ts";
import { bindKernel32, type Kernel32 } from "./kernel32.ts";
import { bunKernel32 } from "./kernel32_bun.ts";
import { denoKernel32 } from "./kernel32_deno.ts";
import { nodeKernel32 } from "./kernel32_node.ts";
import type { Kernel32Native } from "./kernel32_symbols.ts";

export type { FileStat, Libc, RuntimeName } from "./libc.ts";
export type { Kernel32 } from "./kernel32.ts";
export { FaultyLibc, type LibcCall } from "./faulty_libc.ts";

interface RuntimeGlobals {
  Deno?: { build: { os: string; arch: string }; dlopen?: unknown };
  Bun?: unknown;
  process?: { platform: string; arch: string; versions?: { node?: string } };
}

function platform(globals: RuntimeGlobals): { os: string; arch: string } | undefined {
  if (globals.Deno) return globals.Deno.build;
  if (globals.process) return { os: globals.process.platform, arch: globals.process.arch };
  return undefined;
}

function loadRuntimeLibc(): Libc {
  const globals = globalThis as RuntimeGlobals;
  const where = platform(globals);
  if (!where) {
    throw new UnsupportedRuntimeError(
      "memmapfs needs Deno, Bun or Node 26+ with FFI; this runtime has no FFI (a browser?)",
    );
  }
  const constants: PlatformConstants | undefined = constantsFor(where.os, where.arch);
  if (!constants && windowsConstantsFor(where.os, where.arch)) {
    throw new UnsupportedRuntimeError(
      "memmapfs on Windows calls kernel32, not libc: this code path asked for POSIX libc",
    );
  }
  if (!constants) {
    throw new UnsupportedRuntimeError(
      `memmapfs supports linux and darwin on x64 and arm64, not ${where.os}-${where.arch}`,
    );
  }
  return bindWith(globals, constants, []);
}

/** Binds libc through the running runtime's FFI with `constants`, leaving out the calls in `omit`. */
function bindWith(globals: RuntimeGlobals, constants: PlatformConstants, omit: readonly (keyof NativeCalls)[]): Libc {
  const bind = (native: NativeCalls) => {
    const kept: Partial<NativeCalls> = { ...native };
    for (const name of omit) delete kept[name];
    return bindLibc(kept as NativeCalls, constants);
  };
  // A missing symbol or library names the platform, so a macOS user can tell
  // a gap of memmapfs's Darwin table from a problem of their own setup.
  const unbindable = (via: string, cause: unknown) =>
    new UnsupportedRuntimeError(
      `memmapfs could not bind libc (${constants.libcPaths.join(" or ")}) through ${via} on ` +
        `${platformLabel(constants)}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  if (globals.Deno) {
    try {
      return bind(denoNativeCalls(constants));
    } catch (cause) {
      if (!(cause instanceof Error && /NotCapable|PermissionDenied/.test(cause.name))) {
        throw unbindable("Deno.dlopen", cause);
      }
      throw new UnsupportedRuntimeError(
        "memmapfs could not load libc through Deno.dlopen: run Deno with --allow-ffi " +
          "(and --allow-read/--allow-write for the files you map)",
        { cause },
      );
    }
  }
  if (globals.Bun) {
    try {
      return bind(bunNativeCalls(constants));
    } catch (cause) {
      throw unbindable("bun:ffi", cause);
    }
  }
  const ffi = loadNodeFfi();
  if (!ffi) {
    const version = globals.process?.versions?.node ?? "?";
    throw new UnsupportedRuntimeError(
      Number.parseInt(version) >= 26
        ? `memmapfs needs node:ffi, which is disabled in this Node ${version}: run it with --experimental-ffi`
        : `memmapfs needs node:ffi, which Node ${version} does not have: use Node 26 or later with --experimental-ffi`,
    );
  }
  try {
    return bind(nodeNativeCalls(ffi, constants));
  } catch (cause) {
    if ((cause as { code?: unknown })?.code !== "ERR_ACCESS_DENIED") throw unbindable("node:ffi", cause);
    throw new UnsupportedRuntimeError(
      "memmapfs could not load libc through node:ffi: under node --permission, run with --allow-ffi " +
        "(and --allow-fs-read/--allow-fs-write for the files you map)",
      { cause },
    );
  }
}

let windows: boolean | undefined;

/** Whether memmapfs runs on Windows (through kernel32) rather than on a POSIX libc. Asked once. */
export function onWindows(): boolean {
  if (windows === undefined) {
    const where = platform(globalThis as RuntimeGlobals);
    windows = where !== undefined && windowsConstantsFor(where.os, where.arch) !== undefined;
  }
  return windows;
}

function loadRuntimeKernel32(): Kernel32 {
  const globals = globalThis as RuntimeGlobals;
  const where = platform(globals);
  const constants = where && windowsConstantsFor(where.os, where.arch);
  if (!where || !constants) {
    throw new UnsupportedRuntimeError(
      `kernel32 exists on Windows x64 only, not ${where ? `${where.os}-${where.arch}` : "this runtime"}`,
    );
  }
  const unbindable = (via: string, cause: unknown) =>
    new UnsupportedRuntimeError(
      `memmapfs could not bind kernel32.dll through ${via} on Windows (windows-x64): ` +
        `${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  let native: Kernel32Native;
  if (globals.Deno) {
    try {
      native = denoKernel32();
    } catch (cause) {
      if (cause instanceof Error && /NotCapable|PermissionDenied/.test(cause.name)) {
        throw new UnsupportedRuntimeError(
          "memmapfs could not load kernel32.dll through Deno.dlopen: run Deno with --allow-ffi " +
            "(and --allow-read/--allow-write for the files you map)",
          { cause },
        );
      }
      throw unbindable("Deno.dlopen", cause);
    }
  } else if (globals.Bun) {
    try {
      native = bunKernel32();
    } catch (cause) {
      throw unbindable("bun:ffi", cause);
    }
  } else {
    const ffi = loadNodeFfi();
    if (!ffi) {
      throw new UnsupportedRuntimeError(
        `memmapfs needs node:ffi, which this Node ${globals.process?.versions?.node ?? "?"} does not offer: ` +
          "use Node 26 or later with --experimental-ffi",
      );
    }
    try {
      native = nodeKernel32(ffi);
    } catch (cause) {
      throw unbindable("node:ffi", cause);
    }
  }
  return bindKernel32(native, constants);
}

let runtimeKernel32: Kernel32 | undefined;
let kernel32Error: unknown;

/**
 * The kernel32 binding of this runtime on Windows, bound on first use (as
 * libc is elsewhere).
 *
 * @throws {UnsupportedRuntimeError} Off Windows, or when kernel32 cannot be bound.
 *
 * @example
 * ```ts ignore
 * import { kernel32 } from "./mod.ts";
 * console.log(kernel32().systemInfo().allocationGranularity); // 65536
 * ```
 */
export function kernel32(): Kernel32 {
  if (runtimeKernel32) return runtimeKernel32;
  if (kernel32Error === undefined) {
    try {
      runtimeKernel32 = loadRuntimeKernel32();
      return runtimeKernel32;
    } catch (error) {
      kernel32Error = error;
    }
  }
  throw kernel32Error;
}

/**
 * A second binding of libc through this runtime's FFI, with a table of
 * constants of the caller's choosing and some calls left out: how tests run
 * the Darwin paths on Linux (variadic arguments laid out for Apple arm64, no
 * mremap, no posix_fallocate, F_FULLFSYNC) against the real kernel.
 *
 * @example
 * ```ts
 * import { bindRuntimeLibc, libc } from "./mod.ts";
 * const darwinLike = bindRuntimeLibc({ ...libc().constants, F_FULLFSYNC: 51 }, ["mremap"]);
 * console.log(darwinLike.mremap); // undefined
 * ```
 */
export function bindRuntimeLibc(constants: PlatformConstants, omit: readonly (keyof NativeCalls)[] = []): Libc {
  return bindWith(globalThis as RuntimeGlobals, constants, omit);
}

let runtimeLibc: Libc | undefined;
let loadError: unknown;
let loaded = false;
/** A replacement set by {@linkcode useLibc}; undefined means the runtime's own. */
let replacementLibc: Libc | undefined;

/**
 * Binds libc the first time something needs it, not when memmapfs is
 * imported: importing then costs no FFI permission prompt in Deno and no
 * ExperimentalWarning in Node for a program that never maps anything.
 */
function runtimeBinding(): Libc | undefined {
  if (!loaded) {
    loaded = true;
    try {
      runtimeLibc = loadRuntimeLibc();
    } catch (error) {
      loadError = error;
    }
  }
  return runtimeLibc;
}

/**
 * The active libc binding.
 *
 * @throws {UnsupportedRuntimeError} When this runtime cannot call libc.
 */
export function libc(): Libc {
  const active = replacementLibc ?? runtimeBinding();
  if (active) return active;
  throw loadError;
}

/** The runtime's own binding (loading it now if needed), or `undefined` when there is none. */
export function runtimeLibcOrUndefined(): Libc | undefined {
  return runtimeBinding();
}

/** Whether the runtime's libc is bound already (nothing here loads it). */
export function libcLoaded(): boolean {
  return runtimeLibc !== undefined;
}

/**
 * Replaces the active libc (for tests that inject faults); `null` restores the
 * runtime's own binding.
 */
export function useLibc(replacement: Libc | null): void {
  replacementLibc = replacement ?? undefined;
}

/**
 * The page size, without binding libc when the kernel says it some other way:
 * the `AT_PAGESZ` entry of `/proc/self/auxv` on Linux (read only where the
 * runtime's permission model already allows it, so Deno never prompts), the
 * platform's fixed size on Darwin; sysconf through libc otherwise.
 */
export function pageSizeWithoutFfi(): number | undefined {
  const globals = globalThis as RuntimeGlobals & {
    Deno?: { permissions?: { querySync?(descriptor: { name: "read"; path: string }): { state: string } } };
  };
  const where = platform(globals);
  const constants = where && constantsFor(where.os, where.arch);
  if (!constants) return undefined;
  if (constants.AT_PAGESZ === 0) return constants.defaultPageSize;
  const auxv = "/proc/self/auxv";
  try {
    const query = globals.Deno?.permissions?.querySync;
    if (query && query({ name: "read", path: auxv }).state !== "granted") {
      // Binding libc now would make Deno prompt at import: until FFI is
      // allowed nothing can be mapped, so the platform's usual size stands.
      return query({ name: "ffi" } as never).state === "granted" ? undefined : constants.defaultPageSize;
    }
    const get = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule;
    const fs = get?.("node:fs") as { readFileSync(path: string): Uint8Array } | undefined;
    if (!fs) return undefined;
    const bytes = fs.readFileSync(auxv);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Pairs of native-endian 64-bit words (type, value), ended by type 0.
    for (let at = 0; at + 16 <= view.byteLength; at += 16) {
      const type = view.getBigUint64(at, true);
      if (type === 0n) break;
      if (type === BigInt(constants.AT_PAGESZ)) return Number(view.getBigUint64(at + 8, true));
    }
  } catch {
    // No /proc, or a permission model that refuses it: ask libc instead.
  }
  return undefined;
}
