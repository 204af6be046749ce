/**
 * Argument checks shared by every public entry point. They run before any
 * syscall, so a bad argument never costs a descriptor or a mapping.
 *
 * @module
 */

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
    path = decodeURIComponent(value.pathname);
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
