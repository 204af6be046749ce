/**
 * The errors memmapfs throws. Argument mistakes are plain `TypeError` and
 * `RangeError`; failures the operating system reports are {@linkcode MmapError}
 * (or a subclass) with the errno name in `code`, the call in `syscall` and the
 * file in `path`.
 *
 * @module
 */

/**
 * An operating-system call failed.
 *
 * @example
 * ```ts
 * import { MappedFile, MmapError } from "@memmapfs/memmapfs";
 * try {
 *   MappedFile.open("/no/such/file");
 * } catch (error) {
 *   if (error instanceof MmapError) console.log(error.code, error.syscall); // ENOENT open
 * }
 * ```
 */
export class MmapError extends Error {
  /** The errno name, such as `"ENOENT"`, or `"E<number>"` for an unknown one. */
  readonly code: string;
  /** The errno number. */
  readonly errno: number;
  /** The libc call that failed, such as `"mmap"`. */
  readonly syscall: string;
  /** The file or shared-memory name involved, when there is one. */
  readonly path?: string;

  /** Builds the error; `details.path` is left out of the object when null. */
  constructor(
    message: string,
    details: { code: string; errno: number; syscall: string; path?: string | null },
  ) {
    super(message);
    this.name = new.target.name;
    this.code = details.code;
    this.errno = details.errno;
    this.syscall = details.syscall;
    if (details.path != null) this.path = details.path;
  }
}

/**
 * A checked access found the file shorter than the mapping: another process
 * truncated it. Call `remap()` to continue with the new size.
 *
 * @example
 * ```ts
 * import { FileTruncatedError, MappedFile } from "@memmapfs/memmapfs";
 * const file = MappedFile.anonymous(4096);
 * try {
 *   file.readAt(new Uint8Array(16), 0);
 * } catch (error) {
 *   if (error instanceof FileTruncatedError) file.remap();
 * }
 * file.close();
 * ```
 */
export class FileTruncatedError extends MmapError {}

/**
 * The object was used after `close()`.
 *
 * @example
 * ```ts
 * import { ClosedError, MappedFile } from "@memmapfs/memmapfs";
 * const file = MappedFile.anonymous(4096);
 * file.close();
 * try {
 *   file.getUint8(0);
 * } catch (error) {
 *   console.log(error instanceof ClosedError); // true
 * }
 * ```
 */
export class ClosedError extends Error {
  /** `what` names the closed object, as in `MappedFile "/tmp/data.bin"`. */
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}

/**
 * This runtime cannot call libc: it has no FFI, or FFI is not enabled.
 * Importing memmapfs still works; the first call that needs libc throws this.
 *
 * @example
 * ```ts
 * import { MappedFile, UnsupportedRuntimeError } from "@memmapfs/memmapfs";
 * try {
 *   MappedFile.anonymous(4096).close();
 * } catch (error) {
 *   if (error instanceof UnsupportedRuntimeError) console.error(error.message);
 * }
 * ```
 */
export class UnsupportedRuntimeError extends Error {
  /** `message` says what the runtime lacks and how to get it. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UnsupportedRuntimeError";
  }
}

/**
 * Builds the {@linkcode MmapError} for a failed libc call from its errno.
 *
 * @example
 * ```ts
 * import { errnoError } from "./errors.ts";
 * const error = errnoError(2, { 2: "ENOENT" }, "open", "/missing");
 * console.log(error.message); // ENOENT: open failed for "/missing" (No such file or directory)
 * ```
 */
export function errnoError(
  errno: number,
  names: Readonly<Record<number, string>>,
  syscall: string,
  path?: string | null,
): MmapError {
  const code = names[errno] ?? `E${errno}`;
  const where = path != null ? ` for "${path}"` : "";
  const description = DESCRIPTIONS[code];
  const message = `${code}: ${syscall} failed${where}${description ? ` (${description})` : ""}`;
  return new MmapError(message, { code, errno, syscall, path });
}

const DESCRIPTIONS: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ETXTBSY: "Text file busy",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  ENAMETOOLONG: "File name too long",
  ENOSYS: "Function not implemented",
  ELOOP: "Too many levels of symbolic links",
  EOVERFLOW: "Value too large for defined data type",
  EOPNOTSUPP: "Operation not supported",
  ENOTSUP: "Operation not supported",
  EDQUOT: "Disk quota exceeded",
};

/**
 * {@linkcode MmapError} `EACCES` for a path that leads outside `root`, the
 * directory a confined file system may not leave.
 *
 * @example
 * ```ts
 * import { escapeError } from "./errors.ts";
 * console.log(escapeError("../etc/passwd", "/srv").code); // "EACCES"
 * ```
 */
export function escapeError(path: string, root: string): MmapError {
  return new MmapError(`EACCES: "${path}" leads outside "${root}", which this file system is confined to`, {
    code: "EACCES", errno: 13, syscall: "open", path,
  });
}
