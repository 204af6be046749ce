/**
 * `Bitmap`: one bit per block, growing on demand. BlockFile keeps which
 * blocks are free, which were handed out since the last commit and which are
 * known to hold zeros this way — an eighth of a byte per block, O(1) checks.
 *
 * @module
 */

/**
 * A growable set of small non-negative integers.
 *
 * @example
 * ```ts ignore
 * const free = new Bitmap();
 * free.add(12);
 * console.log(free.has(12), free.has(13)); // true false
 * ```
 */
export class Bitmap {
  // Math.floor rather than >>> 3: block numbers may pass 2^32 in a file over 16 TiB.
  #bits: Uint8Array;

  /** Room for `size` bits to start with; it grows as bits are set. */
  constructor(size = 64) {
    this.#bits = new Uint8Array(Math.ceil(Math.max(size, 8) / 8));
  }

  has(index: number): boolean {
    const byte = Math.floor(index / 8);
    return byte < this.#bits.length && (this.#bits[byte] & (1 << (index & 7))) !== 0;
  }

  add(index: number): void {
    const byte = Math.floor(index / 8);
    if (byte >= this.#bits.length) this.#grow(byte + 1);
    this.#bits[byte] |= 1 << (index & 7);
  }

  delete(index: number): void {
    const byte = Math.floor(index / 8);
    if (byte < this.#bits.length) this.#bits[byte] &= ~(1 << (index & 7));
  }

  clear(): void {
    this.#bits.fill(0);
  }

  #grow(bytes: number): void {
    // Doubling keeps a long run of set() calls linear.
    const bigger = new Uint8Array(Math.max(bytes, this.#bits.length * 2));
    bigger.set(this.#bits);
    this.#bits = bigger;
  }
}
