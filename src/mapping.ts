/**
 * `Mapping`: one mmap'd range and everything that touches its memory directly —
 * page alignment, the views handed out over it, and taking it away safely.
 *
 * Safety model: every `ArrayBuffer` created over the range is registered. Before
 * the range goes away (unmap, move, shrink) each is detached with
 * `transfer(0)`. If any cannot be detached — a user transferred it away, or the
 * runtime refused — the range is not unmapped but replaced in place by private
 * anonymous memory, so a stray reader sees zeros instead of crashing.
 *
 * @module
 */

import type { MmapError } from "./errors.ts";
import { countMapping, reserveMapping, returnMapping } from "./mapping_budget.ts";
import type { AdviceName, FileHandle, Platform, PlatformMapRequest } from "./os/platform.ts";

/** What to map. */
export interface MapRequest {
  /** File to map, or -1 for anonymous memory. */
  readonly fd: FileHandle;
  /** Byte offset in the file of the first byte wanted; any value, aligned inside. */
  readonly fileOffset: number;
  /** Bytes wanted; more than 0. */
  readonly length: number;
  readonly writable: boolean;
  /** Shared with the file and other processes when true, else copy-on-write. */
  readonly shared: boolean;
  readonly populate?: boolean;
  readonly hugePages?: boolean;
  /**
   * With `writable: false`: map the pages private and writable instead of
   * read-only, so a stray write through a view changes this process's copy
   * of the page and never the file, instead of killing the process with
   * SIGSEGV (see `PlatformMapRequest.absorbWrites`). Where the kernel refuses
   * that mapping the strict one is made.
   */
  readonly absorbWrites?: boolean;
  /** For error messages. */
  readonly path: string | null;
}

/** Internal views are cut into chunks of this size when one buffer cannot hold the range. */
const LARGE_CHUNK = 2 ** 30;

/** What the `Mapping` objects sharing one range know together. */
interface Holders {
  count: number;
  /** A holder could not detach a view: the range must never be unmapped. */
  tainted: boolean;
}

/** One mmap'd range of a file or of anonymous memory. */
export class Mapping {
  readonly #platform: Platform;
  readonly #request: MapRequest;
  readonly #pageSize: number;
  #address: bigint;
  /** Distance from the aligned start of the mapping to the first wanted byte. */
  readonly #delta: number;
  #length: number;
  /** Internal and user views of whole chunks, created on first use. */
  #chunks: (Uint8Array<ArrayBuffer> | undefined)[] = [];
  /** Chunk 0 when it holds the whole wanted range: the fast path of views and copies. */
  #whole: Uint8Array<ArrayBuffer> | null = null;
  /** Buffers made for user views that cross chunks; weak so unused ones can go. */
  #extraBuffers = new Set<WeakRef<ArrayBuffer>>();
  #locked = false;
  /** Mapped private and writable on behalf of a read-only request (see `absorbWrites`). */
  #absorbing = false;
  #holders: Holders;

  private constructor(
    platform: Platform,
    request: MapRequest,
    address: bigint,
    delta: number,
    holders: Holders = { count: 1, tainted: false },
  ) {
    this.#platform = platform;
    this.#request = request;
    this.#pageSize = platform.pageSize;
    this.#address = address;
    this.#delta = delta;
    this.#length = request.length;
    this.#holders = holders;
  }

  /**
   * Another holder of the same range, with views of its own: releasing one
   * holder detaches only its views, and the range is unmapped with the last.
   * A shared range cannot be resized.
   */
  share(): Mapping {
    this.#holders.count++;
    const other = new Mapping(this.#platform, this.#request, this.#address, this.#delta, this.#holders);
    other.#length = this.#length;
    other.#absorbing = this.#absorbing;
    return other;
  }

  /**
   * Maps `request.length` bytes at `request.fileOffset`.
   *
   * @throws {MmapError} When mmap fails.
   */
  static map(platform: Platform, request: MapRequest): Mapping {
    const mapped = mapRange(platform, request, request.length);
    const mapping = new Mapping(platform, request, mapped.address, mapped.delta);
    mapping.#absorbing = mapped.absorbing;
    return mapping;
  }

  /**
   * The address of byte `start` of the wanted range, for calls that take a
   * pointer into the mapping (futex). Valid until the mapping moves or goes.
   */
  addressOf(start: number): bigint {
    return this.#address + BigInt(this.#delta + start);
  }

  /** Bytes of the wanted range. */
  get length(): number {
    return this.#length;
  }

  /** File offset of the first wanted byte. */
  get fileOffset(): number {
    return this.#request.fileOffset;
  }

  get writable(): boolean {
    return this.#request.writable;
  }

  get locked(): boolean {
    return this.#locked;
  }

  /** Whether another `Mapping` shares this range, so releasing this one unmaps nothing. */
  get shared(): boolean {
    return this.#holders.count > 1;
  }

  /** How many `Mapping` objects hold this range now (0 once the last let go). */
  get holders(): number {
    return this.#holders.count;
  }

  /** Bytes actually mapped, from the page-aligned start. */
  get #mappedLength(): number {
    return this.#delta + this.#length;
  }

