/**
 * Where a MemMapFS path leads: relative paths resolve against the file
 * system's working directory, and a confined file system (from `sub()`)
 * refuses any path — by `..`, by being absolute, or through a symbolic link —
 * that ends up outside its directory. Also turns node:fs errors into
 * MmapError, so every OS failure looks the same.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import { constantsFor } from "../ffi/constants.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { toPath } from "../validate.ts";

/**
 * Runs a node:fs call, turning an OS error (an errno name such as `"ENOENT"`
 * in `code`) into an {@linkcode MmapError}. Any other error — node:fs's own
 * argument checks (`"ERR_OUT_OF_RANGE"`, `"ERR_INVALID_ARG_VALUE"`) — passes
 * through unchanged: those are mistakes, not OS failures.
 *
 * @example
 * ```ts ignore
 * const stat = fsCall("stat", path, () => fs.statSync(path));
 * ```
 */
export function fsCall<T>(syscall: string, path: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    const failure = error as { code?: unknown; errno?: unknown; syscall?: unknown; message?: string; name?: unknown };
    if (failure?.code === "ERR_ACCESS_DENIED" || failure?.name === "NotCapable" || failure?.name === "PermissionDenied") {
      // The runtime's permission model refused (Node's code, Deno's error
      // names): EACCES, as memmapfs's own check of the model says.
      throw new MmapError(`EACCES: the runtime's permission model denies ${syscall} of "${path}": ${failure.message}`, {
        code: "EACCES", errno: errnoOf({ code: "EACCES" })!, syscall, path,
      });
    }
    const errno = errnoOf(failure);
    if (errno === undefined) throw error;
    throw new MmapError(`${failure.code}: ${syscall} failed for "${path}"`, {
      code: failure.code as string,
      errno,
      syscall: typeof failure.syscall === "string" ? failure.syscall : syscall,
      path,
    });
  }
}

/**
 * The errno number of a node:fs error, or `undefined` when it is not an OS
 * error. Its code must look like an errno name; the number is its `errno`, or,
 * where a runtime leaves that out (Deno's utimesSync), the number of the name.
 */
function errnoOf(failure: { code?: unknown; errno?: unknown } | null | undefined): number | undefined {
  const code = failure?.code;
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  if (typeof failure!.errno === "number" && failure!.errno !== 0) return Math.abs(failure!.errno);
  const { process } = nodeBuiltins();
  const names = constantsFor(process.platform, process.arch)?.errnoNames ?? {};
  for (const [number, name] of Object.entries(names)) if (name === code) return Number(number);
  return undefined;
}

/**
 * Runs `open` on `target`; when its last part is a symbolic link (the core
 * opens with O_NOFOLLOW and reports ELOOP), runs it again on where the link
 * leads, so MemMapFS follows links as node:fs does. A confined file system
 * has already checked, in `FsPaths.resolve`, that this real path is inside.
 *
 * @example
 * ```ts ignore
 * const file = followingLinks("/srv/current.log", (path) => MappedFile.open(path));
 * ```
 */
export function followingLinks<T>(target: string, open: (path: string) => T): T {
  try {
    return open(target);
  } catch (error) {
    if (!(error instanceof MmapError) || error.code !== "ELOOP") throw error;
    const real = fsCall("realpath", target, () => nodeBuiltins().fs.realpathSync(target));
    if (real === target) throw error;
    return open(real);
  }
}

/**
 * Resolves paths for one MemMapFS.
 *
 * @example
 * ```ts ignore
 * const paths = new FsPaths("/srv", "/srv");   // confined to /srv
 * paths.resolve("assets/logo.png");            // "/srv/assets/logo.png"
 * paths.resolve("../etc/passwd");              // throws MmapError EACCES
 * ```
 */
export class FsPaths {
  readonly #confine: string | null;
  #realConfine: string | null = null;
  #cwd: string;

  /** `base` is the starting directory; `confine`, when set, is the directory no path may leave. */
  constructor(base: string, confine: string | null) {
    const { path } = nodeBuiltins();
    this.#cwd = path.resolve(base);
    this.#confine = confine === null ? null : path.resolve(confine);
  }

  /** The directory relative paths resolve against. */
  get cwd(): string {
    return this.#cwd;
  }

  /** The directory this file system is confined to, or `null`. */
  get confine(): string | null {
    return this.#confine;
  }

  /**
   * The absolute path `value` leads to; `name` is the argument's name for errors.
   *
   * @throws {TypeError} For a bad path.
   * @throws {MmapError} EACCES when a confined file system would leave its directory.
   */
  resolve(value: unknown, name = "path"): string {
    const { path } = nodeBuiltins();
    const resolved = path.resolve(this.#cwd, toPath(value, name));
    if (this.#confine === null) return resolved;
    if (!isInside(resolved, this.#confine)) throw escape(String(value), this.#confine);
    const real = this.#realPathOfExistingPart(resolved);
    if (!isInside(real, this.#realConfineDirectory())) throw escape(String(value), this.#confine);
    return resolved;
  }

  /** Changes the working directory. */
  chdir(value: unknown): void {
    const target = this.resolve(value);
    const { fs } = nodeBuiltins();
    const stat = fsCall("stat", target, () => fs.statSync(target));
    if (!stat.isDirectory()) {
      throw new MmapError(`ENOTDIR: chdir failed for "${target}"`, { code: "ENOTDIR", errno: 20, syscall: "chdir", path: target });
    }
    this.#cwd = target;
  }

  #realConfineDirectory(): string {
    const { fs } = nodeBuiltins();
    this.#realConfine ??= fs.realpathSync(this.#confine!);
    return this.#realConfine;
  }

  /** realpath of the longest part of `target` that exists, plus the rest. */
  #realPathOfExistingPart(target: string): string {
    const { fs, path } = nodeBuiltins();
    let existing = target;
    const rest: string[] = [];
    for (;;) {
      try {
        return path.join(fs.realpathSync(existing), ...rest);
      } catch {
        const parent = path.dirname(existing);
        if (parent === existing) return target;
        rest.unshift(path.basename(existing));
        existing = parent;
      }
    }
  }
}

function isInside(target: string, directory: string): boolean {
  return target === directory || target.startsWith(directory.endsWith("/") ? directory : `${directory}/`);
}

function escape(value: string, directory: string): MmapError {
  return new MmapError(`EACCES: "${value}" leads outside "${directory}", which this file system is confined to`, {
    code: "EACCES", errno: 13, syscall: "open", path: value,
  });
}
