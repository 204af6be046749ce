/**
 * `MappedRegion`: the bytes `[0, size)` of a file range, mapped whole or
 * through a sliding window. It decides what is mapped when; callers ask for a
 * position and get memory that holds it.
 *
 * **Views stay alive across copying accesses.** A window that slides
 * detaches every view made over it, so only a call that hands out a view
 * (`view`, `currentView`: `subarray()` and `bytes`) slides the window once
 * views of it are out. A copying access (reads, writes, typed get/set,
 * advice) outside the window while views are out goes through a second,
 * internal window instead: its memory never leaves this file, so it can slide
 * freely. Views count as out from the first one made over a window until
 * that window goes away — JavaScript cannot tell when a caller drops a view.
 *
 * @module
 */

import type { MmapError } from "../errors.ts";
import type { AdviceName, FileHandle, Platform } from "../os/platform.ts";
import { Mapping } from "../mapping.ts";

/** How a region maps its file. */
export interface RegionOptions {
  /** File, or -1 for anonymous memory. */
  readonly fd: FileHandle;
  /** File offset of byte 0 of the region. */
  readonly fileOffset: number;
  readonly writable: boolean;
  readonly shared: boolean;
  readonly populate: boolean;
  readonly hugePages: boolean;
  /** Read-only: map private and writable so a stray write stays in this process (see MapRequest). */
  readonly absorbWrites: boolean;
  /** Bytes per window (page multiple), or 0 to map the whole region. */
  readonly window: number;
  /** msync a dirty window before it slides away. */
  readonly syncBeforeSlide: boolean;
  readonly path: string | null;
}

