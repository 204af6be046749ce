/**
 * Names of POSIX shared-memory objects, spelled the way Python's
 * `multiprocessing.shared_memory` spells them: `"psm_ab12"` and `"/psm_ab12"`
 * are the same object (Python reports the first and calls shm_open with the
 * second). Checked here, before libc sees them.
 *
 * @module
 */

import { platformLabel, type PlatformName } from "../ffi/constants.ts";
import { backslashPaths } from "../validate.ts";

const encoder = new TextEncoder();

/**
 * A checked shared-memory name in both spellings.
 *
 * @example
 * ```ts
 * const { name, posixName } = parseShmName("/psm_ab12");
 * console.log(name, posixName); // psm_ab12 /psm_ab12
 * ```
 */
export interface ShmName {
  /** Without the leading slash, as Python reports it: `"psm_ab12"`. */
  readonly name: string;
  /** With the leading slash, as shm_open wants it: `"/psm_ab12"`. */
  readonly posixName: string;
}

/**
 * Checks and normalises a shared-memory name: one optional leading slash,
 * then 1 to 255 bytes of UTF-8 with no other slash and no NUL, not `.` or `..`
 * (on Linux the object is the file `/dev/shm/<name>`, so these are the rules
 * of one file name). Darwin allows only 31 bytes; it reports ENAMETOOLONG.
 *
 * @example
 * ```ts
 * console.log(parseShmName("psm_ab12").posixName); // "/psm_ab12"
 * try {
 *   parseShmName("a/b");
 * } catch (error) {
 *   console.log(error instanceof TypeError); // true
 * }
 * ```
 *
 * @throws {TypeError} For a non-string, an empty name, `"/"`, `"."`, `".."`, a
 * slash after the first character, a NUL byte, or more than 255 bytes.
 */
export function parseShmName(value: unknown): ShmName {
  if (typeof value !== "string") {
    throw new TypeError(`Name must be a string, got ${value === null ? "null" : typeof value}`);
  }
  const name = value.startsWith("/") ? value.slice(1) : value;
  if (name.length === 0) throw new TypeError(`Name must not be empty, got "${value}"`);
  if (name.includes("/")) {
    throw new TypeError(`Name must not contain "/" after the first character, got "${value}"`);
  }
  if (name === "." || name === "..") throw new TypeError(`Name must not be "${name}"`);
  if (name.includes("\0")) throw new TypeError("Name must not contain NUL bytes");
  // NAME_MAX: glibc keeps shm objects as files in /dev/shm.
  const bytes = encoder.encode(name).length;
  if (bytes > 255) throw new TypeError(`Name must be at most 255 bytes, got ${bytes}`);
  return { name, posixName: `/${name}` };
}

/**
 * What {@linkcode assertShmNameFits} needs to know of a platform: a
 * `Platform`, or a table of platform constants (to check another platform's
 * limit, as tests do).
 *
 * @example
 * ```ts
 * const darwin: ShmNameLimits = { shmNameMaxBytes: 31, name: "darwin-arm64" };
 * ```
 */
export type ShmNameLimits =
  | { readonly shmNameMaxBytes: number; readonly displayName: string }
  | { readonly shmNameMaxBytes: number; readonly name: PlatformName };

/**
 * Refuses a name longer than the platform's shared-memory objects allow, before
 * libc sees it: Darwin keeps at most 31 bytes with the slash (PSHMNAMLEN),
 * Linux a file name (255 bytes, which {@linkcode parseShmName} checks).
 *
 * @example
 * ```ts
 * import { constantsFor } from "../ffi/constants.ts";
 * const name = parseShmName("a_name_that_is_longer_than_thirty_one_bytes");
 * assertShmNameFits(name, constantsFor("linux", "x64")!); // fine
 * try {
 *   assertShmNameFits(name, constantsFor("darwin", "arm64")!);
 * } catch (error) {
 *   console.log((error as TypeError).message); // Name must be at most 30 bytes on macOS …
 * }
 * ```
 *
 * @throws {TypeError} Naming the platform and its limit.
 */
export function assertShmNameFits(shmName: ShmName, limits: ShmNameLimits): void {
  const bytes = encoder.encode(shmName.posixName).length;
  if (bytes <= limits.shmNameMaxBytes) return;
  const where = "displayName" in limits ? limits.displayName : platformLabel(limits);
  throw new TypeError(
    `Name must be at most ${limits.shmNameMaxBytes - 1} bytes on ${where} ` +
      `(its shared-memory names hold ${limits.shmNameMaxBytes} bytes with the leading slash), ` +
      `got ${bytes - 1}: "${shmName.name}"`,
  );
}

/**
 * A fresh name nobody can guess: `prefix` (Python's `psm_` unless told; it
 * uses `wnsm_` on Windows) and 16 random hex digits (64 bits from the CSPRNG);
 * 21 bytes with the slash, within darwin's 31.
 *
 * @example
 * ```ts
 * console.log(randomShmName().name); // e.g. "psm_9f86d081884c7d65"
 * ```
 */
export function randomShmName(prefix = "psm_"): ShmName {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return parseShmName(`${prefix}${hex}`);
}

/**
 * Whether `nameOrPath` names a file rather than a shared-memory object: it
 * contains a slash after its first character (`"./region"`, `"/tmp/region"`),
 * or, where paths are spelled with backslashes (Windows), a backslash or a
 * drive letter (`"C:\\data\\region"`). A name has at most one slash, and only in front.
 *
 * @example
 * ```ts
 * console.log(isFilePath("/psm_ab12"), isFilePath("./region.bin")); // false true
 * ```
 */
export function isFilePath(nameOrPath: string): boolean {
  if (nameOrPath.indexOf("/", 1) !== -1) return true;
  // Where paths use backslashes, "C:\\x", "\\\\server\\share\\x" and "dir\\x" are
  // paths too: a Windows object name cannot hold a backslash past its namespace.
  return backslashPaths() && (nameOrPath.includes("\\") || /^[A-Za-z]:/.test(nameOrPath));
}
