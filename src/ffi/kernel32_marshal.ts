/**
 * How kernel32's arguments and results look in memory: NUL-terminated
 * UTF-16 strings, FILETIMEs, and the x64 layouts of the structs memmapfs
 * reads (from the Windows SDK headers).
 *
 * @module
 */

/**
 * `text` as the NUL-terminated UTF-16LE a `W` function reads. Every code unit
 * passes as it is: Windows names are sequences of 16-bit units, unpaired
 * surrogates included.
 *
 * @throws {TypeError} When `text` holds a NUL: Windows would stop reading
 *   there and act on a different path or name.
 *
 * @example
 * ```ts
 * import { wideString } from "./kernel32_marshal.ts";
 * console.log(wideString("C:").length); // 6: 'C', ':' and the NUL, two bytes each
 * ```
 */
export function wideString(text: string): Uint8Array {
  if (text.includes("\0")) throw new TypeError("A path or name passed to kernel32 must not contain NUL characters");
  const bytes = new Uint8Array((text.length + 1) * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i), true);
  return bytes;
}

/**
 * The UTF-16LE text in `bytes` from `offset` up to the first NUL (or
 * `maxUnits` code units): how a `W` function's output is read back.
 *
 * @example
 * ```ts
 * import { readWideString, wideString } from "./kernel32_marshal.ts";
 * console.log(readWideString(wideString("Z:\\tmp"))); // "Z:\tmp"
 * ```
 */
export function readWideString(bytes: Uint8Array, offset = 0, maxUnits = (bytes.length - offset) >> 1): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const units: number[] = [];
  for (let i = 0; i < maxUnits; i++) {
    const unit = view.getUint16(offset + i * 2, true);
    if (unit === 0) break;
    units.push(unit);
  }
  let text = "";
  // In slices: String.fromCharCode takes its units as arguments.
  for (let at = 0; at < units.length; at += 4096) text += String.fromCharCode(...units.slice(at, at + 4096));
  return text;
}

/** 100-ns intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/**
 * A FILETIME (two little-endian DWORDs: low, high; 100 ns since 1601) at
 * `offset`, as nanoseconds since 1970.
 *
 * @example
 * ```ts
 * import { fileTimeNs } from "./kernel32_marshal.ts";
 * const bytes = new Uint8Array(8);
 * new DataView(bytes.buffer).setBigUint64(0, 116_444_736_000_000_000n, true);
 * console.log(fileTimeNs(new DataView(bytes.buffer), 0)); // 0n
 * ```
 */
export function fileTimeNs(view: DataView, offset: number): bigint {
  const ticks = (BigInt(view.getUint32(offset + 4, true)) << 32n) | BigInt(view.getUint32(offset, true));
  return (ticks - FILETIME_UNIX_EPOCH) * 100n;
}
