/**
 * `HeldViews`: the views a BlockFile handed out with `get()` and not yet got
 * back, with the blocks each one shows — so it can refuse to grow (which may
 * move the mapping), to free a block still on screen, or to close.
 *
 * @module
 */

/**
 * Views handed out, by identity.
 *
 * @example
 * ```ts ignore
 * const held = new HeldViews();
 * held.add(view, 3, 2);              // view shows blocks 3 and 4
 * console.log(held.showing(4, 1));   // true
 * held.delete(view);
 * ```
 */
export class HeldViews {
  readonly #views = new Map<Uint8Array, { first: number; count: number }>();

  get size(): number {
    return this.#views.size;
  }

  /** Records that `view` shows blocks `[first, first + count)`. */
  add(view: Uint8Array, first: number, count: number): void {
    this.#views.set(view, { first, count });
  }

  /** Forgets `view`; false when it was not held (another object, or released already). */
  delete(view: Uint8Array): boolean {
    return this.#views.delete(view);
  }

  /** Whether a held view shows any of the blocks `[first, first + count)`. */
  showing(first: number, count: number): boolean {
    for (const held of this.#views.values()) {
      if (held.first < first + count && first < held.first + held.count) return true;
    }
    return false;
  }

  clear(): void {
    this.#views.clear();
  }
}
