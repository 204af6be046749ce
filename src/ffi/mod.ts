/**
 * Picks the libc binding for the running runtime, once, when memmapfs loads.
 * A runtime without FFI does not fail the import: the first call that needs
 * libc throws an {@linkcode UnsupportedRuntimeError} that says what is missing.
 * Tests may swap the active {@linkcode Libc} for a fault-injecting one.
 *
 * @module
 */

import { UnsupportedRuntimeError } from "../errors.ts";
import { bunNativeCalls } from "./bun.ts";
import { constantsFor, type PlatformConstants } from "./constants.ts";
import { denoNativeCalls } from "./deno.ts";
import type { Libc } from "./libc.ts";
import { bindLibc } from "./native.ts";
import { loadNodeFfi, nodeNativeCalls } from "./node.ts";

export type { FileStat, Libc, RuntimeName } from "./libc.ts";
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
  if (!constants) {
    throw new UnsupportedRuntimeError(
      `memmapfs supports linux and darwin on x64 and arm64, not ${where.os}-${where.arch}`,
    );
  }
  if (globals.Deno) {
    try {
      return bindLibc(denoNativeCalls(constants), constants);
    } catch (cause) {
      throw new UnsupportedRuntimeError(
        "memmapfs could not load libc through Deno.dlopen: run Deno with --allow-ffi " +
          "(and --allow-read/--allow-write for the files you map)",
        { cause },
      );
    }
  }
  if (globals.Bun) return bindLibc(bunNativeCalls(constants), constants);
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
    return bindLibc(nodeNativeCalls(ffi, constants), constants);
  } catch (cause) {
    if ((cause as { code?: unknown })?.code !== "ERR_ACCESS_DENIED") throw cause;
    throw new UnsupportedRuntimeError(
      "memmapfs could not load libc through node:ffi: under node --permission, run with --allow-ffi " +
        "(and --allow-fs-read/--allow-fs-write for the files you map)",
      { cause },
    );
  }
}

let runtimeLibc: Libc | undefined;
let loadError: unknown;
try {
  runtimeLibc = loadRuntimeLibc();
} catch (error) {
  loadError = error;
}
let activeLibc: Libc | undefined = runtimeLibc;

/**
 * The active libc binding.
 *
 * @throws {UnsupportedRuntimeError} When this runtime cannot call libc.
 */
export function libc(): Libc {
  if (activeLibc) return activeLibc;
  throw loadError;
}

/** The runtime's own binding, or `undefined` when there is none. */
export function runtimeLibcOrUndefined(): Libc | undefined {
  return runtimeLibc;
}

/**
 * Replaces the active libc (for tests that inject faults); `null` restores the
 * runtime's own binding.
 */
export function useLibc(replacement: Libc | null): void {
  activeLibc = replacement ?? runtimeLibc;
}
