/**
 * Argument checks shared by every public entry point. They run before any
 * syscall, so a bad argument never costs a descriptor or a mapping.
 *
 * @module
 */

import { nodeBuiltins } from "./node_builtins.ts";

/**
 * Checks that `value` is a non-negative safe integer: a byte count or offset.
 *
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is negative, fractional, NaN, infinite or above 2^53 - 1.
 */
export function assertByteCount(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${capitalize(name)} must be a number, got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `${capitalize(name)} must be a non-negative safe integer, got ${value}`,
    );
  }
}

/** Like {@linkcode assertByteCount}, for an optional argument. */
export function assertOptionalByteCount(
  value: unknown,
  name: string,
): asserts value is number | undefined {
  if (value !== undefined) assertByteCount(value, name);
}

/**
 * Checks that `value` is a safe integer that may be negative (a relative seek).
 *
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is fractional, NaN, infinite or unsafe.
 */
export function assertSafeInteger(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${capitalize(name)} must be a number, got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${capitalize(name)} must be a safe integer, got ${value}`);
  }
}

/**
 * Checks that `value` is one of `choices`.
 *
 * @throws {TypeError} When it is not a string or not a known choice.
 */
export function assertChoice<T extends string>(
  value: unknown,
  choices: readonly T[],
  name: string,
): asserts value is T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    throw new TypeError(
      `${capitalize(name)} must be one of ${choices.map((c) => `"${c}"`).join(", ")}, ` +
        `got ${describe(value)}`,
    );
  }
}

/** @throws {TypeError} When `value` is neither undefined nor a boolean. */
export function assertOptionalBoolean(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${capitalize(name)} must be a boolean, got ${describe(value)}`);
  }
}

/**
 * Checks an options argument: `undefined` is no options (`{}`), anything but a
 * plain object (null, an array, a string, a number…) is a mistake. With
 * `known`, an own key outside that list is a mistake too: a misspelt option
 * (`creat` for `create`) would otherwise be ignored without a word.
 *
 * @throws {TypeError} When `value` is neither undefined nor a non-array object,
 *   or has a key `known` does not list (the message names the key).
 */
export function optionsObject<T extends object>(value: T | undefined, name = "options", known?: readonly string[]): T {
  if (value === undefined) return {} as T;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${capitalize(name)} must be an object, got ${describe(value)}`);
  }
  if (known) assertKnownKeys(value, known, name);
  return value;
}

/**
 * Checks that every own enumerable key of `options` is one of `known`.
 *
 * @throws {TypeError} Naming the first unknown key and the keys that are known.
 */
export function assertKnownKeys(options: object, known: readonly string[], name = "options"): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    throw new TypeError(
      `Unknown option "${key.slice(0, 40)}" in ${name}: the known ones are ${known.join(", ")}`,
    );
  }
}

/**
 * Checks permission bits: a non-negative integer no larger than 0o7777.
 *
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is not a non-negative safe integer or above 0o7777.
 */
export function assertPermissions(value: unknown, name = "permissions"): asserts value is number {
  assertByteCount(value, name);
  if (value > 0o7777) {
    throw new RangeError(`${capitalize(name)} must be at most 0o7777, got 0o${value.toString(8)}`);
  }
}

/** Like {@linkcode assertPermissions}, for an optional argument. */
export function assertOptionalPermissions(value: unknown, name = "permissions"): asserts value is number | undefined {
  if (value !== undefined) assertPermissions(value, name);
}

/**
 * Checks a user or group id for chown: an integer from 0 to 2^32 - 1, or -1,
 * which (as in POSIX chown and node:fs on every runtime) leaves that id
 * unchanged; so does 2^32 - 1, which is `(uid_t)-1`.
 *
 * @throws {TypeError} When it is not a number.
 * @throws {RangeError} When it is fractional, NaN, infinite, below -1 or above 2^32 - 1.
 */
export function assertOwnerId(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${capitalize(name)} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < -1 || value > 2 ** 32 - 1) {
    throw new RangeError(
      `${capitalize(name)} must be an integer from 0 to ${2 ** 32 - 1}, or -1 to leave it unchanged, got ${value}`,
    );
  }
}

/**
 * Whether this system spells paths with backslashes (Windows), read from the
 * runtime's node:path; false where there is none.
 *
 * @example
 * ```ts
 * console.log(backslashPaths()); // false on Linux and macOS
 * ```
 */
export function backslashPaths(): boolean {
  try {
    return nodeBuiltins().path.sep === "\\";
  } catch {
    return false;
  }
}

/**
 * Turns a `string | URL` into a file path.
 *
 * @throws {TypeError} For another type, an empty path, a NUL byte, or a non-file URL.
 */
export function toPath(value: unknown, name = "path"): string {
  let path: string;
  if (value instanceof URL) {
    if (value.protocol !== "file:") {
      throw new TypeError(`${capitalize(name)} must be a file: URL, got ${value.protocol} URL`);
    }
    // Where paths are spelled with backslashes, a file URL names a drive or a
    // share (file:///C:/x is C:\x, not /C:/x): the runtime's own conversion knows how.
    path = backslashPaths() ? nodeBuiltins().url.fileURLToPath(value) : decodeURIComponent(value.pathname);
  } else if (typeof value === "string") {
    path = value;
  } else {
    throw new TypeError(`${capitalize(name)} must be a string or a URL, got ${describe(value)}`);
  }
  if (path.length === 0) throw new TypeError(`${capitalize(name)} must not be empty`);
  if (path.includes("\0")) throw new TypeError(`${capitalize(name)} must not contain NUL bytes`);
  return path;
}

/**
 * Checks that `value` is bytes or a string to write.
 *
 * @throws {TypeError} For anything else.
 */
export function toBytes(value: unknown, name = "source"): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return encoder.encode(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new TypeError(`${capitalize(name)} must be a Uint8Array or a string, got ${describe(value)}`);
}

/**
 * Checks a file time: a valid `Date`, or a finite number of seconds since the epoch.
 *
 * @throws {TypeError} For anything else, an invalid Date, NaN or ±Infinity.
 */
export function assertTime(value: unknown, name: string): asserts value is Date | number {
  const valid = value instanceof Date ? !Number.isNaN(value.getTime()) : typeof value === "number" && Number.isFinite(value);
  if (!valid) throw new TypeError(`${capitalize(name)} must be a valid Date or a finite number, got ${describe(value)}`);
}

/** @throws {TypeError} When `value` is not a Uint8Array. */
export function assertUint8Array(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${capitalize(name)} must be a Uint8Array, got ${describe(value)}`);
  }
}

const encoder = new TextEncoder();

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return `string "${value.slice(0, 40)}"`;
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return `${typeof value} ${String(value)}`;
}
