/**
 * The exclusive lock a BlockFile holds on its file for its whole life, and
 * the removal of a file `create` made that checks it is still that file.
 *
 * Two writers on one BlockFile hand the same blocks to both and corrupt it
 * silently, so `open` and `create` take an exclusive whole-file lock
 * without waiting (`Platform.tryLockFile`) on the descriptor they map: a
 * second opener — another process, or another `BlockFile` in this one (the
 * lock belongs to the open file, not the process) — is
 * refused at once with {@linkcode BlockFileLockedError}, before anything is
 * written. Closing the descriptor releases the lock, also when the process
 * dies.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { Platform } from "../os/platform.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import type { FileDescriptor } from "../fs/file_descriptor.ts";

/**
 * Another `BlockFile` — in another process, or in this one — has the file
 * open: `code` is `"ELOCKED"`, `syscall` `"flock"`, `errno` the platform's
 * EWOULDBLOCK. Nothing was written; close the other one, or wait and retry.
 *
 * @example
 * ```ts
 * import { BlockFile, BlockFileLockedError } from "@memmapfs/memmapfs";
 * const path = `${Deno.makeTempDirSync()}/blocks.db`;
 * using first = BlockFile.create(path);
 * try {
 *   BlockFile.open(path);
 * } catch (error) {
 *   if (error instanceof BlockFileLockedError) console.log(error.code); // "ELOCKED"
 * }
 * ```
 */
export class BlockFileLockedError extends MmapError {}

/**
 * Takes the BlockFile lock on `file`, or throws.
 *
 * @example
 * ```ts ignore
 * lockBlockFile(platform(), descriptor);
 * ```
 *
 * @throws {BlockFileLockedError} When another open file description holds it.
 * @throws {MmapError} When taking the lock itself fails (ENOLCK on some network file systems…).
 */
export function lockBlockFile(platform: Platform, file: FileDescriptor): void {
  if (platform.tryLockFile(file.fd, file.path)) return;
  const errno = platform.error("EAGAIN", "flock", file.path).errno;
  throw new BlockFileLockedError(
    `ELOCKED: "${file.path}" is open as a BlockFile elsewhere (another process or another BlockFile ` +
      "in this one holds its lock); close that one first",
    { code: "ELOCKED", errno, syscall: "flock", path: file.path },
  );
}

/**
 * Unlinks `path` only if it still names the file `file` opened (same device
 * and inode, not following a link), so a failed `create` takes away what it
 * made and never what someone put at the path since. Best effort: it runs
 * while the caller is already throwing.
 *
 * @example
 * ```ts ignore
 * removeIfSame(platform(), path, descriptor);
 * ```
 */
export function removeIfSame(platform: Platform, path: string, file: FileDescriptor): void {
  const made = file.openedStat;
  let now: { dev: bigint; ino: bigint } | undefined;
  try {
    now = nodeBuiltins().fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch { /* cannot tell what is there: leave it */ }
  if (now && now.dev === made.dev && now.ino === made.ino) platform.removeFile(path);
}
