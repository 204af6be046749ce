/**
 * `BlockFile`: a file carved into fixed-size blocks that can be allocated,
 * freed and reached zero-copy, with a small control area for the caller's own
 * metadata. The format is described in `block_file_format.ts`.
 *
 * Crash behaviour: every change rewrites the header into its spare slot, so a
 * process killed at any moment leaves a file that opens, with a consistent
 * free list. A block's data is durable once `sync()` returns; an allocation
 * that was never followed by a sync may be lost (the block stays in use).
 *
 * @module
 */

import { ClosedError, errnoError } from "../errors.ts";
import { libc as activeLibc } from "../ffi/mod.ts";
import { pageSize } from "../page_size.ts";
import { assertByteCount, assertOptionalBoolean, assertUint8Array, toPath } from "../validate.ts";
import { BlockFileCorruptError, OutstandingViewsError, readHeader } from "./block_file_open.ts";
import { encodeHeader, type Header, maxControlLength } from "./block_file_format.ts";
import { MappedFile } from "./mapped_file.ts";

export { BlockFileCorruptError, OutstandingViewsError } from "./block_file_open.ts";

/** Blocks a new file reserves after its header. */
const INITIAL_BLOCKS = 8;
/** Growth doubles the file, but adds at most this many bytes at once. */
const MAX_GROWTH = 1 << 30;

/**
 * A file of fixed-size blocks with an in-file free list.
 *
 * @example
 * ```ts
 * import { BlockFile } from "@memmapfs/memmapfs";
 * using blocks = BlockFile.anonymous();
 * const offset = blocks.allocate();
 * blocks.with(offset, 1, (view) => view.set([1, 2, 3]));
 * blocks.free(offset);
 * ```
 */
export class BlockFile implements Disposable {
  readonly #file: MappedFile;
  #header: Header;
  /** Offsets of the blocks on the free list, for O(1) double-free checks. */
  readonly #free: Set<number>;
  readonly #outstanding = new Set<Uint8Array>();
  #closed = false;
  /** Bytes per block. */
  readonly blockSize: number;
  /** The file, or `null` for an anonymous BlockFile. */
  readonly path: string | null;

  private constructor(file: MappedFile, header: Header, free: Set<number>) {
    this.#file = file;
    this.#header = header;
    this.#free = free;
    this.blockSize = header.blockSize;
    this.path = file.path;
  }

  /**
   * Creates a new BlockFile at `path`; fails with EEXIST rather than
   * overwrite a file that exists.
   *
   * @throws {RangeError} When `blockSize` is not a positive multiple of the page size.
   * @throws {MmapError} EEXIST, or another error from the OS.
   */
  static create(path: string, options: { blockSize?: number } = {}): BlockFile {
    const filePath = toPath(path);
    const blockSize = checkedBlockSize(options.blockSize);
    const file = MappedFile.open(filePath, {
      mode: "readwrite", create: true, exclusive: true, size: blockSize * (1 + INITIAL_BLOCKS), sync: "never",
    });
    try {
      return BlockFile.#initialise(file, blockSize, true);
    } catch (error) {
      // Nothing half-made stays behind: this call created the file, so it goes.
      file.close();
      activeLibc().unlink(filePath);
      throw error;
    }
  }

