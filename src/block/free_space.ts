/**
 * `FreeSpace`: which blocks of a BlockFile are free, and the commit that
 * records it on disk without ever breaking the previous record.
 *
 * The committed state (the newest header and the free-list pages it points
 * to) changes only in {@linkcode FreeSpace.commit}. Until then the library
 * never writes anything that state depends on:
 *
 * - a block the committed state has *in use* and that is freed goes to
 *   `pending`: it keeps its bytes and is not handed out again until a commit
 *   records it as free (the caller's committed data may still point to it);
 * - a block handed out *since* the commit is unknown to the committed state,
 *   so freeing it makes it reusable at once (`ready`);
 * - blocks the committed state lists as free hold nothing it needs, so they
 *   are handed out straight from the page being read (`top`); the pages
 *   themselves are needed until the next commit (`spent`);
 * - a commit writes its new free-list pages only into blocks the committed
 *   state considers free or unused, flushes all data, and only then writes
 *   the new header into the other header slot.
 *
 * So a crash at any instant — even one that tears a write, or a power cut
 * after which the kernel had flushed pages in any order — reopens to exactly
 * the state of the last completed commit: nothing both free and in use,
 * nothing lost, every block as it was written before that commit.
 *
 * @module
 */

import { Bitmap } from "./bitmap.ts";
import { BlockFileCorruptError } from "./block_file_errors.ts";
import type { LoadedBlockFile } from "./block_file_open.ts";
import { decodePage, encodeHeader, encodePage, type Header, pageCapacity } from "./block_file_format.ts";

/** What FreeSpace needs from the mapped file under it. */
export interface BlockStore {
  readonly blockSize: number;
  readonly path: string | null;
  /** False for anonymous memory: nothing survives a crash, so frees are reusable at once. */
  readonly durable: boolean;
  /** Blocks the file holds now. */
  capacity(): number;
  /** Grows the file to `blocks` blocks; throws leaving everything as it was. */
  grow(blocks: number): void;
  /** Zero-copy bytes `[offset, offset + length)`; valid until the next grow. */
  bytes(offset: number, length: number): Uint8Array;
  /** Makes every byte written so far durable. */
  flushAll(): void;
  /** Makes the header block durable. */
  flushHeader(): void;
}

/**
 * How the blocks of a BlockFile are used, as `BlockFile.stats()` reports it.
 *
 * @example
 * ```ts
 * import { BlockFile } from "@memmapfs/memmapfs";
 * using blocks = BlockFile.anonymous();
 * blocks.allocate();
 * console.log(blocks.stats().used); // 1
 * ```
 */
export interface BlockFileStats {
  /** The high-water mark: blocks in use, free or holding the free list, the header included. */
  blocks: number;
  /** Blocks handed out and not freed. */
  used: number;
  /** Blocks freed (including `pending` ones). */
  free: number;
  /** Freed blocks that become reusable at the next `sync()`. */
  pending: number;
  /** Blocks holding the free list. */
  freeListPages: number;
  /** Blocks the file has room for. */
  capacity: number;
}

/** Growth doubles the file but adds at most this many bytes at once. */
const MAX_GROWTH = 256 * 2 ** 20;

/** The page of the committed free list being handed out. */
interface TopPage {
  readonly block: number;
  /** Entries not handed out yet, as block numbers. */
  readonly entries: number[];
  readonly next: number;
  /** An entry was handed out, so the page must be rewritten at the next commit. */
  taken: boolean;
}

/**
 * Free blocks of one BlockFile and the commits that record them.
 *
 * @example
 * ```ts ignore
 * const space = FreeSpace.load(store, readBlockFile(file, file.path));
 * const block = space.allocate(1);
 * space.free(block, 1);
 * space.commit();
 * ```
 */
