/**
 * CRC-32 (IEEE 802.3, the one zlib and PNG use), for BlockFile's header
 * checksum. Table-driven; a few hundred bytes at a time.
 *
 * @module
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/**
 * CRC-32 of `bytes`, continuing from `crc` when given (so parts can be chained).
 *
 * @example
 * ```ts ignore
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * crc32(second, crc32(first)) === crc32(both);   // true
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
