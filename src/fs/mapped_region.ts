/**
 * `MappedRegion`: the bytes `[0, size)` of a file range, mapped whole or
 * through a sliding window. It decides what is mapped when; callers ask for a
 * position and get memory that holds it.
 *
 * @module
 */

import type { MmapError } from "../errors.ts";
import type { Libc } from "../ffi/libc.ts";
import { Mapping, viewOf } from "../mapping.ts";

/** How a region maps its file. */
export interface RegionOptions {
  /** Descriptor, or -1 for anonymous memory. */
  readonly fd: number;
  /** File offset of byte 0 of the region. */
  readonly fileOffset: number;
  readonly writable: boolean;
  readonly shared: boolean;
  readonly populate: boolean;
  readonly hugePages: boolean;
  /** Bytes per window (page multiple), or 0 to map the whole region. */
  readonly window: number;
  /** msync a dirty window before it slides away. */
  readonly syncBeforeSlide: boolean;
  readonly path: string | null;
}

/** The mapped bytes of a file range. */
export class MappedRegion {
  readonly #libc: Libc;
  readonly #options: RegionOptions;
  readonly #pageSize: number;
  #size: number;
  #mapping: Mapping | null = null;
  /** Region offset of the current mapping's first byte. */
  #start = 0;
  #lock = false;
  /** Bytes may have changed in the current mapping since its last sync. */
  dirty = false;
  /**
   * A dirty window was dropped without msync (sync "never" slides quietly):
   * its pages are only in the page cache now, and only an fsync reaches them.
   */
  droppedDirty = false;
  /** Told when the sync of a dirty window before it slides fails. */
  onSyncFailure: ((error: MmapError) => void) | undefined;

  /** `initial`, when given, is a mapping of the whole region this region takes over. */
  constructor(libc: Libc, options: RegionOptions, size: number, initial?: Mapping) {
    this.#libc = libc;
    this.#options = options;
    this.#pageSize = libc.pageSize();
    this.#size = size;
    this.#mapping = initial ?? null;
  }

  get size(): number {
    return this.#size;
  }

  get windowed(): boolean {
    return this.#options.window > 0;
  }

  /** Region offset of the first mapped byte (0 until a window maps). */
  get windowOffset(): number {
    return this.#start;
  }

  /** Bytes mapped now. */
  get mappedLength(): number {
    return this.#mapping?.length ?? 0;
  }

  get locked(): boolean {
    return this.#lock;
  }

