/**
 * Deno's permission model as memmapfs asks it. FFI bypasses the model, so
 * before every open, create or unlink memmapfs asks it the questions Deno's
 * own file APIs ask, on the same path:
 *
 * - read or write access to the path made absolute and normalised as text
 *   (`Deno.permissions.querySync`, or `requestSync` where Deno would prompt);
 * - for a file under /dev, /proc or /sys (only /dev off Linux), judged by its
 *   real path wherever a link led, whether every permission is granted, which
 *   is what Deno means by --allow-all (its `check_special_file`).
 *
 * Revocations are counted (see {@linkcode RevocationCounter}) so that the
 * granted answers `BoundLibc` remembers are forgotten when one happens.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { PlatformConstants } from "./constants.ts";
import { RevocationCounter } from "./revocation_counter.ts";
import type { PathPermissions } from "./native.ts";

/** The slice of the `Deno` namespace this file uses. */
export interface DenoPermissionsApi {
  permissions: {
    querySync(descriptor: { name: string; path?: string }): { state: string };
    requestSync(descriptor: { name: "read" | "write"; path: string } | { name: "ffi" }): { state: string };
    revokeSync(...args: never[]): unknown;
    revoke(...args: never[]): unknown;
  };
  cwd(): string;
}

/** Files under these directories need more than a read or write grant. */
const SPECIAL_DIRECTORIES: Record<"linux" | "other", readonly string[]> = {
  linux: ["/dev", "/proc", "/sys"],
  other: ["/dev"],
};
/** Devices Deno lets anyone with the read or write grant open. */
const HARMLESS_DEVICES = new Set(["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"]);
/** Every permission kind: granted all together, they are what Deno counts as --allow-all. */
const ALL_PERMISSIONS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"];
/** Revocations in this realm, counted once whatever the number of bindings. */
let revocations: RevocationCounter | undefined;

/**
 * Deno's permission model as a {@linkcode PathPermissions}.
 *
 * @example
 * ```ts ignore
 * const permissions = denoPathPermissions(Deno, constantsFor("linux", "x64")!);
 * permissions.check("/srv/data.bin", "read", "open"); // throws MmapError EACCES when Deno would refuse
 * ```
 */
export function denoPathPermissions(deno: DenoPermissionsApi, constants: PlatformConstants): PathPermissions {
  if (!revocations) {
    revocations = new RevocationCounter();
    revocations.watch(deno.permissions, "revokeSync");
    revocations.watch(deno.permissions, "revoke");
  }
  const counter = revocations;
  const linux = constants.name.startsWith("linux");
  // Whether every permission is granted (--allow-all), asked again only after
  // a revocation: only that can make it false. A prompt answered yes could
  // make it true meanwhile; a stale false only means checks that pass.
  let allGrantedAsOf = -1;
  let allGrantedNow = false;
  const allGranted = (): boolean => {
    if (allGrantedAsOf !== counter.count) {
      allGrantedNow = ALL_PERMISSIONS.every((name) => deno.permissions.querySync({ name }).state === "granted");
      allGrantedAsOf = counter.count;
    }
    return allGrantedNow;
  };
  const special = SPECIAL_DIRECTORIES[linux ? "linux" : "other"];

  /** Deno's rule for special files: --allow-all, or --allow-env for a process's `environ`. */
  function checkSpecialFile(path: string, syscall: string): void {
    if (HARMLESS_DEVICES.has(path)) return;
    if (!special.some((directory) => path === directory || path.startsWith(`${directory}/`))) return;
    const environ = linux && path.endsWith("/environ");
    if (environ ? deno.permissions.querySync({ name: "env" }).state === "granted" : allGranted()) return;
    const flag = environ ? "--allow-env" : "--allow-all";
    throw new MmapError(
      `EACCES: Deno requires ${flag} for "${path}", as its own file APIs do for files under ${special.join(", ")}`,
      { code: "EACCES", errno: 13, syscall, path },
    );
  }

  return {
    // Deno.cwd() needs no permission; the path it returns is what Deno resolves against.
    cwd: () => deno.cwd(),
    get revocations() {
      return counter.count;
    },
    check(path, access, syscall) {
      // Where Deno's own API would prompt (a terminal, no --no-prompt), request the same.
      const descriptor = { name: access, path };
      const { state } = deno.permissions.querySync(descriptor);
      if (state !== "granted" && !(state === "prompt" && deno.permissions.requestSync(descriptor).state === "granted")) {
        throw new MmapError(
          `EACCES: Deno denies ${access} access to "${path}": run with --allow-${access}=${path} ` +
            "(or a directory holding it)",
          { code: "EACCES", errno: 13, syscall, path },
        );
      }
      // The text already names a special file: refuse before opening it.
      checkSpecialFile(path, syscall);
    },
    // Deno judges special files by their real path, wherever a link led.
    checkRealPath: checkSpecialFile,
    // Under --allow-all Deno's own APIs check nothing and open the path as given.
    allowsAll: allGranted,
  };
}
