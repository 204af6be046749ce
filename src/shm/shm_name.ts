/**
 * Names of POSIX shared-memory objects, spelled the way Python's
 * `multiprocessing.shared_memory` spells them: `"psm_ab12"` and `"/psm_ab12"`
 * are the same object. Checked here, before libc sees them.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A checked shared-memory name in both spellings. */
export interface ShmName {
  /** Without the leading slash, as Python reports it: `"psm_ab12"`. */
  readonly name: string;
  /** With the leading slash, as shm_open wants it: `"/psm_ab12"`. */
  readonly posixName: string;
}

/**
 * Checks and normalises a shared-memory name.
 *
 * @throws {TypeError} For a non-string, an empty name, `"/"`, `"."`, `".."`, a
 * slash after the first character, a NUL byte, or more than 255 bytes.
 */
export function parseShmName(value: unknown): ShmName {
  if (typeof value !== "string") throw new TypeError(`Name must be a string, got ${typeof value}`);
  const name = value.startsWith("/") ? value.slice(1) : value;
  if (name.length === 0) throw new TypeError(`Name must not be empty, got "${value}"`);
  if (name.includes("/")) throw new TypeError(`Name must not contain "/" after the first character, got "${value}"`);
  if (name === "." || name === "..") throw new TypeError(`Name must not be "${name}"`);
  if (name.includes("\0")) throw new TypeError("Name must not contain NUL bytes");
  // NAME_MAX: the kernel keeps shm objects as files in /dev/shm.
  if (encoder.encode(name).length > 255) throw new TypeError("Name must be at most 255 bytes");
  return { name, posixName: `/${name}` };
}

/** A fresh name nobody can guess: `psm_` and 16 random hex digits, like Python's. */
export function randomShmName(): ShmName {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return parseShmName(`psm_${hex}`);
}

/**
 * Whether `nameOrPath` names a file rather than a shared-memory object: it
 * contains a slash after its first character (`"./region"`, `"/tmp/region"`).
 */
export function isFilePath(nameOrPath: string): boolean {
  return nameOrPath.indexOf("/", 1) !== -1;
}