  /** The largest view this runtime can make in one buffer. */
  get #chunkSize(): number {
    const max = this.#platform.maxArrayBufferLength;
    return this.#mappedLength <= max ? this.#mappedLength : Math.min(LARGE_CHUNK, max);
  }

  /**
   * A zero-copy view of `[start, end)` of the wanted range.
   *
   * @throws {RangeError} When this runtime cannot make one buffer that large.
   */
  view(start: number, end: number): Uint8Array<ArrayBuffer> {
    if (this.#whole) return viewOf(this.#whole, start, end);
    const { chunk, chunkStart } = this.#chunkFor(start);
    const chunkEnd = chunkStart + chunk.length;
    if (end <= chunkEnd || end - start === 0) {
      return chunk.subarray(start - chunkStart, end - chunkStart);
    }
    const length = end - start;
    if (length > this.#platform.maxArrayBufferLength) {
      throw new RangeError(
        `Cannot view ${length} bytes at once: this runtime's buffers hold at most ` +
          `${this.#platform.maxArrayBufferLength} bytes; use subarray() on smaller ranges ` +
          "or open with a window",
      );
    }
    const buffer = this.#platform.arrayBuffer(this.#address + BigInt(this.#delta + start), length);
    this.#extraBuffers.add(new WeakRef(buffer));
    return new Uint8Array(buffer);
  }

  /**
   * The internal view holding byte `position`: the chunk and where it starts in
   * the wanted range. Copying loops use it to cross chunks without new buffers.
   */
  chunkAt(position: number): { chunk: Uint8Array<ArrayBuffer>; chunkStart: number } {
    return this.#chunkFor(position);
  }

  /**
   * One view of the whole wanted range when this runtime can make a buffer
   * that large, else null. Kept until the views are detached, so hot paths
   * pay one subarray and no lookup.
   */
  wholeView(): Uint8Array<ArrayBuffer> | null {
    if (this.#whole) return this.#whole;
    if (this.#length === 0 || this.#mappedLength > this.#platform.maxArrayBufferLength) return null;
    this.#whole = this.#chunkFor(0).chunk;
    return this.#whole;
  }

  #chunkFor(position: number): { chunk: Uint8Array<ArrayBuffer>; chunkStart: number } {
    const size = this.#chunkSize;
    // Chunk k covers mapped bytes [k*size, (k+1)*size); position is relative to
    // #delta, and the end of the range belongs to the last chunk.
    const last = Math.floor((this.#mappedLength - 1) / size);
    const index = Math.min(Math.floor((this.#delta + position) / size), last);
    let chunk = this.#chunks[index];
    if (!chunk) {
      const mappedStart = index * size;
      const mappedEnd = Math.min(mappedStart + size, this.#mappedLength);
      const buffer = this.#platform.arrayBuffer(this.#address + BigInt(mappedStart), mappedEnd - mappedStart);
      // The first chunk hides the alignment bytes in front of the wanted range.
      const skip = index === 0 ? this.#delta : 0;
      chunk = new Uint8Array(buffer, skip);
      this.#chunks[index] = chunk;
    }
    const chunkStart = index === 0 ? 0 : index * size - this.#delta;
    return { chunk, chunkStart };
  }

  /**
   * Whether `buffer` is one this range made (a chunk or a user view): a view
   * over it is detached when the range is resized, moved or released.
   */
  holds(buffer: ArrayBufferLike): boolean {
    for (const chunk of this.#chunks) if (chunk?.buffer === buffer) return true;
    for (const ref of this.#extraBuffers) if (ref.deref() === buffer) return true;
    return false;
  }

  /**
   * Detaches every buffer handed out over this range. Returns false when one
   * could not be detached, so the memory must never be unmapped.
   */
  detachViews(): boolean {
    let clean = true;
    const buffers: ArrayBuffer[] = [];
    for (const chunk of this.#chunks) if (chunk) buffers.push(chunk.buffer as ArrayBuffer);
    for (const ref of this.#extraBuffers) {
      const buffer = ref.deref();
      if (buffer) buffers.push(buffer);
    }
    for (const buffer of buffers) {
      // A buffer already detached before we got here was transferred away by
      // someone else: its new owner still points into the mapping.
      if (buffer.detached) {
        clean = false;
        continue;
      }
      try {
        buffer.transfer(0);
      } catch { /* checked just below */ }
      if (!buffer.detached) clean = false;
    }
    this.#chunks = [];
    this.#whole = null;
    this.#extraBuffers.clear();
    return clean;
  }

  /**
   * Detaches all views and releases the range. When a view could not be
   * detached the range is overlaid with anonymous zero pages instead of being
   * unmapped. Never throws: the error, if any, is returned.
   */
  release(): MmapError | undefined {
    if (!this.detachViews()) this.#holders.tainted = true;
    if (--this.#holders.count > 0) return undefined;
    return this.#retire(this.#address, this.#delta + this.#length, !this.#holders.tainted);
  }

  #retire(address: bigint, length: number, clean: boolean): MmapError | undefined {
    const unmapError = clean ? this.#platform.unmap(address, length, this.#request.path) : undefined;
    if (clean && !unmapError) {
      returnMapping();
      return undefined;
    }
    // The overlay replaced the file pages, so no file reference is left; its
    // zero pages stay mapped for whoever still holds a view.
    const overlayError = this.#overlay(address, length);
    return unmapError ?? overlayError;
  }

  /**
   * Changes the wanted length. Views are detached first because the range may
   * move. Remaps where the platform can (mremap), else maps anew and copies
   * nothing (file pages are shared; an anonymous range is copied).
   *
   * @throws {MmapError} When the new range cannot be mapped; the old one is kept.
   */
  resize(newLength: number): void {
    if (this.#holders.count > 1) {
      throw new TypeError("Cannot resize a mapping that other handles share");
    }
    const clean = this.detachViews() && !this.#holders.tainted;
    this.#holders.tainted = !clean;
    const oldMapped = this.#delta + this.#length;
    const newMapped = this.#delta + newLength;
    const platform = this.#platform;
    if (newLength < this.#length && (platform.unmapTail || !clean && platform.overlay)) {
      this.#shrink(oldMapped, newMapped, clean);
    } else if (clean && platform.remap) {
      this.#address = platform.remap(this.#address, oldMapped, newMapped, this.#request.path);
    } else {
      this.#moveTo(newMapped, clean);
    }
    this.#length = newLength;
    if (this.#locked) {
      try {
        platform.lock(this.#address, newMapped, this.#request.path);
      } catch (error) {
        this.#locked = false;
        throw error;
      }
    }
  }

  /**
   * Unmaps the pages past the new end. When that fails nothing changed, so
   * the old length stands and the caller keeps a whole, usable mapping.
   */
  #shrink(oldMapped: number, newMapped: number, clean: boolean): void {
    const page = this.#pageSize;
    const keep = Math.ceil(newMapped / page) * page;
    const drop = Math.ceil(oldMapped / page) * page - keep;
    if (drop <= 0) return;
    const tail = this.#address + BigInt(keep);
    if (clean) {
      const error = this.#platform.unmapTail!(tail, drop, this.#request.path);
      if (error) throw error;
      return;
    }
    // A stray view may still point at the tail: overlay it instead of unmapping.
    const overlayError = this.#overlay(tail, drop);
    if (overlayError) throw overlayError;
    // The overlaid tail is a mapping of its own now, kept for good.
    countMapping();
  }

  /**
   * Maps the range anew at `newMapped` bytes and lets the old range go. The
   * old range is released only once the new one exists; when it cannot be
   * released the new one is unmapped again, so a failure changes nothing.
   */
  #moveTo(newMapped: number, clean: boolean): void {
    const request = this.#request;
    const platform = this.#platform;
    const oldMapped = this.#delta + this.#length;
    const { address } = mapRange(platform, { ...request, absorbWrites: false }, newMapped - this.#delta);
    if (request.fd < 0) {
      // Anonymous memory has no file behind it: carry the bytes over.
      const from = platform.arrayBuffer(this.#address, oldMapped);
      const to = platform.arrayBuffer(address, newMapped);
      new Uint8Array(to).set(new Uint8Array(from).subarray(0, Math.min(oldMapped, newMapped)));
      from.transfer(0);
      to.transfer(0);
    }
    // Stray views stay behind on an overlaid old range; the new one has none.
    // Where nothing can replace the old range in place, it stays mapped (and counted).
    const error = clean ? platform.unmap(this.#address, oldMapped, request.path) : this.#overlay(this.#address, oldMapped);
    if (error) {
      if (!platform.unmap(address, newMapped, request.path)) returnMapping();
      throw error;
    }
    // An unmapped old range is uncounted; an overlaid one stays mapped and counted.
    if (clean) returnMapping();
    this.#address = address;
    this.#holders.tainted = false;
  }

  /**
   * Replaces `[address, address + length)` with anonymous zero pages; the
   * error when that failed. Where the platform cannot, the range is kept as
   * it is (a stray view still reads memory that is mapped).
   */
  #overlay(address: bigint, length: number): MmapError | undefined {
    return this.#platform.overlay?.(address, length, this.#request.path);
  }

  /**
   * `msync` over the pages holding `[start, start + length)`.
   *
   * @throws {MmapError} When msync fails.
   */
  sync(start: number, length: number, async: boolean): void {
    if (length === 0) return;
    const [address, bytes] = this.#pageRange(start, length);
    this.#platform.flush(address, bytes, async, this.#request.path);
  }

  /**
   * `madvise` over the pages holding `[start, start + length)`.
   *
   * @throws {MmapError} When the kernel refuses the advice.
   */
  advise(start: number, length: number, advice: AdviceName): void {
    if (length === 0) return;
    const [address, bytes] = this.#pageRange(start, length);
    this.#platform.advise(address, bytes, advice, this.#request.path);
  }

  /**
   * Locks the pages in memory. A read-only range mapped private and writable
   * is made read-only first and stays so while locked: locking a writable private range faults
   * every page in for writing, which would copy the whole file into anonymous
   * memory and stop it following the file.
   *
   * @throws {MmapError} When protecting or locking fails (the lock limit, no memory).
   */
  lock(): void {
    const platform = this.#platform;
    const path = this.#request.path;
    if (this.#absorbing) platform.protect(this.#address, this.#mappedLength, "read", path);
    try {
      platform.lock(this.#address, this.#mappedLength, path);
    } catch (error) {
      if (this.#absorbing) {
        try {
          platform.protect(this.#address, this.#mappedLength, "write", path);
        } catch { /* the lock's error is the one to report */ }
      }
      throw error;
    }
    this.#locked = true;
  }

  /** @throws {MmapError} When munlock (or giving a read-only range its writable pages back) fails. */
  unlock(): void {
    this.#platform.unlock(this.#address, this.#mappedLength, this.#request.path);
    this.#locked = false;
    if (this.#absorbing) this.#platform.protect(this.#address, this.#mappedLength, "write", this.#request.path);
  }

  /**
   * Pages mapped and how many of them are in memory now (`mincore`).
   *
   * @throws {MmapError} ENOSYS where the platform cannot tell.
   */
  resident(): { pages: number; resident: number } {
    if (!this.#platform.resident) throw this.#platform.error("ENOSYS", "mincore", this.#request.path);
    return this.#platform.resident(this.#address, this.#mappedLength, this.#request.path);
  }

  /** Page-aligned address and length covering `[start, start + length)`. */
  #pageRange(start: number, length: number): [bigint, number] {
    const page = this.#pageSize;
    const first = Math.floor((this.#delta + start) / page) * page;
    const end = this.#delta + start + length;
    return [this.#address + BigInt(first), end - first];
  }
}

/**
 * Maps `length` bytes of the request's range (its start, any length), counted
 * in the mapping budget: over budget this throws before anything is mapped.
 */
function mapRange(platform: Platform, request: MapRequest, length: number): { address: bigint; delta: number; absorbing: boolean } {
  reserveMapping(platform, request.path);
  try {
    return platform.map(platformRequest(request, length));
  } catch (error) {
    returnMapping();
    throw error;
  }
}

/** What the platform is asked to map for `request`, `length` bytes of it. */
function platformRequest(request: MapRequest, length: number): PlatformMapRequest {
  return {
    file: request.fd < 0 ? null : request.fd,
    offset: request.fileOffset,
    length,
    access: request.writable ? "write" : "read",
    shared: request.shared,
    absorbWrites: request.absorbWrites,
    populate: request.populate,
    hugePages: request.hugePages,
    label: request.path,
  };
}

/**
 * `whole.subarray(start, end)` for in-range arguments, made by the constructor:
 * it skips subarray's species lookup, about a third of the cost on every runtime.
 */
export function viewOf(whole: Uint8Array<ArrayBuffer>, start: number, end: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(whole.buffer, whole.byteOffset + start, end - start);
}