export class FreeSpace {
  readonly #store: BlockStore;
  readonly #blockSize: number;
  #committed: Header;
  /** The slot holding `#committed`. */
  #slot: 0 | 1;
  #highWater: number;
  #control: Uint8Array;
  /** Something differs from `#committed`. */
  #changed = false;
  /** Blocks below this may hold bytes from a session that crashed; above it the file grew zeroed. */
  readonly #dirtyBelow: number;
  readonly #free: Bitmap;
  /** Blocks holding committed (or spent) free-list pages. */
  readonly #pages: Bitmap;
  /** Handed out since the last commit. */
  readonly #fresh = new Bitmap();
  /** Free and known to hold only zeros. */
  readonly #clean = new Bitmap();
  #ready: number[] = [];
  #pending: number[] = [];
  #spent: number[] = [];
  #top: TopPage | null = null;
  /** The committed chain after `#top`: first page offset, free entries on it, pages. */
  #belowHead: number;
  #belowFree: number;
  #belowPages: number;

  private constructor(store: BlockStore, header: Header, slot: 0 | 1, free: Bitmap, pages: number[], dirtyBelow: number) {
    this.#store = store;
    this.#blockSize = store.blockSize;
    this.#committed = header;
    this.#slot = slot;
    this.#highWater = header.highWater;
    this.#control = header.control.slice();
    this.#free = free;
    this.#pages = new Bitmap(header.highWater);
    for (const page of pages) this.#pages.add(page);
    this.#belowHead = header.freeHead;
    this.#belowFree = header.freeCount;
    this.#belowPages = header.freePages;
    this.#dirtyBelow = dirtyBelow;
  }

  /**
   * Writes the header of an empty BlockFile into both slots of a zeroed
   * file and returns its free space. The caller flushes.
   *
   * @example
   * ```ts ignore
   * const space = FreeSpace.create(store);
   * ```
   */
  static create(store: BlockStore): FreeSpace {
    const header: Header = {
      blockSize: store.blockSize, sequence: 1, highWater: 1, freeHead: 0, freeCount: 0, freePages: 0,
      control: new Uint8Array(0),
    };
    // Both slots valid from the start, so each always carries the magic and block size.
    store.bytes(store.blockSize / 2, store.blockSize / 2).set(encodeHeader({ ...header, sequence: 0 }));
    store.bytes(0, store.blockSize / 2).set(encodeHeader(header));
    return new FreeSpace(store, header, 0, new Bitmap(), [], 1);
  }

  /**
   * The free space of a file {@linkcode readBlockFile} checked.
   *
   * @example
   * ```ts ignore
   * const space = FreeSpace.load(store, readBlockFile(file, file.path));
   * ```
   */
  static load(store: BlockStore, loaded: LoadedBlockFile): FreeSpace {
    return new FreeSpace(store, loaded.header, loaded.slot, loaded.free, loaded.pages, store.capacity());
  }

  get highWater(): number {
    return this.#highWater;
  }

  /** The control data as it will be committed. */
  get control(): Uint8Array {
    return this.#control;
  }

  set control(data: Uint8Array) {
    this.#control = data;
    this.#changed = true;
  }

  /** Whether block `block` is free now. */
  isFree(block: number): boolean {
    return this.#free.has(block);
  }

