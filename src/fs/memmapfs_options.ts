/**
 * The options of `new MemMapFS()` and of its `mkdir`, and their checks: they
 * run before anything is resolved, statted or opened.
 *
 * @module
 */

import { pageSize } from "../page_size.ts";
import { assertByteCount, assertKnownKeys, assertOptionalBoolean, assertOptionalPermissions, optionsObject, toPath } from "../validate.ts";
import { MAP_OPTION_KEYS, type MapOptions, resolveMapOptions } from "./map_options.ts";
import type { CacheLimits } from "./mapping_cache.ts";

/**
 * Options of {@linkcode MemMapFS}: defaults for every file it opens, plus `root` and `cache`.
 *
 * @example
 * ```ts
 * import { MemMapFS, type MemMapFSOptions } from "@memmapfs/memmapfs";
 * const options: MemMapFSOptions = { root: Deno.makeTempDirSync(), window: 1 << 20, cache: false };
 * const fs = new MemMapFS(options);
 * ```
 */
export interface MemMapFSOptions extends MapOptions {
  /** Directory relative paths resolve against (a path or a file: URL); default the process's working directory. */
  root?: string | URL;
  /** Limits of the mapping cache, or `false` to map every open afresh. */
  cache?: CacheLimits | false;
}

/** The checked options of `new MemMapFS()`. */
export interface CheckedMemMapFSOptions {
  /** The root as a path, or `undefined` for the working directory. */
  readonly root: string | undefined;
  readonly cache: CacheLimits | false;
  /** The MapOptions defaults for every open. */
  readonly defaults: MapOptions;
}

/**
 * Checks the options of `new MemMapFS()`.
 *
 * @throws {TypeError} For options that are not an object, a wrong option type
 *   (null included), or a `root` that is not a non-empty path or file: URL
 *   without NUL bytes.
 * @throws {RangeError} For a negative, fractional or unsafe number.
 */
export function checkMemMapFSOptions(given: MemMapFSOptions | undefined): CheckedMemMapFSOptions {
  const { root, cache, ...defaults } = optionsObject(given, "options", [...MAP_OPTION_KEYS, "root", "cache"]);
  resolveMapOptions(defaults, pageSize);
  const rootPath = root === undefined ? undefined : toPath(root, "root");
  if (cache !== undefined && cache !== false) {
    if (typeof cache !== "object" || cache === null) throw new TypeError("Cache must be an object or false");
    assertKnownKeys(cache, ["maxBytes", "maxFiles", "validateAfterMs"], "cache");
    if (cache.maxBytes !== undefined) assertByteCount(cache.maxBytes, "cache.maxBytes");
    if (cache.maxFiles !== undefined) assertByteCount(cache.maxFiles, "cache.maxFiles");
    if (cache.validateAfterMs !== undefined) assertByteCount(cache.validateAfterMs, "cache.validateAfterMs");
  }
  return { root: rootPath, cache: cache ?? {}, defaults };
}

/** Options of {@linkcode MemMapFS.mkdir}. */
export interface MkdirOptions {
  /** Make missing parents too, and accept an existing directory. Default false. */
  recursive?: boolean;
  /** Mode of a new directory, at most 0o7777 (less the umask); default 0o777. */
  permissions?: number;
}

/**
 * Checks the options of `mkdir` and fills in defaults.
 *
 * @throws {TypeError} For options that are not an object, or a wrong option type (null included).
 * @throws {RangeError} For permissions that are negative, fractional or above 0o7777.
 */
export function checkMkdirOptions(given: MkdirOptions | undefined): { recursive: boolean; mode: number } {
  const options = optionsObject(given, "options", ["recursive", "permissions"]);
  assertOptionalBoolean(options.recursive, "recursive");
  assertOptionalPermissions(options.permissions);
  return { recursive: options.recursive ?? false, mode: options.permissions ?? 0o777 };
}
