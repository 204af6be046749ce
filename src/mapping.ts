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

import { errnoError, MmapError } from "./errors.ts";
import { MAP_FAILED } from "./ffi/constants.ts";
import type { Libc } from "./ffi/libc.ts";
import { countMapping, reserveMapping, returnMapping } from "./mapping_budget.ts";

/** What to map. */
export interface MapRequest {
  /** Descriptor to map, or -1 for anonymous memory. */
  readonly fd: number;
  /** Byte offset in the file of the first byte wanted; any value, aligned inside. */
  readonly fileOffset: number;
  /** Bytes wanted; more than 0. */
  readonly length: number;
  readonly writable: boolean;
  /** `MAP_SHARED` when true, else copy-on-write `MAP_PRIVATE`. */
  readonly shared: boolean;
  readonly populate?: boolean;
  readonly hugePages?: boolean;
  /**
   * With `writable: false`: map the pages private and writable instead of
   * `PROT_READ`, so a stray write through a view changes this process's copy
   * of the page and never the file, instead of killing the process with
   * SIGSEGV. `MAP_NORESERVE` keeps the mapping off the commit charge, so a
   * file larger than RAM + swap still maps. Where the kernel refuses that
   * mapping (strict overcommit charges it anyway) the strict one is made.
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
  readonly #libc: Libc;
  readonly #request: MapRequest;
  readonly #pageSize: number;
  #address: bigint;
  /** Distance from the page-aligned start of the mapping to the first wanted byte. */
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
    libc: Libc,
    request: MapRequest,
    address: bigint,
    delta: number,
    holders: Holders = { count: 1, tainted: false },
  ) {
    this.#libc = libc;
    this.#request = request;
    this.#pageSize = libc.pageSize();
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
    const other = new Mapping(this.#libc, this.#request, this.#address, this.#delta, this.#holders);
    other.#length = this.#length;
    other.#absorbing = this.#absorbing;
    return other;
  }

  /**
   * Maps `request.length` bytes at `request.fileOffset`.
   *
   * @throws {MmapError} When mmap fails.
   */
  static map(libc: Libc, request: MapRequest): Mapping {
    const page = libc.pageSize();
    const delta = request.fileOffset % page;
    const aligned = request.fileOffset - delta;
    const absorbing = request.absorbWrites === true && !request.writable
      ? mapAbsorbing(libc, request, aligned, delta + request.length)
      : null;
    const address = absorbing ?? mapRange(libc, request, aligned, delta + request.length);
    const mapping = new Mapping(libc, request, address, delta);
    mapping.#absorbing = absorbing !== null;
    if (request.populate && (mapping.#absorbing || !libc.constants.MAP_POPULATE)) mapping.#prefault();
    if (request.hugePages) mapping.#adviseQuietly("hugepage");
    return mapping;
  }

  /**
   * Prefaults the pages without writing: `MADV_POPULATE_READ` (Linux 5.14+),
   * else `MADV_WILLNEED`. `MAP_POPULATE` would fault a private writable
   * mapping for writing, copying every page of the file.
   */
  #prefault(): void {
    const read = this.#libc.constants.advice["populate-read"];
    if (read !== undefined && this.#libc.madvise(this.#address, this.#mappedLength, read) === 0) return;
    this.#adviseQuietly("willneed");
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
    const max = this.#libc.maxArrayBufferLength;
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
    if (length > this.#libc.maxArrayBufferLength) {
      throw new RangeError(
        `Cannot view ${length} bytes at once: this runtime's buffers hold at most ` +
          `${this.#libc.maxArrayBufferLength} bytes; use subarray() on smaller ranges ` +
          "or open with a window",
      );
    }
    const buffer = this.#libc.arrayBuffer(this.#address + BigInt(this.#delta + start), length);
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
    if (this.#length === 0 || this.#mappedLength > this.#libc.maxArrayBufferLength) return null;
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
      const buffer = this.#libc.arrayBuffer(this.#address + BigInt(mappedStart), mappedEnd - mappedStart);
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
    if (clean && this.#libc.munmap(address, length) === 0) {
      returnMapping();
      return undefined;
    }
    const unmapError = clean ? this.#error("munmap") : undefined;
    // The overlay replaced the file pages, so no file reference is left; its
    // zero pages stay mapped for whoever still holds a view.
    if (this.#overlay(address, length)) return unmapError;
    return unmapError ?? this.#error("mmap");
  }

  /**
   * Changes the wanted length. Views are detached first because the range may
   * move. Uses mremap where the platform has it, else maps anew and copies
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
    const libc = this.#libc;
    if (newLength < this.#length) {
      this.#shrink(oldMapped, newMapped, clean);
    } else if (clean && libc.mremap) {
      const moved = libc.mremap(this.#address, oldMapped, newMapped, libc.constants.MREMAP_MAYMOVE);
      if (moved === MAP_FAILED) throw this.#error("mremap");
      this.#address = moved;
    } else {
      this.#moveTo(newMapped, clean);
    }
    this.#length = newLength;
    if (this.#locked && libc.mlock(this.#address, newMapped) !== 0) {
      this.#locked = false;
      throw this.#error("mlock");
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
      if (this.#libc.munmap(tail, drop) !== 0) throw this.#error("munmap");
      return;
    }
    // A stray view may still point at the tail: overlay it instead of unmapping.
    if (!this.#overlay(tail, drop)) throw this.#error("mmap");
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
    const libc = this.#libc;
    const oldMapped = this.#delta + this.#length;
    const address = mapRange(libc, request, request.fileOffset - this.#delta, newMapped);
    if (request.fd < 0) {
      // Anonymous memory has no file behind it: carry the bytes over.
      const from = libc.arrayBuffer(this.#address, oldMapped);
      const to = libc.arrayBuffer(address, newMapped);
      new Uint8Array(to).set(new Uint8Array(from));
      from.transfer(0);
      to.transfer(0);
    }
    // Stray views stay behind on an overlaid old range; the new one has none.
    const released = clean
      ? libc.munmap(this.#address, oldMapped) === 0
      : this.#overlay(this.#address, oldMapped);
    if (!released) {
      const error = this.#error(clean ? "munmap" : "mmap");
      if (libc.munmap(address, newMapped) === 0) returnMapping();
      throw error;
    }
    // An unmapped old range is uncounted; an overlaid one stays mapped and counted.
    if (clean) returnMapping();
    this.#address = address;
    this.#holders.tainted = false;
  }

  /** Replaces `[address, address + length)` with anonymous zero pages; false when that failed. */
  #overlay(address: bigint, length: number): boolean {
    const { PROT_READ, PROT_WRITE, MAP_FIXED, MAP_PRIVATE, MAP_ANONYMOUS } = this.#libc.constants;
    const flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
    return this.#libc.mmap(address, length, PROT_READ | PROT_WRITE, flags, -1, 0) !== MAP_FAILED;
  }

  /**
   * `msync` over the pages holding `[start, start + length)`.
   *
   * @throws {MmapError} When msync fails.
   */
  sync(start: number, length: number, async: boolean): void {
    if (length === 0) return;
    const { MS_SYNC, MS_ASYNC } = this.#libc.constants;
    const [address, bytes] = this.#pageRange(start, length);
    if (this.#libc.msync(address, bytes, async ? MS_ASYNC : MS_SYNC) !== 0) {
      throw this.#error("msync");
    }
  }

  /**
   * `madvise` over the pages holding `[start, start + length)`.
   *
   * @throws {MmapError} When the kernel refuses the advice.
   */
  advise(start: number, length: number, advice: number): void {
    if (length === 0) return;
    const [address, bytes] = this.#pageRange(start, length);
    if (this.#libc.madvise(address, bytes, advice) !== 0) throw this.#error("madvise");
  }

  #adviseQuietly(name: "willneed" | "hugepage"): void {
    const advice = this.#libc.constants.advice[name];
    // A hint: the mapping works without it, so its failure is not an error.
    if (advice !== undefined) this.#libc.madvise(this.#address, this.#mappedLength, advice);
  }

  /**
   * mlock. A read-only range mapped private and writable is made `PROT_READ`
   * first and stays so while locked: locking a writable private range faults
   * every page in for writing, which would copy the whole file into anonymous
   * memory and stop it following the file.
   *
   * @throws {MmapError} When mprotect or mlock fails (RLIMIT_MEMLOCK, no memory).
   */
  lock(): void {
    const { PROT_READ, PROT_WRITE } = this.#libc.constants;
    if (this.#absorbing && this.#libc.mprotect(this.#address, this.#mappedLength, PROT_READ) !== 0) {
      throw this.#error("mprotect");
    }
    if (this.#libc.mlock(this.#address, this.#mappedLength) !== 0) {
      const error = this.#error("mlock");
      if (this.#absorbing) this.#libc.mprotect(this.#address, this.#mappedLength, PROT_READ | PROT_WRITE);
      throw error;
    }
    this.#locked = true;
  }

  /** @throws {MmapError} When munlock (or giving a read-only range its writable pages back) fails. */
  unlock(): void {
    if (this.#libc.munlock(this.#address, this.#mappedLength) !== 0) throw this.#error("munlock");
    this.#locked = false;
    const { PROT_READ, PROT_WRITE } = this.#libc.constants;
    if (this.#absorbing && this.#libc.mprotect(this.#address, this.#mappedLength, PROT_READ | PROT_WRITE) !== 0) {
      throw this.#error("mprotect");
    }
  }

  /** Pages mapped and how many of them are in memory now (`mincore`). */
  resident(): { pages: number; resident: number } {
    const pages = Math.ceil(this.#mappedLength / this.#pageSize);
    const vector = new Uint8Array(pages);
    if (this.#libc.mincore(this.#address, this.#mappedLength, vector) !== 0) {
      throw this.#error("mincore");
    }
    let resident = 0;
    for (const flags of vector) resident += flags & 1;
    return { pages, resident };
  }

  /** Page-aligned address and length covering `[start, start + length)`. */
  #pageRange(start: number, length: number): [bigint, number] {
    const page = this.#pageSize;
    const first = Math.floor((this.#delta + start) / page) * page;
    const end = this.#delta + start + length;
    return [this.#address + BigInt(first), end - first];
  }

  #error(syscall: string): MmapError {
    return errnoError(this.#libc.errno, this.#libc.constants.errnoNames, syscall, this.#request.path);
  }
}

/**
 * A read-only request mapped private, readable and writable, without commit
 * charge; `null` when the kernel refuses (then the strict mapping is made).
 */
function mapAbsorbing(libc: Libc, request: MapRequest, alignedOffset: number, length: number): bigint | null {
  const c = libc.constants;
  const flags = (request.fd < 0 ? c.MAP_ANONYMOUS : 0) | c.MAP_PRIVATE | c.MAP_NORESERVE;
  // Counted like any other mapping; over budget this throws before mmap.
  reserveMapping(libc, request.path);
  const address = libc.mmap(0n, length, c.PROT_READ | c.PROT_WRITE, flags, request.fd, alignedOffset);
  if (address !== MAP_FAILED) return address;
  returnMapping();
  return null;
}

/** mmap with the request's protection and flags; falls back from huge pages. */
function mapRange(libc: Libc, request: MapRequest, alignedOffset: number, length: number): bigint {
  reserveMapping(libc, request.path);
  try {
    return mapCounted(libc, request, alignedOffset, length);
  } catch (error) {
    returnMapping();
    throw error;
  }
}

/** mapRange once the mapping is counted in the budget. */
function mapCounted(libc: Libc, request: MapRequest, alignedOffset: number, length: number): bigint {
  const c = libc.constants;
  const prot = c.PROT_READ | (request.writable ? c.PROT_WRITE : 0);
  let flags = request.fd < 0 ? c.MAP_ANONYMOUS : 0;
  flags |= request.shared ? c.MAP_SHARED : c.MAP_PRIVATE;
  if (request.populate) flags |= c.MAP_POPULATE;
  if (request.hugePages && request.fd < 0 && c.MAP_HUGETLB) {
    // Only anonymous memory can ask for hugetlb pages; without reserved huge
    // pages the kernel refuses and ordinary pages are used instead.
    const huge = libc.mmap(0n, length, prot, flags | c.MAP_HUGETLB, request.fd, alignedOffset);
    if (huge !== MAP_FAILED) return huge;
  }
  const address = libc.mmap(0n, length, prot, flags, request.fd, alignedOffset);
  if (address === MAP_FAILED) {
    throw errnoError(libc.errno, c.errnoNames, "mmap", request.path);
  }
  return address;
}

/**
 * `whole.subarray(start, end)` for in-range arguments, made by the constructor:
 * it skips subarray's species lookup, about a third of the cost on every runtime.
 */
export function viewOf(whole: Uint8Array<ArrayBuffer>, start: number, end: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(whole.buffer, whole.byteOffset + start, end - start);
}
