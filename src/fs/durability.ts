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
  #failure: MmapError | undefined;

  constructor(region: MappedRegion, file: FileDescriptor | null) {
    this.#region = region;
    this.#file = file;
    this.#directoryDirty = file?.created ?? false;
    this.#metadataDirty = this.#directoryDirty;
  }

  /** Something was written or resized and not flushed yet. */
  get pending(): boolean {
    return this.#region.dirty || this.#region.droppedDirty || this.#metadataDirty;
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

  /** Records that the file's size changed, so the next flush fsyncs it. */
  sizeChanged(): void {
    if (this.#file) this.#metadataDirty = true;
  }

  /**
   * msync of `[offset, offset + length)`; unless `async`, then fsync of the
   * file and its directory where their metadata changed.
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
      if (this.#metadataDirty || this.#region.droppedDirty || drive) this.#file?.fsync();
      this.#metadataDirty = false;
      this.#region.droppedDirty = false;
      if (this.#directoryDirty) this.#file?.syncDirectory();
      this.#directoryDirty = false;
    } catch (error) {
      this.#failure = error as MmapError;
      throw error;
    }
  }
}
