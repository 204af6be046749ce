/**
 * What `MemMapFS` reports about files and directories: `FileInfo` from
 * `stat`/`lstat` and `DirEntry` from `readDir`, plain objects built from
 * node:fs results so they look the same on Deno, Bun and Node.
 *
 * @module
 */

import type { Dirent, Stats } from "node:fs";

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
 * A {@linkcode FileInfo} from node:fs `Stats`.
 *
 * @example
 * ```ts ignore
 * const info = fileInfo(fs.statSync("/etc/hostname"));
 * ```
 */
export function fileInfo(stat: Stats): FileInfo {
  return {
    size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid, ino: stat.ino, dev: stat.dev,
    atime: stat.atime, mtime: stat.mtime, isFile: stat.isFile(), isDirectory: stat.isDirectory(),
    isSymlink: stat.isSymbolicLink(),
  };
}

/**
 * A {@linkcode DirEntry} from a node:fs `Dirent`.
 *
 * @example
 * ```ts ignore
 * const entries = fs.readdirSync(".", { withFileTypes: true }).map(dirEntry);
 * ```
 */
export function dirEntry(entry: Dirent): DirEntry {
  return {
    name: entry.name,
    isFile: entry.isFile(),
    isDirectory: entry.isDirectory(),
    isSymlink: entry.isSymbolicLink(),
  };
}
