/**
 * `BlockFile`: a file carved into fixed-size blocks that can be allocated,
 * freed and reached zero-copy, with a control area for the caller's own
 * metadata (a root pointer, a version) — the building block of B-trees, logs
 * and caches. The byte layout is in `block_file_format.ts`: a header block
 * with two checksummed header slots (magic, version, block size, free-list
 * head, counts, control data) and a free list kept on free-list pages.
 *
 * **What a crash keeps.** Allocations, frees and control data are committed
 * together by `sync()` (and `close()`). After a crash — a SIGKILL at any
 * instant, or a power cut — the file reopens in exactly the state of the last
 * completed commit: blocks allocated since are free again, blocks freed since
 * are in use again *with their bytes intact* (a freed block is neither
 * written nor handed out again until the commit that frees it), and every
 * block holds what was written to it before that commit. Nothing is ever both
 * free and in use, and no block is lost. Bytes written into an in-use block
 * after the last commit may or may not have reached the disk, as with any
 * file. See `free_space.ts` for how the write order guarantees this.
 *
 * **Views.** `get()` hands out zero-copy views that must be `release()`d.
 * While any is held the file will not grow (growing may move the mapping, so
 * a view would silently go dead), free a block a view shows, or close; each
 * refusal is an {@linkcode OutstandingViewsError}. `reserve()` grows ahead of
 * time; `close({ force: true })` detaches held views (they read as empty).
 *
 * **One opener at a time.** `create` and `open` take an exclusive
 * `flock` on the file and hold it until `close()`: a second `open` of the
 * same file, from another process or from this one, fails at once with
 * {@linkcode BlockFileLockedError} (`code` `"ELOCKED"`) and writes nothing.
 * The lock is advisory: a program that writes the file without BlockFile is
 * not stopped.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { platform as activePlatform } from "../os/mod.ts";
import { pageSize } from "../page_size.ts";
import { assertByteCount, assertOptionalBoolean, assertUint8Array, optionsObject, toPath } from "../validate.ts";
import { OutstandingViewsError } from "./block_file_errors.ts";
import { controlCapacity, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from "./block_file_format.ts";
import { readBlockFile } from "./block_file_open.ts";
import { type BlockFileStats, type BlockStore, FreeSpace } from "./free_space.ts";
import { HeldViews } from "./held_views.ts";
import { lockBlockFile, removeIfSame } from "./block_file_lock.ts";
import { mappedBlockStore } from "./mapped_block_store.ts";
import { descriptorOf, MappedFile } from "../fs/mapped_file.ts";

export { BlockFileCorruptError, OutstandingViewsError } from "./block_file_errors.ts";
export { BlockFileLockedError } from "./block_file_lock.ts";
export type { BlockFileCorruptCode } from "./block_file_errors.ts";
export type { BlockFileStats } from "./free_space.ts";

/**
 * Options of {@linkcode BlockFile.create} and {@linkcode BlockFile.anonymous}.
 *
 * @example
 * ```ts
 * import { BlockFile, type BlockFileOptions } from "@memmapfs/memmapfs";
 * const options: BlockFileOptions = { blockSize: 8192 };
 * using blocks = BlockFile.anonymous(options);
 * console.log(blocks.blockSize); // 8192
 * ```
 */
export interface BlockFileOptions {
  /** Bytes per block: a multiple of the page size, at most 1 GiB. Default 4096 (or the page size, if larger). */
  blockSize?: number;
}

/** Blocks a new file starts with, the header included. */
const INITIAL_BLOCKS = 16;

/**
 * A file of fixed-size blocks with a free list inside it.
 *
 * @example Keep records in blocks and find the root again after a restart
 * ```ts
 * import { BlockFile } from "@memmapfs/memmapfs";
 * const path = `${Deno.makeTempDirSync()}/index.db`;
 * {
 *   using blocks = BlockFile.create(path);
 *   const root = blocks.allocate();
 *   blocks.with(root, 1, (view) => new TextEncoder().encodeInto("hello", view));
 *   // Committed together with the allocation, by setControlData's sync.
 *   blocks.setControlData(new Uint8Array(new Float64Array([root]).buffer));
 * }
 * using again = BlockFile.open(path);
 * const root = new Float64Array(again.controlData().buffer)[0];
 * console.log(again.with(root, 1, (view) => new TextDecoder().decode(view.subarray(0, 5)))); // "hello"
 * ```
 */
export class BlockFile implements Disposable {
  readonly #file: MappedFile;
  readonly #space: FreeSpace;
  readonly #views = new HeldViews();
  #closed = false;
  #removed = false;
  /** Bytes per block. */
  readonly blockSize: number;
  /** The file, or `null` for an anonymous BlockFile. */
  readonly path: string | null;