  /**
   * Checks that `[first, first + count)` are blocks in use.
   *
   * @throws {RangeError} Past the high-water mark, free (`freeWord` names the mistake) or free-list pages.
   */
  assertInUse(first: number, count: number, freeWord: string): void {
    const size = this.#blockSize;
    if (first + count > this.#highWater) {
      throw new RangeError(
        `Blocks ${first * size} to ${(first + count) * size} reach past the ${this.#highWater} blocks allocated so far`,
      );
    }
    for (let block = first; block < first + count; block++) {
      if (this.#free.has(block)) throw new RangeError(`Block ${block * size} is free${freeWord}`);
      if (this.#pages.has(block)) {
        throw new RangeError(`Block ${block * size} holds the free list; it was never allocated`);
      }
    }
  }

  /** Hands out `count` contiguous zeroed blocks; returns the first block number. */
  allocate(count: number): number {
    if (count === 1) {
      const block = this.#takeFree();
      if (block !== undefined) {
        this.#free.delete(block);
        this.#fresh.add(block);
        if (!this.#clean.has(block)) this.#zero(block, 1);
        this.#clean.delete(block);
        this.#changed = true;
        return block;
      }
    }
    // Runs come from the end: free blocks are rarely contiguous.
    const first = this.#highWater;
    // One block of slack stays, so a commit always has room for a free-list page.
    this.ensureCapacity(first + count + 1);
    this.#highWater = first + count;
    for (let block = first; block < first + count; block++) this.#fresh.add(block);
    const dirtyEnd = Math.min(first + count, this.#dirtyBelow);
    if (dirtyEnd > first) this.#zero(first, dirtyEnd - first);
    this.#changed = true;
    return first;
  }

  /** Frees `[first, first + count)`, which {@linkcode assertInUse} accepted. */
  free(first: number, count: number): void {
    for (let block = first; block < first + count; block++) {
      this.#free.add(block);
      if (!this.#store.durable || this.#fresh.has(block)) {
        // Unknown to the committed state: nothing on disk can point here.
        this.#fresh.delete(block);
        this.#zero(block, 1);
        this.#clean.add(block);
        this.#ready.push(block);
      } else {
        this.#pending.push(block);
      }
    }
    this.#changed = true;
  }

  /** Grows the file (doubling, capped) so it holds at least `blocks` blocks. */
  ensureCapacity(blocks: number): void {
    const capacity = this.#store.capacity();
    if (blocks <= capacity) return;
    const target = Math.max(blocks, capacity + Math.min(capacity, Math.max(1, MAX_GROWTH / this.#blockSize)));
    if (!Number.isSafeInteger(target * this.#blockSize)) {
      throw new RangeError(`A BlockFile of ${blocks} blocks of ${this.#blockSize} bytes is too large`);
    }
    this.#store.grow(target);
  }

  stats(): BlockFileStats {
    const free = this.#ready.length + this.#pending.length + (this.#top?.entries.length ?? 0) + this.#belowFree;
    const freeListPages = (this.#top ? 1 : 0) + this.#belowPages + this.#spent.length;
    return {
      blocks: this.#highWater,
      used: this.#highWater - 1 - free - freeListPages,
      free,
      pending: this.#pending.length,
      freeListPages,
      capacity: this.#store.capacity(),
    };
  }

  /** The next block that is free and reusable now, if any. */
  #takeFree(): number | undefined {
    const ready = this.#ready.pop();
    if (ready !== undefined) return ready;
    for (;;) {
      const top = this.#top;
      if (top && top.entries.length > 0) {
        top.taken = true;
        return top.entries.pop();
      }
      if (top) {
        this.#spent.push(top.block);
        this.#top = null;
      }
      if (this.#belowHead === 0) return undefined;
      this.#readTop();
    }
  }

  /** Reads the next page of the committed chain, checking it again: a stray write may have hit it. */
  #readTop(): void {
    const size = this.#blockSize;
    const offset = this.#belowHead;
    const decoded = decodePage(this.#store.bytes(offset, size));
    const damaged = (what: string) =>
      new BlockFileCorruptError(`the free-list page at ${offset} ${what} (was it written through a stale view?)`, "EFREELIST", this.#store.path);
    if (typeof decoded === "string") throw damaged(decoded);
    const entries = decoded.entries.map((entry) => entry / size);
    if (!entries.every((block) => this.#free.has(block))) throw damaged("lists a block that is not free");
    this.#top = { block: offset / size, entries, next: decoded.next, taken: false };
    this.#belowHead = decoded.next;
    this.#belowFree -= entries.length;
    this.#belowPages -= 1;
  }

  /**
   * Records the current state on disk: writes new free-list pages, flushes
   * every block, then writes and flushes the header. Without changes only
   * the flush of the blocks happens. A no-op for anonymous memory.
   *
   * @throws {MmapError} When a flush fails (the file is then poisoned) or the file cannot grow for a page.
   * @throws {OutstandingViewsError} When a page needs the file to grow while views are held.
   */
  commit(): void {
    const store = this.#store;
    if (!store.durable) return;
    if (!this.#changed) {
      store.flushAll();
      return;
    }
    const size = this.#blockSize;
    const perPage = pageCapacity(size);
    const top = this.#top;
    const rewriteTop = top !== null && top.taken;
    // Blocks the committed state still needs: listed free only once the new header is in charge.
    const needed = [...this.#pending, ...this.#spent, ...(rewriteTop ? [top.block] : [])];
    // Blocks whose bytes the committed state does not care about: they may hold the new pages.
    const safe = [...(rewriteTop ? top.entries : []), ...this.#ready];
    const keptTop = top !== null && !rewriteTop;
    const belowHead = keptTop ? top.block * size : this.#belowHead;
    const belowFree = this.#belowFree + (keptTop ? top.entries.length : 0);
    const belowPages = this.#belowPages + (keptTop ? 1 : 0);

    const pages: number[] = [];
    let bumped = 0;
    let listed = needed.length + safe.length;
    while (listed > pages.length * perPage) {
      // Take a free block for the page unless that would leave the page empty.
      if (safe.length > 0 && listed - 1 > pages.length * perPage) {
        pages.push(safe.pop()!);
        listed--;
      } else {
        pages.push(this.#highWater + bumped++);
      }
    }
    if (bumped > 0) this.ensureCapacity(this.#highWater + bumped);
    const entries = [...needed, ...safe];
    for (let i = 0; i < pages.length; i++) {
      // Page 0 gets the newest entries last, so the next allocations reuse recently freed blocks.
      const chunk = entries.slice(Math.max(0, entries.length - (i + 1) * perPage), entries.length - i * perPage);
      const next = i + 1 < pages.length ? pages[i + 1] * size : belowHead;
      const image = encodePage(chunk.map((block) => block * size), next);
      this.#clean.delete(pages[i]);
      store.bytes(pages[i] * size, image.length).set(image);
    }
    store.flushAll();

    const header: Header = {
      blockSize: size,
      sequence: this.#committed.sequence + 1,
      highWater: this.#highWater + bumped,
      freeHead: pages.length > 0 ? pages[0] * size : belowHead,
      freeCount: entries.length + belowFree,
      freePages: pages.length + belowPages,
      control: this.#control.slice(),
    };
    const slot = this.#slot === 0 ? 1 : 0;
    // One copy: a crash inside it leaves this slot failing its checksum and the other in charge.
    const image = encodeHeader(header);
    store.bytes(slot * (size / 2), image.length).set(image);
    this.#adopt(header, slot, pages, needed);
    store.flushHeader();
    // Only now, with the new header on disk, may the blocks the old one needed lose their bytes.
    for (const block of needed) {
      this.#zero(block, 1);
      this.#clean.add(block);
    }
  }

  /** Makes the live state match the header just written. */
  #adopt(header: Header, slot: 0 | 1, pages: number[], needed: number[]): void {
    for (const block of this.#spent) this.#pages.delete(block);
    if (this.#top?.taken) this.#pages.delete(this.#top.block);
    for (const block of needed) this.#free.add(block);
    for (const page of pages) {
      this.#free.delete(page);
      this.#pages.add(page);
    }
    this.#committed = header;
    this.#slot = slot;
    this.#highWater = header.highWater;
    this.#top = null;
    this.#belowHead = header.freeHead;
    this.#belowFree = header.freeCount;
    this.#belowPages = header.freePages;
    this.#ready = [];
    this.#pending = [];
    this.#spent = [];
    this.#fresh.clear();
    this.#changed = false;
  }

  #zero(first: number, count: number): void {
    this.#store.bytes(first * this.#blockSize, count * this.#blockSize).fill(0);
  }
}
