/**
 * A plain (unmapped) read of a whole regular file through the runtime's own
 * node:fs, so its permission model applies, that never waits on a FIFO or
 * reads a device forever: the open is non-blocking and the type is checked on
 * the descriptor before anything is read.
 *
 * @module
 */

import { errnoError } from "../errors.ts";
import { libc as activeLibc } from "../ffi/mod.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { errnoNumber } from "./file_descriptor.ts";
import { fsCall } from "./fs_paths.ts";

/**
 * The bytes of the regular file at `path`, read with node:fs.
 *
 * @example
 * ```ts ignore
 * const bytes = readRegularFile("/srv/assets/index.html");
 * ```
 *
 * @throws {MmapError} ENODEV for a FIFO, socket or device, EISDIR for a
 * directory, or the error node:fs reports (ENOENT, EACCES…).
 */
export function readRegularFile(path: string): Uint8Array {
  const { fs } = nodeBuiltins();
  const libc = activeLibc();
  const c = libc.constants;
  // node:fs passes numeric flags to open(2) as they are, on all three runtimes.
  const fd = fsCall("open", path, () => fs.openSync(path, c.O_RDONLY | c.O_NONBLOCK | c.O_NOCTTY));
  try {
    const stat = fsCall("fstat", path, () => fs.fstatSync(fd));
    if (stat.isDirectory()) throw errnoError(errnoNumber(libc, "EISDIR"), c.errnoNames, "read", path);
    if (!stat.isFile()) {
      const error = errnoError(errnoNumber(libc, "ENODEV"), c.errnoNames, "read", path);
      error.message += ": it is not a regular file, and memmapfs reads only regular files";
      throw error;
    }
    return fsCall("read", path, () => fs.readFileSync(fd));
  } finally {
    fs.closeSync(fd);
  }
}
