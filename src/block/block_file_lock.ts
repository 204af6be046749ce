/**
 * The exclusive lock a BlockFile holds on its file for its whole life, and
 * the removal of a file `create` made that checks it is still that file.
 *
 * Two writers on one BlockFile hand the same blocks to both and corrupt it
 * silently, so `open` and `create` take `flock(LOCK_EX | LOCK_NB)` on the
 * descriptor they map: a second opener — another process, or another
 * `BlockFile` in this one (flock belongs to the open file description) — is
 * refused at once with {@linkcode BlockFileLockedError}, before anything is
 * written. Closing the descriptor releases the lock, also when the process
 * dies.
 *
 * @module
 */

import { errnoError, MmapError } from "../errors.ts";
import type { Libc } from "../ffi/libc.ts";
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
 * lockBlockFile(libc(), descriptor);
 * ```
 *
 * @throws {BlockFileLockedError} When another open file description holds it.
 * @throws {MmapError} When flock itself fails (ENOLCK on some network file systems…).
 */
export function lockBlockFile(libc: Libc, file: FileDescriptor): void {
  const c = libc.constants;
  if (libc.flock(file.fd, c.LOCK_EX | c.LOCK_NB) === 0) return;
  const errno = libc.errno;
  if (c.errnoNames[errno] !== "EAGAIN") throw errnoError(errno, c.errnoNames, "flock", file.path);
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
 * removeIfSame(libc(), path, descriptor);
 * ```
 */
export function removeIfSame(libc: Libc, path: string, file: FileDescriptor): void {
  const made = file.openedStat;
  let now: { dev: bigint; ino: bigint } | undefined;
  try {
    now = nodeBuiltins().fs.lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch { /* cannot tell what is there: leave it */ }
  if (now && now.dev === made.dev && now.ino === made.ino) libc.unlink(path);
}
