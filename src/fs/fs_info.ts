/**
 * What `MemMapFS` reports about files and directories: `FileInfo` from
 * `stat`/`lstat` and `DirEntry` from `readDir`, plain objects built from
 * what libc reported, so they look the same on Deno, Bun and Node.
 *
 * @module
 */

import type { PlatformConstants } from "../ffi/constants.ts";
import type { FileStat } from "../ffi/libc.ts";

/**
 * A directory entry from {@linkcode MemMapFS.readDir}.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.mkdir("logs");
 * for (const entry of fs.readDir(".")) console.log(entry.name, entry.isDirectory); // logs true
 * ```
 */
export interface DirEntry {
  /** The entry's name, without its directory. */
  readonly name: string;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (not followed). */
  readonly isSymlink: boolean;
}

/**
 * What {@linkcode MemMapFS.stat} reports.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.writeFile("a.txt", "hello");
 * console.log(fs.stat("a.txt").size); // 5
 * ```
 */
export interface FileInfo {
  /** Bytes in the file. */
  readonly size: number;
  /** Permission and type bits, as in `st_mode`. */
  readonly mode: number;
  /** Owner's user id. */
  readonly uid: number;
  /** Owner's group id. */
  readonly gid: number;
  /** Inode number. */
  readonly ino: number;
  /** Device number. */
  readonly dev: number;
  /** Last access. */
  readonly atime: Date;
  /** Last modification. */
  readonly mtime: Date;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (only from `lstat`). */
  readonly isSymlink: boolean;
}

/**
 * A {@linkcode FileInfo} from what `fstatat` filled.
 *
 * @example
 * ```ts ignore
 * const info = fileInfo(libc.fstatat(dirFd, "a.txt", 0)!, libc.constants);
 * ```
 */
export function fileInfo(stat: FileStat, c: PlatformConstants): FileInfo {
  const type = stat.mode & c.S_IFMT;
  return {
    size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid, ino: Number(stat.ino), dev: Number(stat.dev),
    atime: new Date(Number(stat.atimeNs / 1_000_000n)), mtime: new Date(Number(stat.mtimeNs / 1_000_000n)),
    isFile: type === c.S_IFREG, isDirectory: type === c.S_IFDIR, isSymlink: type === c.S_IFLNK,
  };
}

/**
 * A {@linkcode DirEntry} from a directory entry's name and type.
 *
 * @example
 * ```ts ignore
 * const entry = dirEntry("a.txt", libc.constants.S_IFREG, libc.constants);
 * ```
 */
export function dirEntry(name: string, type: number, c: PlatformConstants): DirEntry {
  return { name, isFile: type === c.S_IFREG, isDirectory: type === c.S_IFDIR, isSymlink: type === c.S_IFLNK };
}
