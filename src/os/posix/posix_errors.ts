/**
 * errno numbers and file types of the POSIX platform, by name: the shared
 * vocabulary of the files in `src/os/posix`.
 *
 * @module
 */

import { errnoError, type MmapError } from "../../errors.ts";
import type { PlatformConstants } from "../../ffi/constants.ts";
import type { Libc } from "../../ffi/libc.ts";
import type { FileKind } from "../platform.ts";

/**
 * The platform's number for an errno name.
 *
 * @example
 * ```ts
 * import { libc } from "../../ffi/mod.ts";
 * console.log(errnoNumber(libc(), "ENOENT")); // 2
 * ```
 */
export function errnoNumber(libc: Libc, name: string): number {
  for (const [number, candidate] of Object.entries(libc.constants.errnoNames)) {
    if (candidate === name) return Number(number);
  }
  throw new Error(`Unknown errno name ${name}`);
}

/**
 * The {@linkcode MmapError} of the call that just failed (`errno` read from
 * `libc`, unless given).
 *
 * @example
 * ```ts ignore
 * if (libc.fsync(fd) !== 0) throw lastError(libc, "fsync", path);
 * ```
 */
export function lastError(libc: Libc, syscall: string, path: string | null, errno = libc.errno): MmapError {
  return errnoError(errno, libc.constants.errnoNames, syscall, path);
}

/**
 * What `st_mode` (or a `d_type` turned into its `S_IF*` bits) says a file is.
 *
 * @example
 * ```ts
 * import { libc } from "../../ffi/mod.ts";
 * console.log(fileKind(0o100644, libc().constants)); // "file"
 * ```
 */
export function fileKind(mode: number, c: PlatformConstants): FileKind {
  switch (mode & c.S_IFMT) {
    case c.S_IFREG:
      return "file";
    case c.S_IFDIR:
      return "directory";
    case c.S_IFLNK:
      return "symlink";
    case c.S_IFIFO:
      return "fifo";
    case c.S_IFCHR:
      return "character-device";
    case c.S_IFBLK:
      return "block-device";
    case c.S_IFSOCK:
      return "socket";
    default:
      return "other";
  }
}
