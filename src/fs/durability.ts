/**
 * `Durability`: what stands between bytes written to a mapping and bytes on
 * disk — msync of the pages, fsync of the file after its size changed, fsync
 * of the directory after the file was created — and the poison a failed flush
 * leaves behind, so a later sync never reports success over lost data.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { FileDescriptor } from "./file_descriptor.ts";
import type { MappedRegion } from "./mapped_region.ts";

/** Flushes one file's mapped region and remembers what still needs flushing. */
export class Durability {
  readonly #region: MappedRegion;
  readonly #file: FileDescriptor | null;
  /** File size or existence changed since the last fsync. */
  #metadataDirty: boolean;
  #directoryDirty: boolean;
  /** Bytes went to the file with pwrite since the last fsync: an fsync is what surely reaches them. */
  #fileWritten = false;
  #failure: MmapError | undefined;

  constructor(region: MappedRegion, file: FileDescriptor | null) {
    this.#region = region;
    this.#file = file;
    this.#directoryDirty = file?.created ?? false;
    this.#metadataDirty = this.#directoryDirty;
  }

  /** Something was written or resized and not flushed yet. */
  get pending(): boolean {
    return this.#region.dirty || this.#region.droppedDirty || this.#metadataDirty || this.#fileWritten;
  }

  /** Nothing to flush and no failure to report: a flush would change nothing. */
  get clean(): boolean {
    return !this.pending && !this.#directoryDirty && this.#failure === undefined;
  }

  /** True after a flush failed; every later flush throws. */
  get poisoned(): boolean {
    return this.#failure !== undefined;
  }

  /** Records a flush that failed elsewhere (a window's, before it slid): later flushes throw. */
  poison(error: MmapError): void {
    this.#failure ??= error;
  }

  /** Whether bytes were written to the file with pwrite and not fsynced yet. */
  get fileWritten(): boolean {
    return this.#fileWritten;
  }

  /** Records bytes written to the file with pwrite (not through the mapping), so the next flush fsyncs. */
  wroteToFile(): void {
    this.#fileWritten = true;
  }

  /** Records that the file's size changed, so the next flush fsyncs it. */
  sizeChanged(): void {
    if (this.#file) this.#metadataDirty = true;
  }

  /**
   * msync of `[offset, offset + length)`; unless `async`, then fsync of the
   * file where its metadata changed or pwrite wrote to it, and of its
   * directory after a create.
   *
   * The cheapest calls that give the guarantee, measured (bench/workloads/write_chunks.ts,
   * Linux ext4): msync(MS_SYNC) of the range is one call that writes back only
   * the dirty pages in it (on Linux it is fdatasync of that file range), so
   * neither fdatasync nor sync_file_range + fdatasync is cheaper for pages
   * dirtied through the mapping; the fsync after it finds the data written
   * and commits only metadata (~0.5 ms). What made durable writes slower
   * than write + fsync was not the flush but the mapping: a write fault per
   * fresh page (~3 µs each) and, at writeback, write-protecting every page
   * again. Large sequential writes therefore go to the file with pwrite
   * (MappedFile.writeAt), and this fsync is what makes them durable.
   *
   * @throws {MmapError} The failure, or the earlier failure that poisoned this object.
   */
  flush(offset: number, length: number, async: boolean): void {
    const earlier = this.#failure;
    if (earlier) {
      throw new MmapError(`An earlier sync failed (${earlier.message}); written data may be lost`, {
        code: earlier.code, errno: earlier.errno, syscall: earlier.syscall, path: earlier.path,
      });
    }
    try {
      this.#region.sync(offset, length, async);
      if (async) return;
      if (offset === 0 && length >= this.#region.size) this.#region.dirty = false;
      const drive = this.#file?.needsFsyncAfterMsync ?? false;
      if (this.#metadataDirty || this.#region.droppedDirty || this.#fileWritten || drive) this.#file?.fsync();
      this.#metadataDirty = false;
      this.#fileWritten = false;
      this.#region.droppedDirty = false;
      if (this.#directoryDirty) this.#file?.syncDirectory();
      this.#directoryDirty = false;
    } catch (error) {
      this.#failure = error as MmapError;
      throw error;
    }
  }
}