  /**
   * Makes `[start, end)` mapped, sliding the window when needed, and returns
   * the mapping with its region offset.
   */
  ensure(start: number, end: number = start + 1): { mapping: Mapping; start: number } {
    const mapping = this.#mapping;
    const last = Math.min(Math.max(end, start + 1), this.#size);
    if (mapping && start >= this.#start && last <= this.#start + mapping.length) {
      return { mapping, start: this.#start };
    }
    return { mapping: this.#mapAround(start, last), start: this.#start };
  }

  /** The whole region as one buffer, when it is mapped whole and fits in one. */
  #whole(): Uint8Array<ArrayBuffer> | null {
    const mapping = this.#mapping;
    return mapping && this.#options.window === 0 ? mapping.wholeView() : null;
  }

  /**
   * Another holder of the whole mapping (see `Mapping.share`), or null when
   * the region is windowed or maps nothing: a claim that outlives its owner.
   */
  shareWhole(): Mapping | null {
    return this.#mapping && !this.windowed ? this.#mapping.share() : null;
  }

  /** Maps the first bytes right away, so open() reports mapping errors. */
  mapInitial(): void {
    if (this.#size > 0) this.ensure(0);
  }

  #mapAround(start: number, end: number): Mapping {
    const options = this.#options;
    let windowStart = 0;
    let length = this.#size;
    if (this.windowed) {
      const page = this.#pageSize;
      // Align the file offset, not the region offset, to a page.
      const aligned = Math.floor((options.fileOffset + start) / page) * page - options.fileOffset;
      windowStart = Math.max(0, aligned);
      length = Math.min(Math.max(options.window, end - windowStart), this.#size - windowStart);
    }
    const mapping = Mapping.map(this.#libc, {
      fd: options.fd,
      fileOffset: options.fileOffset + windowStart,
      length,
      writable: options.writable,
      shared: options.shared,
      populate: options.populate,
      hugePages: options.hugePages,
      path: options.path,
    });
    if (this.#lock) {
      try {
        mapping.lock();
      } catch (error) {
        mapping.release();
        throw error;
      }
    }
    const error = this.#dropMapping();
    this.#mapping = mapping;
    this.#start = windowStart;
    if (error) throw error;
    return mapping;
  }

  /** Syncs a dirty window when asked to, then releases it. */
  #dropMapping(): MmapError | undefined {
    const mapping = this.#mapping;
    if (!mapping) return undefined;
    let syncError: MmapError | undefined;
    if (this.dirty && this.#options.syncBeforeSlide) {
      try {
        mapping.sync(0, mapping.length, false);
      } catch (error) {
        syncError = error as MmapError;
        // Data of this window may be lost: the owner must refuse later syncs.
        this.onSyncFailure?.(syncError);
      }
    }
    if (this.dirty && !syncError && !this.#options.syncBeforeSlide) this.droppedDirty = true;
    this.dirty = false;
    this.#mapping = null;
    return mapping.release() ?? syncError;
  }

  /** A zero-copy view of `[start, end)`, mapping it first. */
  view(start: number, end: number): Uint8Array<ArrayBuffer> {
    if (end === start) return new Uint8Array(0);
    const whole = this.#whole();
    if (whole) return viewOf(whole, start, end);
    const { mapping, start: offset } = this.ensure(start, end);
    return mapping.view(start - offset, end - offset);
  }

  /** The view of the mapped window, or of the whole region when not windowed. */
  currentView(): Uint8Array<ArrayBuffer> {
    if (this.#size === 0) return new Uint8Array(0);
    const whole = this.#whole();
    if (whole) return viewOf(whole, 0, this.#size);
    const { mapping, start } = this.#mapping
      ? { mapping: this.#mapping, start: this.#start }
      : this.ensure(0);
    return mapping.view(0, mapping.length).subarray(0, this.#size - start);
  }

  /** The internal chunk holding `position`, in region offsets. */
  chunkAt(position: number): { chunk: Uint8Array<ArrayBuffer>; chunkStart: number } {
    const { mapping, start } = this.ensure(position);
    const { chunk, chunkStart } = mapping.chunkAt(position - start);
    return { chunk, chunkStart: chunkStart + start };
  }

  /** Copies `count` bytes at `offset` into `target`, across windows and chunks. */
  copyOut(target: Uint8Array, offset: number, count: number): void {
    const whole = this.#whole();
    if (whole) {
      target.set(viewOf(whole, offset, offset + count));
      return;
    }
    let done = 0;
    while (done < count) {
      const { chunk, chunkStart } = this.chunkAt(offset + done);
      const from = offset + done - chunkStart;
      const take = Math.min(count - done, chunk.length - from);
      target.set(chunk.subarray(from, from + take), done);
      done += take;
    }
  }

  /** Copies `bytes` to `offset`, across windows and chunks; marks the region dirty. */
  copyIn(bytes: Uint8Array, offset: number): void {
    const whole = this.#whole();
    if (whole) {
      whole.set(bytes, offset);
      this.dirty = true;
      return;
    }
    let done = 0;
    while (done < bytes.length) {
      const { chunk, chunkStart } = this.chunkAt(offset + done);
      const from = offset + done - chunkStart;
      const take = Math.min(bytes.length - done, chunk.length - from);
      chunk.set(bytes.subarray(done, done + take), from);
      // Set per window: a slide in the next round syncs and clears it.
      this.dirty = true;
      done += take;
    }
  }

  /**
   * Follows a change of the file range's size. A full mapping is resized; a
   * window that the change cuts or that could now be longer is dropped and
   * maps again on the next access.
   */
  resize(newSize: number): void {
    const mapping = this.#mapping;
    if (newSize === this.#size) return;
    if (!this.windowed && mapping && newSize > 0) {
      mapping.resize(newSize);
    } else if (mapping) {
      const end = this.#start + mapping.length;
      const wanted = Math.min(this.#options.window, newSize - this.#start);
      if (this.#start >= newSize || end > newSize || !this.windowed || wanted > mapping.length) {
        this.#size = newSize;
        const error = this.#dropMapping();
        if (error) throw error;
        return;
      }
    }
    this.#size = newSize;
  }

  /** msync of `[start, start + length)` clipped to what is mapped now. */
  sync(start: number, length: number, async: boolean): void {
    const mapping = this.#mapping;
    if (!mapping) return;
    const from = Math.max(start, this.#start);
    const to = Math.min(start + length, this.#start + mapping.length);
    if (to > from) mapping.sync(from - this.#start, to - from, async);
  }

  /** madvise of `[start, start + length)` clipped to what is mapped now. */
  advise(start: number, length: number, advice: number): void {
    const { mapping, start: offset } = this.ensure(Math.min(start, Math.max(this.#size - 1, 0)));
    const from = Math.max(start, offset);
    const to = Math.min(start + length, offset + mapping.length);
    if (to > from) mapping.advise(from - offset, to - from, advice);
  }

  /** mlock of what is mapped now and of every window mapped later. */
  lock(): void {
    this.#mapping?.lock();
    this.#lock = true;
  }

  unlock(): void {
    this.#mapping?.unlock();
    this.#lock = false;
  }

  resident(): { pages: number; resident: number } {
    return this.#mapping?.resident() ?? { pages: 0, resident: 0 };
  }

  /** Detaches every view and releases the mapping; syncs a dirty window when asked. */
  release(): MmapError | undefined {
    this.#lock = false;
    return this.#dropMapping();
  }
}