  /**
   * Opens an existing BlockFile, checking its header and free list.
   *
   * @throws {BlockFileCorruptError} Not a BlockFile, truncated, bad checksum or broken free list.
   * @throws {MmapError} From the OS (ENOENT…).
   */
  static open(path: string): BlockFile {
    const file = MappedFile.open(toPath(path), { mode: "readwrite", sync: "never" });
    try {
      const { header, free } = readHeader(file);
      return new BlockFile(file, header, free);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * A BlockFile in private anonymous memory: no file, gone on close.
   *
   * @example
   * ```ts
   * import { BlockFile } from "@memmapfs/memmapfs";
   * using scratch = BlockFile.anonymous({ blockSize: 8192 });
   * console.log(scratch.blockSize); // 8192
   * ```
   */
  static anonymous(options: { blockSize?: number } = {}): BlockFile {
    const blockSize = checkedBlockSize(options.blockSize);
    return BlockFile.#initialise(MappedFile.anonymous(blockSize * (1 + INITIAL_BLOCKS)), blockSize, false);
  }

  static #initialise(file: MappedFile, blockSize: number, sync: boolean): BlockFile {
    const empty: Header = {
      blockSize, sequence: 0, blockCount: 1, freeHead: 0, freeCount: 0, control: new Uint8Array(0),
    };
    const blocks = new BlockFile(file, empty, new Set());
    blocks.#writeHeader({});
    if (sync) file.sync();
    return blocks;
  }

  /** Bytes in the file. */
  get size(): number {
    this.#assertOpen();
    return this.#file.size;
  }

  /** Blocks handed out or free (the high-water mark), free blocks, and blocks the file has room for. */
  stats(): { blocks: number; free: number; capacity: number } {
    this.#assertOpen();
    return {
      blocks: this.#header.blockCount,
      free: this.#header.freeCount,
      capacity: this.#file.size / this.blockSize,
    };
  }

  /** Whether the block at `offset` is on the free list. */
  isFree(offset: number): boolean {
    this.#assertOpen();
    return this.#free.has(offset);
  }

  /** Allocates one zeroed block; returns its byte offset. */
  allocate(): number {
    this.#assertOpen();
    const header = this.#header;
    if (header.freeHead === 0) return this.#allocateFromEnd(1);
    const offset = header.freeHead;
    const next = Number(this.#file.getBigUint64(offset, true));
    if (next !== 0 && !this.#isDataBlock(next)) {
      throw new BlockFileCorruptError(`free block ${offset} links to ${next}, outside the file`, "EFREELIST", this.path);
    }
    this.#writeHeader({ freeHead: next, freeCount: header.freeCount - 1 });
    this.#free.delete(offset);
    // The link was the block's only non-zero bytes.
    this.#file.setBigUint64(offset, 0n, true);
    return offset;
  }

  /** Allocates `n` contiguous zeroed blocks; returns the offset of the first. */
  allocateBlocks(n: number): number {
    this.#assertOpen();
    assertByteCount(n, "n");
    if (n === 0) throw new RangeError("N must be at least 1");
    return n === 1 ? this.allocate() : this.#allocateFromEnd(n);
  }

  #allocateFromEnd(n: number): number {
    const header = this.#header;
    this.#ensureCapacity(header.blockCount + n);
    const offset = header.blockCount * this.blockSize;
    this.#writeHeader({ blockCount: header.blockCount + n });
    return offset;
  }

  /** Grows the file (amortised) so it holds `blocks` blocks. */
  #ensureCapacity(blocks: number): void {
    const capacity = this.#file.size / this.blockSize;
    if (blocks <= capacity) return;
    if (this.#outstanding.size > 0) {
      throw new OutstandingViewsError(
        `Cannot grow the file while ${this.#outstanding.size} view(s) are held: release them first`,
        this.path,
      );
    }
    const growth = Math.min(capacity, Math.max(1, Math.floor(MAX_GROWTH / this.blockSize)));
    this.#file.resize(Math.max(blocks, capacity + growth) * this.blockSize);
  }

  /**
   * Zeroes the block at `offset` and puts it on the free list.
   *
   * @throws {RangeError} Not a block boundary, outside the file, the header, or already free.
   * @throws {OutstandingViewsError} While a view of the block is held.
   */
  free(offset: number): void {
    this.#assertOpen();
    this.#assertBlock(offset, 1);
    if (this.#free.has(offset)) throw new RangeError(`Block ${offset} is already free (double free)`);
    for (const view of this.#outstanding) {
      const start = view.byteOffset;
      if (start < offset + this.blockSize && offset < start + view.byteLength) {
        throw new OutstandingViewsError(`Block ${offset} is in a view still held: release it first`, this.path);
      }
    }
    const header = this.#header;
    // Link first, header second: a crash in between leaves the block in use.
    this.#file.subarray(offset, offset + this.blockSize).fill(0);
    this.#file.setBigUint64(offset, BigInt(header.freeHead), true);
    this.#writeHeader({ freeHead: offset, freeCount: header.freeCount + 1 });
    this.#free.add(offset);
  }

  /**
   * A zero-copy view of `blocks` blocks from `offset`. Hand it back with
   * {@linkcode release}; the file cannot grow or close while views are held.
   */
  get(offset: number, blocks = 1): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    assertByteCount(blocks, "blocks");
    if (blocks === 0) throw new RangeError("Blocks must be at least 1");
    this.#assertBlock(offset, blocks);
    for (let i = 0; i < blocks; i++) {
      if (this.#free.has(offset + i * this.blockSize)) {
        throw new RangeError(`Block ${offset + i * this.blockSize} is free; allocate it first`);
      }
    }
    const view = this.#file.subarray(offset, offset + blocks * this.blockSize);
    this.#outstanding.add(view);
    return view;
  }

