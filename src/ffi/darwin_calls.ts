/**
 * The calls Darwin lacks or makes differently, built from the ones it has, so
 * the {@linkcode Libc} the core sees keeps one meaning on every platform:
 *
 * - `fsync` on macOS writes to the drive but leaves the data in the drive's
 *   own cache; `fcntl(F_FULLFSYNC)` flushes that too. Durability needs it.
 * - There is no `posix_fallocate`. `fcntl(F_PREALLOCATE)` reserves blocks past
 *   the physical end of file and `ftruncate` then sets the size, so a full
 *   disk fails at resize time rather than as SIGBUS when a page is written.
 *
 * Each function takes the runtime's raw calls and returns what C would:
 * `-1` with errno (fsync) or an error number (posix_fallocate). Which platform
 * needs them is a number in constants.ts (`F_FULLFSYNC`, `F_PREALLOCATE`), so
 * tests drive this code on Linux with a recording stand-in for the calls.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";

/** The raw calls these functions use: a subset of NativeCalls. */
export interface DarwinRawCalls {
  fsync(fd: number): number;
  ftruncate(fd: number, length: number): number;
  fstat(fd: number, buffer: Uint8Array): number;
  fcntl?(fd: number, command: number, arg: number): number;
  fcntlPointer?(fd: number, command: number, buffer: Uint8Array): number;
  errno(): number;
}

/** Errors that mean "this file system cannot do that", not "it failed". */
const UNSUPPORTED = ["ENOTTY", "ENOTSUP", "EOPNOTSUPP", "EINVAL", "ENOSYS", "EBADF"];

function named(constants: PlatformConstants, errno: number): string {
  return constants.errnoNames[errno] ?? `errno ${errno}`;
}

/**
 * `fcntl(fd, F_FULLFSYNC)`, or `fsync` where the file system (or object: a
 * shared-memory descriptor answers EBADF) does not support it. Returns 0, or
 * -1 with `errno` set as the failing call left it.
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * const calls = { fsync: () => 0, ftruncate: () => 0, fstat: () => 0, fcntl: () => 0, errno: () => 0 };
 * console.log(fullFsync(calls, constantsFor("darwin", "arm64")!, 3)); // { result: 0, errno: 0 }
 * ```
 */
export function fullFsync(
  calls: DarwinRawCalls,
  constants: PlatformConstants,
  fd: number,
): { result: number; errno: number } {
  if (constants.F_FULLFSYNC !== 0 && calls.fcntl) {
    if (calls.fcntl(fd, constants.F_FULLFSYNC, 0) !== -1) return { result: 0, errno: 0 };
    const errno = calls.errno();
    // EIO and the like are real failures: falling back to fsync could report success over them.
    if (!UNSUPPORTED.includes(named(constants, errno))) return { result: -1, errno };
  }
  if (calls.fsync(fd) !== -1) return { result: 0, errno: 0 };
  return { result: -1, errno: calls.errno() };
}

/** Errors of F_PREALLOCATE that are the answer, not a sign to try plain ftruncate. */
const NO_SPACE = ["ENOSPC", "EDQUOT", "EFBIG"];

/**
 * posix_fallocate(fd, offset, length) where the platform has F_PREALLOCATE
 * instead: reserves `length` bytes past the physical end of file (contiguous
 * if it can, else anywhere, all or nothing), then grows the file to `offset +
 * length` with ftruncate unless it is already that long. Returns 0 or an
 * error number, as posix_fallocate does; a descriptor or file system that
 * cannot preallocate (a shared-memory object, a network volume) only gets the
 * ftruncate, which is what Linux's fallback does too.
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * const calls = { fsync: () => 0, ftruncate: () => 0, fstat: () => 0, fcntlPointer: () => 0, errno: () => 0 };
 * console.log(preallocate(calls, constantsFor("darwin", "arm64")!, 3, 0, 16384)); // 0
 * ```
 */
export function preallocate(
  calls: DarwinRawCalls,
  constants: PlatformConstants,
  fd: number,
  offset: number,
  length: number,
): number {
  const layout = constants.fstore;
  if (constants.F_PREALLOCATE !== 0 && layout && calls.fcntlPointer) {
    const store = new Uint8Array(layout.size);
    const view = new DataView(store.buffer);
    view.setUint32(layout.flags, layout.F_ALLOCATECONTIG | layout.F_ALLOCATEALL, true);
    view.setInt32(layout.posmode, layout.F_PEOFPOSMODE, true);
    view.setBigInt64(layout.offset, 0n, true); // F_PEOFPOSMODE wants 0 here
    view.setBigInt64(layout.length, BigInt(length), true);
    let done = calls.fcntlPointer(fd, constants.F_PREALLOCATE, store) !== -1;
    if (!done) {
      // No contiguous run that long: any blocks will do.
      view.setUint32(layout.flags, layout.F_ALLOCATEALL, true);
      done = calls.fcntlPointer(fd, constants.F_PREALLOCATE, store) !== -1;
    }
    if (!done) {
      const errno = calls.errno();
      if (NO_SPACE.includes(named(constants, errno))) return errno;
    }
  }
  const statBuffer = new Uint8Array(constants.stat.size);
  if (calls.fstat(fd, statBuffer) === -1) return calls.errno();
  const size = Number(new DataView(statBuffer.buffer).getBigInt64(constants.stat.fileSize, true));
  // posix_fallocate never shrinks a file someone else has grown meanwhile.
  if (size >= offset + length) return 0;
  return calls.ftruncate(fd, offset + length) === -1 ? calls.errno() : 0;
}
