/**
 * Where a MemMapFS path leads, as text: relative paths resolve against the
 * file system's working directory, and a confined file system refuses a path
 * whose text leaves its directory (symbolic links are resolved later, beneath
 * the directory's descriptor, by `DirectoryRoot`). Also turns node:fs errors
 * into MmapError, so every OS failure looks the same.
 *
 * @module
 */

import { escapeError, MmapError } from "../errors.ts";
import { errnoNumberOf } from "../os/mod.ts";
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
  return errnoNumberOf(code);
}

/** Resolved paths an FsPaths remembers before it starts over. */
const REMEMBERED_PATHS = 1024;

/**
 * Where one path leads: relative to the file system's root (a confined root)
 * or absolute (the unconfined one), and as an absolute path for messages,
 * permission checks and cache keys.
 *
 * @example
 * ```ts ignore
 * const place: Place = { relative: "css/site.css", display: "/srv/css/site.css" };
 * ```
 */
export interface Place {
  /** What the root resolves: below it when confined, else an absolute path. */
  readonly relative: string;
  /** The absolute path, normalised as text. */
  readonly display: string;
}

/**
 * Turns MemMapFS paths into {@linkcode Place}s: relative ones against the
 * file system's working directory, normalised as text (`a/../b` is `b`), and a
 * confined one refuses, before any system call, a path whose text leaves its
 * root. Symbolic links are the root's business: it resolves them beneath its
 * descriptor when the method runs.
 *
 * @example
 * ```ts ignore
 * const paths = new FsPaths("/srv", "/srv");   // confined to /srv
 * paths.locate("assets/logo.png");             // { relative: "assets/logo.png", display: "/srv/assets/logo.png" }
 * paths.locate("../etc/passwd");               // throws MmapError EACCES
 * ```
 */
export class FsPaths {
  readonly #confine: string | null;
  /** The separator of the system's paths (`/`; `\` on Windows). */
  readonly #sep: string;
  #cwd: string;
  /** Paths as given → their absolute paths, for paths that passed the checks. */
  readonly #resolved = new Map<string, string>();

  /** `base` is the starting directory; `confine`, when set, is the directory no path may leave. */
  constructor(base: string, confine: string | null) {
    const { path } = nodeBuiltins();
    this.#sep = path.sep;
    this.#cwd = path.resolve(base);
    this.#confine = confine === null ? null : path.resolve(confine);
  }

  /** The directory relative paths resolve against. */
  get cwd(): string {
    return this.#cwd;
  }

  /**
   * The place `value` names; `name` is the argument's name for errors.
   *
   * @throws {TypeError} For a bad path.
   * @throws {MmapError} EACCES when the text of a confined path leaves its root.
   */
  locate(value: unknown, name = "path"): Place {
    return this.placeOf(this.absolute(value, name));
  }

  /**
   * The absolute path `value` names, checked as {@linkcode FsPaths.locate}
   * checks it, without making a Place (a cache hit needs no more).
   *
   * @throws {TypeError} For a bad path.
   * @throws {MmapError} EACCES when the text of a confined path leaves its root.
   */
  absolute(value: unknown, name = "path"): string {
    // The text alone decides the answer (working directory and root fixed until
    // chdir), so strings already resolved are looked up: a warm open resolves
    // the same few paths again and again.
    if (typeof value === "string") {
      const known = this.#resolved.get(value);
      if (known !== undefined) return known;
    }
    const display = nodeBuiltins().path.resolve(this.#cwd, toPath(value, name));
    const confine = this.#confine;
    if (confine !== null && display !== confine && !display.startsWith(confine.endsWith(this.#sep) ? confine : `${confine}${this.#sep}`)) {
      throw escapeError(String(value), confine);
    }
    if (typeof value === "string") {
      if (this.#resolved.size >= REMEMBERED_PATHS) this.#resolved.clear();
      this.#resolved.set(value, display);
    }
    return display;
  }

  /** The place of an absolute path {@linkcode FsPaths.absolute} returned. */
  placeOf(display: string): Place {
    const confine = this.#confine;
    if (confine === null) return { relative: display, display };
    if (display === confine) return { relative: "", display };
    return { relative: display.slice(confine.endsWith(this.#sep) ? confine.length : confine.length + 1), display };
  }

  /** Moves the working directory to `place` (checked to be a directory by the caller). */
  chdir(place: Place): void {
    this.#cwd = place.display;
    this.#resolved.clear();
  }
}