  /**
   * Hands back a view from {@linkcode get}.
   *
   * @throws {TypeError} For a view this BlockFile did not give out, or gave back already.
   */
  release(view: Uint8Array): void {
    assertUint8Array(view, "view");
    if (!this.#outstanding.delete(view)) {
      throw new TypeError("This view was not given out by this BlockFile, or was released already");
    }
  }

  /** Calls `fn` with a view of the blocks and releases it afterwards (after a returned promise settles). */
  with<T>(offset: number, blocks: number, fn: (view: Uint8Array<ArrayBuffer>) => T): T {
    if (typeof fn !== "function") throw new TypeError("Fn must be a function");
    const view = this.get(offset, blocks);
    let result: T;
    try {
      result = fn(view);
    } catch (error) {
      this.release(view);
      throw error;
    }
    if (result instanceof Promise) {
      return result.finally(() => this.release(view)) as T;
    }
    this.release(view);
    return result;
  }

  /** A copy of the control data. */
  controlData(): Uint8Array {
    this.#assertOpen();
    return this.#header.control.slice();
  }

  /**
   * Replaces the control data, synced to disk unless `{ sync: false }`.
   *
   * @throws {RangeError} When it exceeds `blockSize / 2 - 56` bytes.
   */
  setControlData(data: Uint8Array, options: { sync?: boolean } = {}): void {
    this.#assertOpen();
    assertUint8Array(data, "data");
    assertOptionalBoolean(options.sync, "sync");
    const max = maxControlLength(this.blockSize);
    if (data.length > max) throw new RangeError(`Control data holds at most ${max} bytes, got ${data.length}`);
    this.#writeHeader({ control: data.slice() });
    if ((options.sync ?? true) && this.path !== null) this.#file.sync({ offset: 0, length: this.blockSize });
  }

  /** Flushes data blocks, then the header, to disk (a no-op for anonymous memory). */
  sync(): void {
    this.#assertOpen();
    if (this.path === null) return;
    this.#file.sync({ offset: this.blockSize, length: Math.max(0, this.#file.size - this.blockSize) });
    this.#file.sync({ offset: 0, length: this.blockSize });
  }

  /**
   * Syncs and closes. A second call does nothing.
   *
   * @throws {OutstandingViewsError} While views are held, unless `{ force: true }` (they are then detached).
   */
  close(options: { force?: boolean } = {}): void {
    if (this.#closed) return;
    if (this.#outstanding.size > 0 && !options.force) {
      throw new OutstandingViewsError(
        `Cannot close with ${this.#outstanding.size} view(s) held: release them or close({ force: true })`,
        this.path,
      );
    }
    this.#closed = true;
    this.#outstanding.clear();
    if (this.path !== null) this.#file.sync();
    this.#file.close();
  }

  /**
   * Closes (if open) and deletes the file.
   *
   * @throws {MmapError} When the file cannot be removed.
   */
  remove(): void {
    this.close();
    if (this.path === null) return;
    const libc = activeLibc();
    if (libc.unlink(this.path) !== 0) {
      throw errnoError(libc.errno, libc.constants.errnoNames, "unlink", this.path);
    }
  }

  /** Same as {@linkcode BlockFile.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Writes the header with `changes` into the spare slot: the old one stays valid until this one is whole. */
  #writeHeader(changes: Partial<Header>): void {
    const header = { ...this.#header, ...changes, sequence: this.#header.sequence + 1 };
    this.#file.writeAt(encodeHeader(header), (header.sequence % 2) * (this.blockSize / 2));
    this.#header = header;
  }

  #isDataBlock(offset: number): boolean {
    return offset % this.blockSize === 0 && offset >= this.blockSize &&
      offset < this.#header.blockCount * this.blockSize;
  }

  #assertBlock(offset: number, blocks: number): void {
    assertByteCount(offset, "offset");
    if (offset % this.blockSize !== 0) {
      throw new RangeError(`Offset ${offset} is not a block boundary (block size ${this.blockSize})`);
    }
    if (offset === 0) throw new RangeError("Offset 0 is the header block");
    const end = offset + blocks * this.blockSize;
    if (end > this.#header.blockCount * this.blockSize) {
      throw new RangeError(`Blocks at ${offset}..${end} are beyond the blocks allocated`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(this.path ? `BlockFile "${this.path}"` : "BlockFile");
  }
}

function checkedBlockSize(value: number | undefined): number {
  const blockSize = value ?? Math.max(4096, pageSize);
  assertByteCount(blockSize, "blockSize");
  if (blockSize === 0 || blockSize % pageSize !== 0 || blockSize > 2 ** 30) {
    throw new RangeError(`BlockSize must be a positive multiple of the page size (${pageSize}), got ${blockSize}`);
  }
  return blockSize;
}
