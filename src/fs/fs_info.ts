/**
 * What `MemMapFS` reports about files and directories: `FileInfo` from
 * `stat`/`lstat` and `DirEntry` from `readDir`, plain objects built from
 * what the platform reported, so they look the same on Deno, Bun and Node.
 *
 * @module
 */

import type { PlatformStat, RootEntry } from "../os/platform.ts";

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
 * A {@linkcode FileInfo} from what the platform's stat said.
 *
 * @example
 * ```ts ignore
 * const info = fileInfo(root.stat(place, true));
 * ```
 */
export function fileInfo(stat: PlatformStat): FileInfo {
  const kind = stat.kind;
  return {
    size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid, ino: Number(stat.ino), dev: Number(stat.dev),
    atime: new Date(Number(stat.atimeNs / 1_000_000n)), mtime: new Date(Number(stat.mtimeNs / 1_000_000n)),
    isFile: kind === "file", isDirectory: kind === "directory", isSymlink: kind === "symlink",
  };
}

/**
 * A {@linkcode DirEntry} from a directory entry's name and kind.
 *
 * @example
 * ```ts ignore
 * const entry = dirEntry({ name: "a.txt", kind: "file" });
 * ```
 */
export function dirEntry(entry: RootEntry): DirEntry {
  const { name, kind } = entry;
  return { name, isFile: kind === "file", isDirectory: kind === "directory", isSymlink: kind === "symlink" };
}
