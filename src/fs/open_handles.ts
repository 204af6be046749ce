/**
 * `OpenHandles`: the `MappedFile` objects a `MemMapFS` has handed out, by the
 * file they map, so the file system never cuts a file short under them.
 *
 * Why: a page of a mapping that lies wholly past the end of its file raises
 * SIGBUS when touched, and no JavaScript runtime can catch that — the process
 * dies. Removing, renaming or atomically replacing a file is harmless (the old
 * inode lives on while mapped), but truncating it in place is not. So before
 * `MemMapFS` shrinks a file (`truncate`, `openFile` with "w"/"w+", `create`)
 * it asks here whether any handle it gave out still maps bytes past the new
 * end, and refuses with EBUSY if so. Handles are held weakly: a forgotten,
 * unreachable handle does not block anything once collected. A closed handle
 * whose `readable()` stream is still being read counts as open: the stream
 * maps the same bytes.
 *
 * Handles that share a mapping of the cache are not remembered one by one: the
 * shared mapping is, once, when the cache maps the file, and its count of
 * holders says how many handles and streams still map it. A warm open then
 * costs nothing here (a `WeakRef` per open kept every handle of a synchronous
 * loop alive until the loop's job ended, and the collector paid for them), and
 * a handle dropped without `close()` whose view is still in use keeps blocking:
 * its pages are still mapped.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { Mapping } from "../mapping.ts";
import { type MappedFile, mapsItsRange } from "./mapped_file.ts";

/**
 * The inode a handle maps.
 *
 * @example
 * ```ts ignore
 * const key: InodeKey = fs.statSync(path, { bigint: true });
 * ```
 */
export interface InodeKey {
  readonly dev: bigint;
  readonly ino: bigint;
}

interface Held {
  readonly handle: WeakRef<MappedFile> | null;
  /** A mapping handles share (the cache's), counted by its holders; null for a handle of its own. */
  readonly shared: SharedMapping | null;
  readonly dev: bigint;
  /** File offset of the handle's byte 0. */
  readonly offset: number;
}

/**
 * A mapping that handles share, and whether its owner (the cache) still holds
 * a claim of its own on it, which is not a handle.
 *
 * @example
 * ```ts ignore
 * const shared: SharedMapping = { mapping: entry.mapping, ownerHolds: () => cache.holds(entry) };
 * ```
 */
export interface SharedMapping {
  readonly mapping: Mapping;
  ownerHolds(): boolean;
}

/** Handles and streams that hold `shared`'s mapping now, its owner's claim left out. */
function holdersOf(shared: SharedMapping): number {
  return shared.mapping.holders - (shared.ownerHolds() ? 1 : 0);
}

/** Entries kept before the first sweep of closed and collected handles. */
const FIRST_SWEEP = 1024;

/**
 * Live handles by inode number (device compared inside).
 *
 * @example
 * ```ts ignore
 * const handles = new OpenHandles();
 * handles.add(file, fs.statSync(path, { bigint: true }));
 * handles.assertNoneReachingPast(fs.statSync(path, { bigint: true }), 0, path, "truncate"); // throws EBUSY
 * ```
 */
export class OpenHandles {
  readonly #byInode = new Map<bigint, Held[]>();
  #entries = 0;
  /** Sweep when the entries double since the last sweep: amortised O(1) per handle. */
  #sweepAt = FIRST_SWEEP;

  /** Remembers `handle`, which maps `key` from file offset `offset`. */
  add(handle: MappedFile, key: InodeKey, offset = 0): void {
    this.#push(key, { handle: new WeakRef(handle), shared: null, dev: key.dev, offset });
  }

  /**
   * Remembers a mapping of `key` from file offset 0 that handles will share
   * (see `Mapping.share`): every holder but its owner counts as a handle, so
   * the handles made from it need no `add` of their own.
   */
  addShared(shared: SharedMapping, key: InodeKey): void {
    this.#push(key, { handle: null, shared, dev: key.dev, offset: 0 });
  }

  #push(key: InodeKey, entry: Held): void {
    let held = this.#byInode.get(key.ino);
    if (!held) {
      held = [];
      this.#byInode.set(key.ino, held);
    }
    held.push(entry);
    if (++this.#entries >= this.#sweepAt) this.#sweep();
  }

  /**
   * How many open handles of `key` map bytes at or past file offset `size`:
   * the ones cutting the file to `size` bytes would leave faulting.
   */
  reachingPast(key: InodeKey, size: number): number {
    const held = this.#byInode.get(key.ino);
    if (!held) return 0;
    let count = 0;
    for (const { handle, shared, dev, offset } of held) {
      if (dev !== key.dev) continue;
      if (shared) {
        if (offset + shared.mapping.length > size) count += holdersOf(shared);
        continue;
      }
      const file = handle!.deref();
      if (file && mapsItsRange(file) && offset + file.size > size) count++;
    }
    return count;
  }

  /**
   * Throws MmapError EBUSY when a handle of `key` maps bytes past `size`.
   *
   * @throws {MmapError} EBUSY, naming `path` and the number of handles.
   */
  assertNoneReachingPast(key: InodeKey, size: number, path: string, syscall: string): void {
    const busy = this.reachingPast(key, size);
    if (busy === 0) return;
    throw new MmapError(
      `EBUSY: cannot cut "${path}" to ${size} bytes: ${busy} open MappedFile handle(s) from this ` +
        "MemMapFS map bytes past that point, and touching them would kill the process (SIGBUS); " +
        "close them first, or replace the file with writeFile()",
      { code: "EBUSY", errno: 16, syscall, path },
    );
  }

  #sweep(): void {
    let entries = 0;
    for (const [ino, held] of this.#byInode) {
      const live = held.filter(({ handle, shared }) => {
        // A shared mapping is kept while its owner or any handle holds it.
        if (shared) return shared.mapping.holders > 0;
        const file = handle!.deref();
        return file !== undefined && mapsItsRange(file);
      });
      entries += live.length;
      if (live.length === 0) this.#byInode.delete(ino);
      else if (live.length !== held.length) this.#byInode.set(ino, live);
    }
    this.#entries = entries;
    this.#sweepAt = Math.max(FIRST_SWEEP, entries * 2);
  }
}
