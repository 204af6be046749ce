/**
 * The random page offsets every contender reads, from xorshift32: the C peer
 * (bench/peers/mmap_memcpy.c) implements the same generator, so it reads the
 * very same pages in the same order.
 *
 * @module
 */

/** `count` page-aligned offsets below `fileSize`, from `seed` (non-zero). */
export function pageOffsets(count: number, fileSize: number, seed = 0x9e3779b9, pageSize = 4096): Float64Array {
  const pages = Math.floor(fileSize / pageSize);
  const offsets = new Float64Array(count);
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    offsets[i] = (x % pages) * pageSize;
  }
  return offsets;
}