  private constructor(file: MappedFile, blockSize: number, space: (store: BlockStore) => FreeSpace) {
    this.#file = file;
    this.blockSize = blockSize;
    this.path = file.path;
    this.#space = space(mappedBlockStore(file, blockSize, this.#views));
  }

  /**
   * Creates a BlockFile at `path`. Fails with EEXIST if anything exists
   * there — it never overwrites a file — and removes what it made if any
   * later step fails. Returns once the new file and its directory entry are
   * on disk.
   *
   * @throws {TypeError} For a bad path, options that are not an object, or a wrong option type (`null` included).
   * @throws {RangeError} When `blockSize` is not a multiple of the page size of at least 4096.
   * @throws {BlockFileLockedError} When another opener locked the new file first (it is then removed).
   * @throws {MmapError} EEXIST, or another error from the OS.
   */
  static create(path: string | URL, options?: BlockFileOptions): BlockFile {
    const filePath = toPath(path);
    const blockSize = checkedBlockSize(options);
    // Created empty and locked before anything is written, so an opener
    // racing this call sees either no BlockFile or a locked one.
    const file = MappedFile.open(filePath, { mode: "readwrite", create: true, exclusive: true, sync: "never" });
    const descriptor = descriptorOf(file)!;
    const platform = activePlatform();
    try {
      lockBlockFile(platform, descriptor);
      file.resize(blockSize * INITIAL_BLOCKS);
      const blocks = new BlockFile(file, blockSize, FreeSpace.create);
      file.sync();
      return blocks;
    } catch (error) {
      // exclusive: this call made the file, so it takes it away again — at
      // the path it was created at (the one the permission model checked),
      // and only while that path still names the file it made.
      removeIfSame(platform, file.path!, descriptor);
      closeQuietly(file);
      throw error;
    }
  }

  /**
   * Opens an existing BlockFile for reading and writing, after checking its
   * header and its whole free list. A file that fails is left untouched.
   *
   * @throws {BlockFileLockedError} When another BlockFile (in any process) has the file open.
   * @throws {BlockFileCorruptError} Not a BlockFile, another format version, truncated, bad checksum, damaged free list.
   * @throws {MmapError} From the OS (ENOENT, EACCES…).
   */
  static open(path: string | URL): BlockFile {
    const file = MappedFile.open(toPath(path), { mode: "readwrite", sync: "never" });
    try {
      lockBlockFile(activePlatform(), descriptorOf(file)!);
      const loaded = readBlockFile(file, file.path);
      return new BlockFile(file, loaded.header.blockSize, (store) => FreeSpace.load(store, loaded));
    } catch (error) {
      closeQuietly(file);
      throw error;
    }
  }

  /**
   * A BlockFile in private anonymous memory: no file, gone on close. Freed
   * blocks are reusable at once and `sync()` does nothing.
   *
   * @example
   * ```ts
   * import { BlockFile } from "@memmapfs/memmapfs";
   * using scratch = BlockFile.anonymous({ blockSize: 8192 });
   * console.log(scratch.blockSize, scratch.path); // 8192 null
   * ```
   */
  static anonymous(options?: BlockFileOptions): BlockFile {
    const blockSize = checkedBlockSize(options);
    return new BlockFile(MappedFile.anonymous(blockSize * INITIAL_BLOCKS), blockSize, FreeSpace.create);
  }

  /** Bytes in the file: every block it has room for, the header included. */
  get size(): number {
    this.#assertOpen();
    return this.#file.size;
  }

  /** How many bytes of control data fit: `blockSize / 2 - 64`. */
  get controlCapacity(): number {
    return controlCapacity(this.blockSize);
  }

  /** Views from {@linkcode get} not yet released. */
  get outstandingViews(): number {
    return this.#views.size;
  }

  /** How the blocks are used now (including changes not yet committed). */
  stats(): BlockFileStats {
    this.#assertOpen();
    return this.#space.stats();
  }

  /**
   * Allocates one zeroed block and returns its byte offset. The allocation
   * is committed by the next {@linkcode sync}.
   *
   * @throws {OutstandingViewsError} When the file must grow while views are held.
   * @throws {MmapError} When the file cannot grow (ENOSPC…); nothing changed.
   */
  allocate(): number {
    this.#assertOpen();
    return this.#space.allocate(1) * this.blockSize;
  }

  /**
   * Allocates `n` contiguous zeroed blocks and returns the offset of the
   * first. Runs are taken from the end of the file; free them block by block
   * or with `free(offset, n)`.
   */
  allocateBlocks(n: number): number {
    this.#assertOpen();
    const count = checkedCount(n, "n");
    return this.#space.allocate(count) * this.blockSize;
  }