/** The mapped bytes of a file range. */
export class MappedRegion {
  readonly #platform: Platform;
  readonly #options: RegionOptions;
  readonly #pageSize: number;
  #size: number;
  #mapping: Mapping | null = null;
  /** Region offset of the current mapping's first byte. */
  #start = 0;
  /** A view of the current window was handed out: sliding it would detach that view. */
  #viewsOut = false;
  /** The internal window copying accesses use while views of `#mapping` are out. */
  #copy: Mapping | null = null;
  /** Region offset of `#copy`'s first byte. */
  #copyStart = 0;
  #lock = false;
  /**
   * The region mapped whole in one buffer: that buffer, the index of region
   * byte 0 in it, and a DataView over exactly the region. Set on first use
   * and forgotten before anything that detaches or replaces the mapping.
   *
   * Hot paths build views from these plain fields alone. They used to read
   * `.buffer` and `.byteOffset` of the whole view, which came back from a
   * method that may return null: V8's optimizer could not prove it a typed
   * array, so every `subarray()` called the `.buffer` getter as a C++ builtin
   * (perf: `Builtin_TypedArrayPrototypeBuffer`, `JSTypedArray::GetBuffer`
   * through `CEntry`). That cost ~15 ns on a page in cache, but ~90 ns on a
   * random page of a large file: a call that long keeps the CPU from
   * overlapping one view's cache and TLB miss with the next
   * (bench/view_floor.ts). The views are those of the registered whole
   * buffer, so close, resize and remap detach them as before.
   */
  #wholeBuffer: ArrayBuffer | null = null;
  #wholeBase = 0;
  #wholeData: DataView | null = null;
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
  constructor(platform: Platform, options: RegionOptions, size: number, initial?: Mapping) {
    this.#platform = platform;
    this.#options = options;
    this.#pageSize = platform.pageSize;
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

  /** Bytes mapped now (the window that views show). */
  get mappedLength(): number {
    return this.#mapping?.length ?? 0;
  }

  /** Whether views of the current window were handed out, so copying accesses will not slide it. */
  get viewsOut(): boolean {
    return this.#viewsOut;
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

  /**
   * Memory holding `position` for a copying access: the window when it holds
   * it; else the window slid there when no view of it is out; else the
   * internal copy window, which views never see.
   */
  #forCopy(position: number): { mapping: Mapping; start: number } {
    const mapping = this.#mapping;
    if (mapping && position >= this.#start && position < this.#start + mapping.length) {
      return { mapping, start: this.#start };
    }
    if (!this.#viewsOut) return this.ensure(position);
    const copy = this.#copy;
    if (copy && position >= this.#copyStart && position < this.#copyStart + copy.length) {
      return { mapping: copy, start: this.#copyStart };
    }
    const [windowStart, length] = this.#windowAround(position, position + 1);
    const fresh = this.#map(windowStart, length);
    const error = this.#dropCopy();
    this.#copy = fresh;
    this.#copyStart = windowStart;
    if (error) throw error;
    return { mapping: fresh, start: windowStart };
  }

  /** The whole region as one buffer, when it is mapped whole and fits in one. */
  #whole(): Uint8Array<ArrayBuffer> | null {
    const mapping = this.#mapping;
    return mapping && this.#options.window === 0 ? mapping.wholeView() : null;
  }

  /** Fills the fast fields from the whole view; false when the region is not mapped whole in one buffer. */
  #cacheWhole(): boolean {
    const whole = this.#whole();
    if (!whole) return false;
    const buffer = whole.buffer;
    this.#wholeBuffer = buffer;
    this.#wholeBase = whole.byteOffset;
    this.#wholeData = new DataView(buffer, whole.byteOffset, whole.length);
    return true;
  }

  /** Called before the mapping is released, moved or resized: its buffers are about to be detached. */
  #forgetWhole(): void {
    this.#wholeBuffer = null;
    this.#wholeData = null;
  }

  /**
   * A DataView over exactly `[0, size)` when the region is mapped whole in
   * one buffer (so byte `offset` of the region is index `offset` of the
   * view), else null: typed accessors then go through {@linkcode chunkAt}.
   */
  wholeData(): DataView | null {
    return this.#wholeData ?? (this.#cacheWhole() ? this.#wholeData : null);
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

  /**
   * Where a window holding `[start, end)` starts and how long it is. A range
   * longer than `window` (a large `subarray()`) gets a window of its own
   * length: the window is the usual mapping size, not a cap.
   */
  #windowAround(start: number, end: number): [number, number] {
    if (!this.windowed) return [0, this.#size];
    const options = this.#options;
    const page = this.#pageSize;
    // Align the file offset, not the region offset, to a page.
    const aligned = Math.floor((options.fileOffset + start) / page) * page - options.fileOffset;
    const windowStart = Math.max(0, aligned);
    return [windowStart, Math.min(Math.max(options.window, end - windowStart), this.#size - windowStart)];
  }

  #mapAround(start: number, end: number): Mapping {
    const [windowStart, length] = this.#windowAround(start, end);
    const mapping = this.#map(windowStart, length);
    // The copy window only serves while views of the old window are out; they detach now.
    const copyError = this.#dropCopy();
    const error = this.#dropMapping() ?? copyError;
    this.#mapping = mapping;
    this.#start = windowStart;
    if (error) throw error;
    return mapping;
  }

  /** Maps `length` bytes from region offset `windowStart`, locked when the region is. */
  #map(windowStart: number, length: number): Mapping {
    const options = this.#options;
    const mapping = Mapping.map(this.#platform, {
      fd: options.fd,
      fileOffset: options.fileOffset + windowStart,
      length,
      writable: options.writable,
      shared: options.shared,
      populate: options.populate,
      hugePages: options.hugePages,
      absorbWrites: options.absorbWrites,
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
    return mapping;
  }

  /** Syncs the copy window when dirty and asked to, then releases it; leaves `dirty` to the main window. */
  #dropCopy(): MmapError | undefined {
    const copy = this.#copy;
    if (!copy) return undefined;
    this.#copy = null;
    let syncError: MmapError | undefined;
    if (this.dirty && this.#options.syncBeforeSlide) {
      try {
        copy.sync(0, copy.length, false);
      } catch (error) {
        syncError = error as MmapError;
        this.onSyncFailure?.(syncError);
      }
    }
    if (this.dirty && !syncError && !this.#options.syncBeforeSlide) this.droppedDirty = true;
    return copy.release() ?? syncError;
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
    this.#forgetWhole();
    this.#mapping = null;
    this.#viewsOut = false;
    return mapping.release() ?? syncError;
  }

  /** Whether `buffer` belongs to the current mapping, so a resize or slide would detach it. */
  holds(buffer: ArrayBufferLike): boolean {
    return this.#mapping?.holds(buffer) ?? false;
  }

  /** A zero-copy view of `[start, end)`, mapping it first. */
  view(start: number, end: number): Uint8Array<ArrayBuffer> {
    if (end === start) return new Uint8Array(0);
    const buffer = this.#wholeBuffer;
    if (buffer !== null) return new Uint8Array(buffer, this.#wholeBase + start, end - start);
    if (this.#cacheWhole()) return this.view(start, end);
    const { mapping, start: offset } = this.ensure(start, end);
    this.#viewsOut = true;
    return mapping.view(start - offset, end - offset);
  }

  /** The view of the mapped window, or of the whole region when not windowed. */
  currentView(): Uint8Array<ArrayBuffer> {
    if (this.#size === 0) return new Uint8Array(0);
    const buffer = this.#wholeBuffer;
    if (buffer !== null) return new Uint8Array(buffer, this.#wholeBase, this.#size);
    if (this.#cacheWhole()) return this.currentView();
    const { mapping, start } = this.#mapping
      ? { mapping: this.#mapping, start: this.#start }
      : this.ensure(0);
    this.#viewsOut = true;
    return mapping.view(0, mapping.length).subarray(0, this.#size - start);
  }

  /**
   * The internal chunk holding `position`, in region offsets, for a copying
   * access: never slides the window while views of it are out.
   */
  chunkAt(position: number): { chunk: Uint8Array<ArrayBuffer>; chunkStart: number } {
    const { mapping, start } = this.#forCopy(position);
    const { chunk, chunkStart } = mapping.chunkAt(position - start);
    return { chunk, chunkStart: chunkStart + start };
  }

  /** Copies `count` bytes at `offset` into `target`, across windows and chunks. */
  copyOut(target: Uint8Array, offset: number, count: number): void {
    const buffer = this.#wholeBuffer;
    if (buffer !== null) {
      target.set(new Uint8Array(buffer, this.#wholeBase + offset, count));
      return;
    }
    if (this.#cacheWhole()) return this.copyOut(target, offset, count);
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
    const buffer = this.#wholeBuffer;
    if (buffer !== null) {
      new Uint8Array(buffer, this.#wholeBase + offset, bytes.length).set(bytes);
      this.dirty = true;
      return;
    }
    if (this.#cacheWhole()) return this.copyIn(bytes, offset);
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
    this.#forgetWhole();
    const copyError = this.#dropCopy();
    if (copyError) throw copyError;
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

  /** msync of `[start, start + length)` clipped to what is mapped now (both windows). */
  sync(start: number, length: number, async: boolean): void {
    for (const [mapping, at] of [[this.#mapping, this.#start], [this.#copy, this.#copyStart]] as const) {
      if (!mapping) continue;
      const from = Math.max(start, at);
      const to = Math.min(start + length, at + mapping.length);
      if (to > from) mapping.sync(from - at, to - from, async);
    }
  }

  /** madvise of `[start, start + length)` clipped to what is mapped now. */
  advise(start: number, length: number, advice: AdviceName): void {
    const { mapping, start: offset } = this.#forCopy(Math.min(start, Math.max(this.#size - 1, 0)));
    const from = Math.max(start, offset);
    const to = Math.min(start + length, offset + mapping.length);
    if (to > from) mapping.advise(from - offset, to - from, advice);
  }

  /** mlock of what is mapped now and of every window mapped later. */
  lock(): void {
    this.#mapping?.lock();
    this.#copy?.lock();
    this.#lock = true;
  }

  unlock(): void {
    this.#mapping?.unlock();
    this.#copy?.unlock();
    this.#lock = false;
  }

  resident(): { pages: number; resident: number } {
    return this.#mapping?.resident() ?? { pages: 0, resident: 0 };
  }

  /** Detaches every view and releases the mapping; syncs a dirty window when asked. */
  release(): MmapError | undefined {
    this.#lock = false;
    const copyError = this.#dropCopy();
    return this.#dropMapping() ?? copyError;
  }
}
