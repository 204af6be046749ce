/**
 * Conversions every shim shares: C strings out of JavaScript strings, and the
 * fields of `struct stat` out of the bytes `fstat` filled.
 *
 * @module
 */

import type { StatLayout } from "./constants.ts";
import type { FileStat } from "./libc.ts";

const encoder = new TextEncoder();

/**
 * UTF-8 bytes of `text` followed by the NUL that C expects.
 *
 * @throws {TypeError} When `text` holds a NUL: C would stop reading there and
 *   act on a different path or name. The public entry points check first; this
 *   is the last line of defence before libc.
 */
export function cString(text: string): Uint8Array {
  // Paths are nearly always ASCII: copied by hand, they cost a fraction of a
  // TextEncoder call (a warm MemMapFS.open stats one path per call).
  const length = text.length;
  const bytes = new Uint8Array(length + 1);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0 || code > 0x7f) return encodedCString(text);
    bytes[i] = code;
  }
  return bytes;
}

function encodedCString(text: string): Uint8Array {
  if (text.includes("\0")) throw new TypeError("A path or name passed to libc must not contain NUL bytes");
  const bytes = new Uint8Array(encoder.encode(text).length + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

/** Reads the fields memmapfs uses from a filled `struct stat`. */
export function parseStat(buffer: Uint8Array, layout: StatLayout): FileStat {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const dev = layout.dev.bytes === 8
    ? view.getBigUint64(layout.dev.offset, true)
    : BigInt(view.getUint32(layout.dev.offset, true));
  const mode = layout.mode.bytes === 4
    ? view.getUint32(layout.mode.offset, true)
    : view.getUint16(layout.mode.offset, true);
  const time = (at: number) => view.getBigInt64(at, true) * 1_000_000_000n + view.getBigInt64(at + 8, true);
  return {
    size: Number(view.getBigInt64(layout.fileSize, true)),
    mode,
    uid: view.getUint32(layout.uid, true),
    gid: view.getUint32(layout.gid, true),
    dev,
    ino: view.getBigUint64(layout.ino, true),
    atimeNs: time(layout.atime),
    mtimeNs: time(layout.mtime),
  };
}