  /**
   * Frees `blocks` blocks (default 1) from `offset`. A block that was in use
   * at the last commit keeps its bytes and is handed out again only after the
   * next {@linkcode sync} (so committed data may still point to it); one
   * allocated since is zeroed and reusable at once.
   *
   * @throws {RangeError} Not a block boundary, the header, past the blocks allocated, or already free (double free).
   * @throws {OutstandingViewsError} While a view of one of the blocks is held.
   */
  free(offset: number, blocks = 1): void {
    this.#assertOpen();
    const first = this.#block(offset);
    const count = checkedCount(blocks, "blocks");
    this.#space.assertInUse(first, count, " already (double free)");
    if (this.#views.showing(first, count)) {
      throw new OutstandingViewsError(
        `Block ${offset} is shown by a view still held: release it before freeing the block`,
        this.path,
        this.#views.size,
      );
    }
    this.#space.free(first, count);
  }

  /** Whether the block at `offset` is free (including freed blocks waiting for the next sync). */
  isFree(offset: number): boolean {
    this.#assertOpen();
    return this.#space.isFree(this.#block(offset));
  }

  /**
   * A zero-copy view of `blocks` blocks (default 1) from `offset`. Give it
   * back with {@linkcode release}, or use {@linkcode with} instead.
   *
   * @throws {RangeError} Not a block boundary, the header, past the blocks allocated, or a free block.
   */
  get(offset: number, blocks = 1): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    const first = this.#block(offset);
    const count = checkedCount(blocks, "blocks");
    this.#space.assertInUse(first, count, "; allocate it before use");
    const view = this.#file.subarray(offset, offset + count * this.blockSize);
    this.#views.add(view, first, count);
    return view;
  }

  /**
   * Gives back a view from {@linkcode get}. The view still works afterwards,
   * but nothing stops the file from growing under it any more.
   *
   * @throws {TypeError} For a view this BlockFile did not give out, or gave back already.
   */
  release(view: Uint8Array): void {
    this.#assertOpen();
    assertUint8Array(view, "view");
    if (!this.#views.delete(view)) {
      throw new TypeError("This view was not given out by this BlockFile's get(), or was released already");
    }
  }

  /**
   * Calls `fn` with a view of `blocks` blocks from `offset` and releases the
   * view when `fn` returns, throws, or (if it returns a promise) settles.
   *
   * @example
   * ```ts
   * import { BlockFile } from "@memmapfs/memmapfs";
   * using blocks = BlockFile.anonymous();
   * const offset = blocks.allocate();
   * blocks.with(offset, 1, (view) => view.set([1, 2, 3]));
   * console.log(blocks.with(offset, 1, (view) => view[2])); // 3
   * ```
   */
  with<T>(offset: number, blocks: number, fn: (view: Uint8Array<ArrayBuffer>) => T): T {
    // Unlike get(), blocks is required here: a missing one is a mistake, not 1.
    assertByteCount(blocks, "blocks");
    if (typeof fn !== "function") throw new TypeError("Fn must be a function");
    const view = this.get(offset, blocks);
    let result: T;
    try {
      result = fn(view);
    } catch (error) {
      this.#views.delete(view);
      throw error;
    }
    if (typeof (result as { then?: unknown } | null)?.then === "function") {
      return Promise.resolve(result).finally(() => this.#views.delete(view)) as T;
    }
    this.#views.delete(view);
    return result;
  }

  /** A copy of the control data (empty until set). */
  controlData(): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    return this.#space.control.slice();
  }

  /**
   * Replaces the control data. It is committed together with the allocation
   * state: at once (a {@linkcode sync}) unless `{ sync: false }`, then at the
   * next sync.
   *
   * @throws {TypeError} For data that is not a Uint8Array, options that are not an
   *   object, or a `sync` that is not a boolean (`null` included).
   * @throws {RangeError} When it is longer than {@linkcode controlCapacity}.
   */
  setControlData(data: Uint8Array, options?: { sync?: boolean }): void {
    this.#assertOpen();
    assertUint8Array(data, "data");
    const { sync = true } = optionsObject(options, "options", ["sync"]);
    assertOptionalBoolean(sync, "sync");
    if (data.length > this.controlCapacity) {
      throw new RangeError(`Control data holds at most ${this.controlCapacity} bytes, got ${data.length}`);
    }
    this.#space.control = data.slice();
    if (sync) this.sync();
  }

  /**
   * Makes room for `blocks` more blocks from the end without growing again,
   * so allocations can go on while views are held.
   *
   * @throws {OutstandingViewsError} When growing is needed while views are held.
   */
  reserve(blocks: number): void {
    this.#assertOpen();
    assertByteCount(blocks, "blocks");
    this.#space.ensureCapacity(this.#space.highWater + blocks + 1);
  }

  /**
   * Commits: flushes every block to disk, then records allocations, frees
   * and control data in the header. After a crash the file reopens as of the
   * last completed sync. Does nothing for an anonymous BlockFile.
   *
   * @throws {MmapError} When a flush fails; later syncs fail too (the file is poisoned).
   */
  sync(): void {
    this.#assertOpen();
    this.#space.commit();
  }

  /**
   * Commits (see {@linkcode sync}) and closes. A second call does nothing.
   * The mapping and descriptor are released even when the commit fails.
   *
   * @throws {TypeError} For options that are not an object or a `force` that is not a boolean.
   * @throws {OutstandingViewsError} While views are held, unless `{ force: true }` (they are then detached).
   * @throws {MmapError} When the commit or the unmap failed; the file is closed anyway.
   */
  close(options?: { force?: boolean }): void {
    const { force = false } = optionsObject(options, "options", ["force"]);
    assertOptionalBoolean(force, "force");
    if (this.#closed) return;
    this.#assertNoViews(force, "close");
    // Forced views are about to be detached: they must not stop the commit from growing the file.
    this.#views.clear();
    let failure: unknown;
    try {
      this.#space.commit();
    } catch (error) {
      failure = error;
    }
    this.#closed = true;
    try {
      this.#file.close();
    } catch (error) {
      failure ??= error;
    }
    if (failure) throw failure;
  }

  /**
   * Closes without committing (the file is going away) and deletes the file.
   * Also works after close(); a second call does nothing.
   *
   * @throws {TypeError} For options that are not an object or a `force` that is not a boolean.
   * @throws {OutstandingViewsError} While views are held, unless `{ force: true }`.
   * @throws {MmapError} When the file cannot be removed.
   */
  remove(options?: { force?: boolean }): void {
    const { force = false } = optionsObject(options, "options", ["force"]);
    assertOptionalBoolean(force, "force");
    if (!this.#closed) {
      this.#assertNoViews(force, "remove");
      this.#closed = true;
      this.#views.clear();
      closeQuietly(this.#file);
    }
    if (this.path === null || this.#removed) return;
    const platform = activePlatform();
    // FFI bypasses the runtime's permission model: ask it, and remove exactly what it allowed.
    const path = platform.checkPathAccess(this.path, "write", "unlink");
    const error = platform.removeFile(path);
    if (error) throw error;
    this.#removed = true;
  }

  /** Same as {@linkcode BlockFile.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The block number at byte `offset`, which must start an allocated data block. */
  #block(offset: number): number {
    assertByteCount(offset, "offset");
    if (offset % this.blockSize !== 0) {
      throw new RangeError(`Offset ${offset} is not a block boundary (block size ${this.blockSize})`);
    }
    if (offset === 0) {
      throw new RangeError("Offset 0 is the header block; keep your own metadata with setControlData()");
    }
    const block = offset / this.blockSize;
    if (block >= this.#space.highWater) {
      throw new RangeError(`Offset ${offset} is past the ${this.#space.highWater} blocks allocated so far`);
    }
    return block;
  }

  #assertNoViews(force: boolean, what: string): void {
    if (this.#views.size === 0 || force) return;
    throw new OutstandingViewsError(
      `Cannot ${what} with ${this.#views.size} view(s) from get() held: release them, or ${what}({ force: true }) ` +
        "to detach them",
      this.path,
      this.#views.size,
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(this.path ? `BlockFile "${this.path}"` : "BlockFile");
  }
}

function checkedBlockSize(options: BlockFileOptions | undefined): number {
  const { blockSize = Math.max(MIN_BLOCK_SIZE, pageSize) } = optionsObject(options, "options", ["blockSize"]);
  assertByteCount(blockSize, "blockSize");
  if (blockSize < MIN_BLOCK_SIZE || blockSize % pageSize !== 0 || blockSize > MAX_BLOCK_SIZE) {
    throw new RangeError(
      `BlockSize must be a multiple of the page size (${pageSize}) from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, ` +
        `got ${blockSize}`,
    );
  }
  return blockSize;
}

function checkedCount(value: number, name: string): number {
  assertByteCount(value, name);
  if (value === 0) throw new RangeError(`${name === "n" ? "N" : "Blocks"} must be at least 1, got 0`);
  return value;
}

/** Closes a file being given up on; its own close error would hide the one that matters. */
function closeQuietly(file: MappedFile): void {
  try {
    file.close();
  } catch { /* the caller is already throwing the first error */ }
}
