/**
 * `MappedFile`: a file (or anonymous memory) mapped into memory, with zero-copy
 * views, file-like reads and writes, DataView-style accessors and explicit
 * control of syncing, advice, locking and size.
 *
 * @module
 */

import { ClosedError, FileTruncatedError, MmapError } from "../errors.ts";
import type { AdviceName } from "../ffi/constants.ts";
import type { Libc } from "../ffi/libc.ts";
import { libc as activeLibc } from "../ffi/mod.ts";
import { unrefInterval } from "../ffi/timers.ts";
import {
  assertByteCount, assertChoice, assertOptionalBoolean, assertOptionalByteCount, assertSafeInteger, assertUint8Array, optionsObject,
  toBytes, toPath,
} from "../validate.ts";
import { FileDescriptor, type Opener } from "./file_descriptor.ts";
import type { FileStat } from "../ffi/libc.ts";
import { type Advice, type MapOptions, type Mode, resolveMapOptions, type ResolvedMapOptions } from "./map_options.ts";
import { Durability } from "./durability.ts";
import { MappedRegion } from "./mapped_region.ts";
import type { Mapping } from "../mapping.ts";
import { probeAdvice } from "./advice_probe.ts";
import { readableFrom, writableTo } from "./streams.ts";
import { TypedAccess, type ValueSlot } from "./typed_access.ts";

export type { Advice, MapOptions, Mode, SyncMode } from "./map_options.ts";

const ADVICE_NAMES: readonly AdviceName[] = [
  "normal", "random", "sequential", "willneed", "dontneed", "free", "remove", "hugepage",
  "nohugepage", "populate-read", "populate-write", "cold", "pageout", "dontfork", "dofork",
  "mergeable", "unmergeable",
];

/** Set by MappedFile's static block: builds a handle over a shared mapping. */
let adoptMapping: (
  libc: Libc,
  path: string,
  options: ResolvedMapOptions,
  region: MappedRegion,
) => MappedFile;

/** Set by MappedFile's static block: opens through an {@linkcode Opener}. */
let openMapped: (path: string, options: MapOptions | undefined, opener: Opener) => { file: MappedFile; stat: FileStat };

/**
 * A memory-mapped file. Reads and writes go straight to the page cache; views
 * from {@linkcode MappedFile.bytes} and {@linkcode MappedFile.subarray} share
 * memory with the file and are detached (length 0) when the mapping goes away,
 * so they can never reach unmapped memory.
 *
 * @example Read a file without copying it
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "hello mapped world");
 * using file = MappedFile.open(path);
 * console.log(new TextDecoder().decode(file.subarray(0, 5))); // "hello"
 * ```
 *
 * @example Write through the mapping; the file grows as needed
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 * const path = Deno.makeTempFileSync();
 * using file = MappedFile.open(path, { mode: "readwrite" });
 * file.write("zero-copy");     // writes past the end grow the file
 * file.writeAt("!", 19);
 * file.setUint32(12, 0xcafe, true);
 * file.sync();
 * console.log(file.size); // 20
 * ```
 */
export class MappedFile extends TypedAccess implements Disposable {
  readonly #libc: Libc;
  readonly #file: FileDescriptor | null;
  readonly #options: ResolvedMapOptions;
  readonly #region: MappedRegion;
  readonly #shared: boolean;
  /** File offset of byte 0 of this object's range. */
  readonly #fileOffset: number;
  #closed = false;
  #position = 0;
  readonly #durability: Durability;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** A writable view was handed out: its writes are invisible to us, so every sync must msync. */
  #writableViewsOut = false;
  #scratch = new DataView(new ArrayBuffer(8));
  static {
    adoptMapping = (libc, path, options, region) => {
      const handle = new MappedFile(libc, null, options, region, true);
      handle.#sharedPath = path;
      return handle;
    };
    openMapped = (path, options, opener) => MappedFile.#open(path, options, opener);
  }
  /** Set on a handle over a mapping the cache keeps: it has a path but no descriptor. */
  #sharedPath: string | null = null;
  /** How the file is mapped. */
  readonly mode: Mode;

  private constructor(
    libc: Libc,
    file: FileDescriptor | null,
    options: ResolvedMapOptions,
    region: MappedRegion,
    shared: boolean,
  ) {
    super();
    this.#libc = libc;
    this.#file = file;
    this.#options = options;
    this.#region = region;
    this.#shared = shared;
    this.#fileOffset = options.offset;
    this.mode = options.mode;
    this.#durability = new Durability(region, file);
    region.onSyncFailure = (error) => this.#durability.poison(error);
    if (options.sync === "periodic" && options.mode === "readwrite") {
      this.#timer = unrefInterval(() => this.#periodicSync(), options.syncInterval);
    }
  }

  /**
   * Maps the file at `path`.
   *
   * @throws {TypeError} For a bad argument or option (`null` included: only
   *   `undefined` means the default), or options that are not an object.
   * @throws {RangeError} When offset or length fall outside a read-only file.
   * @throws {MmapError} When the OS refuses (code ENOENT, EACCES, EISDIR, ENOMEM…).
   */
  static open(path: string | URL, options?: MapOptions): MappedFile {
    return MappedFile.#open(toPath(path), options).file;
  }

  static #open(filePath: string, options: MapOptions | undefined, opener?: Opener): { file: MappedFile; stat: FileStat } {
    const libc = activeLibc();
    const resolved = resolveMapOptions(options, libc.pageSize());
    const write = resolved.mode === "readwrite";
    const file = FileDescriptor.open(libc, filePath, {
      write,
      create: resolved.create,
      exclusive: resolved.exclusive,
      permissions: resolved.permissions,
    }, opener);
    const stat = file.openedStat;
    const originalSize = file.openedStat.size;
    let region: MappedRegion | undefined;
    try {
      const size = rangeSize(file, resolved, originalSize);
      region = new MappedRegion(libc, {
        fd: file.fd,
        fileOffset: resolved.offset,
        writable: resolved.mode !== "readonly",
        shared: resolved.mode !== "copyonwrite",
        populate: resolved.populate,
        hugePages: resolved.hugePages,
        window: resolved.window,
        syncBeforeSlide: write && resolved.sync !== "never",
        path: filePath,
      }, size);
      region.mapInitial();
      if (resolved.lock) region.lock();
      const mapped = new MappedFile(libc, file, resolved, region, resolved.mode !== "copyonwrite");
      if (file.openedStat.size !== originalSize) mapped.#durability.sizeChanged();
      return { file: mapped, stat };
    } catch (error) {
      region?.release();
      // Undo what open did: a grown file gets its old size back, a new one goes.
      if (!file.created) restoreSize(libc, file, originalSize);
      file.discard();
      throw error;
    }
  }

  /**
   * Maps `size` bytes of zeroed anonymous memory, private to this process or
   * `shared` with children that inherit it.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * using scratch = MappedFile.anonymous(1 << 20);
   * scratch.setFloat64(0, Math.PI);
   * console.log(scratch.getFloat64(0)); // 3.141592653589793
   * ```
   *
   * @throws {TypeError} For a size that is not a number, options that are not an
   *   object, or a `shared` that is not a boolean (`null` included).
   */
  static anonymous(size: number, options?: { shared?: boolean }): MappedFile {
    assertByteCount(size, "size");
    const { shared = false } = optionsObject(options);
    assertOptionalBoolean(shared, "shared");
    const libc = activeLibc();
    const resolved = resolveMapOptions({ mode: "readwrite", sync: "never" }, libc.pageSize());
    const region = new MappedRegion(libc, {
      fd: -1, fileOffset: 0, writable: true, shared, populate: false, hugePages: false,
      window: 0, syncBeforeSlide: false, path: null,
    }, size);
    region.mapInitial();
    return new MappedFile(libc, null, resolved, region, shared);
  }

  /**
   * Whether the kernel accepts `advice` on some kind of mapping. A mapping of
   * the wrong kind may still refuse it (for example `"free"` on a file).
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * console.log(MappedFile.supportsAdvice("sequential")); // true
   * ```
   */
  static supportsAdvice(advice: Advice): boolean {
    assertChoice(advice, ADVICE_NAMES, "advice");
    return probeAdvice(activeLibc(), advice);
  }

  /** The path of the file, or `null` for anonymous memory. */
  get path(): string | null {
    return this.#file?.path ?? this.#sharedPath;
  }

  /** Bytes of the file range this object covers. */
  get size(): number {
    return this.#region.size;
  }

  /** True after {@linkcode MappedFile.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Range offset where the current window starts (0 without a window). */
  get windowOffset(): number {
    this.#assertOpen();
    return this.#region.windowOffset;
  }

  /** Whether the mapping is locked in memory. */
  get locked(): boolean {
    return this.#region.locked;
  }

  /** Where {@linkcode MappedFile.read} and {@linkcode MappedFile.write} start. */
  get position(): number {
    return this.#position;
  }
  set position(value: number) {
    this.#assertOpen();
    assertByteCount(value, "position");
    this.#position = value;
  }

  /**
   * A zero-copy view of the whole range, or of the current window.
   *
   * @throws {RangeError} On Bun, for a range over 4 GiB: use subarray() or a window.
   */
  get bytes(): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    this.#handOutView();
    return this.#region.currentView();
  }

  /** A zero-copy view of `[start, end)`; slides the window to hold it. */
  subarray(start: number, end: number = this.size): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    assertByteCount(start, "start");
    assertByteCount(end, "end");
    if (start > end || end > this.size) {
      throw new RangeError(`Range [${start}, ${end}) is outside the ${this.size} bytes mapped`);
    }
    this.#handOutView();
    return this.#region.view(start, end);
  }

  /** Copies from {@linkcode position} into `target`; returns bytes read, 0 at end of file. */
  read(target: Uint8Array): number {
    const count = this.readAt(target, this.#position);
    this.#position += count;
    return count;
  }

  /** Writes at {@linkcode position} (at the end with `append`) and advances it; readwrite grows the file. */
  write(source: Uint8Array | string): number {
    if (this.#options.append && !this.#closed) this.#position = this.size;
    const count = this.writeAt(source, this.#position);
    this.#position += count;
    return count;
  }

  /** Moves {@linkcode position}; returns the new position. */
  seek(offset: number, whence: "start" | "current" | "end" = "start"): number {
    this.#assertOpen();
    assertSafeInteger(offset, "offset");
    assertChoice(whence, ["start", "current", "end"], "whence");
    const base = whence === "start" ? 0 : whence === "current" ? this.#position : this.size;
    const target = base + offset;
    if (target < 0) throw new RangeError(`Cannot seek to negative position ${target}`);
    this.#position = target;
    return target;
  }

  /** Copies bytes at `offset` into `target`; short only at the end of the range. */
  readAt(target: Uint8Array, offset: number): number {
    this.#assertOpen();
    assertUint8Array(target, "target");
    assertByteCount(offset, "offset");
    const count = Math.max(0, Math.min(target.length, this.size - offset));
    if (count === 0) return 0;
    this.#checkFileSize(offset + count);
    this.#region.copyOut(target, offset, count);
    return count;
  }

  /** Copies `source` (a string as UTF-8) to `offset`; readwrite grows the file to fit. */
  writeAt(source: Uint8Array | string, offset: number): number {
    this.#assertOpen();
    const bytes = toBytes(source);
    assertByteCount(offset, "offset");
    this.#assertWritable();
    const end = offset + bytes.length;
    // Like pwrite, an empty write changes nothing, even past the end.
    if (bytes.length === 0) return 0;
    if (end > this.size) this.#grow(end);
    else if (bytes.length > 0) this.#checkFileSize(end);
    this.#region.copyIn(bytes, offset);
    this.#afterWrite(offset, bytes.length);
    return bytes.length;
  }

  /** Where the `size` bytes at `offset` can be read; checks bounds and the file size first. */
  protected readSlot(offset: number, size: number): ValueSlot {
    this.#assertOpen();
    assertByteCount(offset, "offset");
    if (offset + size > this.size) throw new RangeError("Offset is outside the bounds of the mapping");
    this.#checkFileSize(offset + size);
    return this.#slot(offset, size, false);
  }

  /** Where the `size` bytes at `offset` can be written; checks mode, bounds and file size first. */
  protected writeSlot(offset: number, size: number): ValueSlot {
    this.#assertOpen();
    assertByteCount(offset, "offset");
    this.#assertWritable();
    if (offset + size > this.size) throw new RangeError("Offset is outside the bounds of the mapping");
    this.#checkFileSize(offset + size);
    return this.#slot(offset, size, true);
  }

  /** Finishes a typed write: copies a straddling value in and applies the sync mode. */
  protected wrote(offset: number, size: number, slot: ValueSlot): void {
    if (slot.view === this.#scratch) {
      // The value straddles two windows: it was built in scratch space.
      this.writeAt(new Uint8Array(this.#scratch.buffer, 0, size), offset);
      return;
    }
    this.#region.dirty = true;
    this.#afterWrite(offset, size);
  }

  #slot(offset: number, size: number, forWrite: boolean): ValueSlot {
    const { chunk, chunkStart } = this.#region.chunkAt(offset);
    const from = offset - chunkStart;
    if (from + size <= chunk.length) {
      return { view: dataViewOf(chunk), at: chunk.byteOffset + from };
    }
    if (!forWrite) this.readAt(new Uint8Array(this.#scratch.buffer, 0, size), offset);
    return { view: this.#scratch, at: 0 };
  }

  /**
   * Gives the kernel `advice` about `[offset, offset + length)` (default: all).
   *
   * @throws {TypeError} For an unknown advice, or an offset or length that is not a number (`null` included).
   */
  advise(advice: Advice, offset = 0, length?: number): void {
    this.#assertOpen();
    assertChoice(advice, ADVICE_NAMES, "advice");
    assertByteCount(offset, "offset");
    assertOptionalByteCount(length, "length");
    const span = length ?? Math.max(0, this.size - offset);
    const number = this.#libc.constants.advice[advice];
    if (number === undefined) {
      throw new MmapError(`EINVAL: madvise "${advice}" is not available on this platform`, {
        code: "EINVAL", errno: 22, syscall: "madvise", path: this.path,
      });
    }
    if (this.size > 0 && span > 0) this.#region.advise(offset, span, number);
  }

  /**
   * Flushes written bytes to disk with msync(MS_SYNC), then fsyncs the file
   * after a size change and its directory after creation. `{ async: true }`
   * only schedules the write-back (MS_ASYNC). When nothing was written since
   * the last flush and no writable view was handed out, it makes no call.
   *
   * @throws {MmapError} When the flush fails; the object stays poisoned and later syncs throw.
   * @throws {TypeError} For copy-on-write or private anonymous mappings, which have no file to sync;
   *   for options that are not an object, or an option of the wrong type (`null` included).
   */
  sync(options?: { offset?: number; length?: number; async?: boolean }): void {
    this.#assertOpen();
    const { offset = 0, length: given, async = false } = optionsObject(options);
    assertByteCount(offset, "offset");
    assertOptionalByteCount(given, "length");
    assertOptionalBoolean(async, "async");
    if (!this.#shared) {
      throw new TypeError("Cannot sync a copy-on-write or private mapping: it has no file to write to");
    }
    const length = given ?? Math.max(0, this.size - offset);
    // msync walks the range even when no page is dirty (about 60 µs on ext4
    // here), so a sync with nothing written since the last one is skipped.
    if (!this.#writableViewsOut && this.#durability.clean) return;
    this.#durability.flush(offset, length, async);
  }

  /** mlock the mapping (and every later window). */
  lock(): void {
    this.#assertOpen();
    this.#region.lock();
  }

  /** munlock the mapping. */
  unlock(): void {
    this.#assertOpen();
    this.#region.unlock();
  }

  /**
   * Sets the size of the range. Needs a readwrite file or anonymous memory.
   * The file grows when the range's new end is past the file's end, and is
   * cut only when the range reached the file's end: bytes of the file beyond
   * a range opened with `offset`/`length` are never touched. Every view
   * handed out is detached.
   */
  resize(newSize: number): void {
    this.#assertOpen();
    assertByteCount(newSize, "newSize");
    this.#assertResizable();
    const old = this.size;
    if (newSize === old) return;
    this.#region.dirty = this.#region.dirty && this.#shared;
    const file = this.#file;
    const fileSize = file ? file.stat().size : 0;
    const newEnd = this.#fileOffset + newSize;
    if (newSize > old) {
      const grows = file !== null && newEnd > fileSize;
      if (grows) file.setSize(newEnd);
      try {
        this.#region.resize(newSize);
      } catch (error) {
        if (grows) file.setSize(fileSize);
        throw error;
      }
      if (grows) this.#durability.sizeChanged();
    } else {
      const cuts = file !== null && this.#fileOffset + old >= fileSize;
      // Unmap before cutting the file so no page of the mapping is past its end.
      this.#region.resize(newSize);
      if (cuts) {
        try {
          file.setSize(newEnd);
        } catch (error) {
          // The file kept its size: map it all again so the object matches it.
          this.#region.resize(old);
          throw error;
        }
        this.#durability.sizeChanged();
      }
    }
    if (this.#options.sync === "immediate") this.#durability.flush(0, this.size, false);
  }

  /**
   * Reads the file's size again and maps accordingly (after an outside change).
   * A locked mapping stays locked.
   *
   * @throws {MmapError} When the old mapping could not be let go (reported once
   * the new one is mapped, so the object stays usable), or the new one cannot
   * be mapped or locked.
   */
  remap(): void {
    this.#assertOpen();
    if (!this.#file && this.#sharedPath) {
      throw new TypeError(
        `Cannot remap "${this.#sharedPath}": this handle shares a cached mapping and keeps no descriptor; open the file again`,
      );
    }
    if (!this.#file) return;
    const fileSize = this.#file.stat().size;
    const available = Math.max(0, fileSize - this.#fileOffset);
    const wanted = this.#options.length === undefined ? available : Math.min(this.#options.length, available);
    const locked = this.#region.locked;
    // The old mapping is gone either way; map the new size before reporting
    // how letting it go failed, so the object stays usable.
    const releaseError = this.#region.release();
    this.#region.resize(wanted);
    this.#region.mapInitial();
    if (locked) this.#region.lock();
    if (releaseError) throw releaseError;
  }

  /** How many pages are mapped now and how many of them sit in memory. */
  resident(): { pages: number; resident: number } {
    this.#assertOpen();
    return this.#region.resident();
  }

  /**
   * A stream of copies of the bytes from {@linkcode position} to the end.
   *
   * @throws {TypeError} For options that are not an object, or a chunkSize that is not a number (`null` included).
   * @throws {RangeError} For a chunkSize that is 0, negative, fractional or unsafe.
   */
  readable(options?: { chunkSize?: number }): ReadableStream<Uint8Array> {
    this.#assertOpen();
    const { chunkSize = 65536 } = optionsObject(options);
    assertByteCount(chunkSize, "chunkSize");
    if (chunkSize === 0) throw new RangeError("ChunkSize must be greater than 0");
    return readableFrom(this, chunkSize);
  }

  /** A stream whose chunks are written at {@linkcode position}. */
  writable(): WritableStream<Uint8Array> {
    this.#assertOpen();
    this.#assertWritable();
    return writableTo(this);
  }

  /**
   * Flushes (unless sync is "never"), unmaps and closes. Views handed out are
   * detached. A second call does nothing.
   *
   * @throws {MmapError} When the final flush or unmap failed; the object is closed anyway.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    let failure: unknown;
    if (this.#file && this.mode === "readwrite" && this.#options.sync !== "never") {
      try {
        // A poisoned object reports the loss again rather than closing quietly.
        if (this.#durability.pending || this.#durability.poisoned) this.#durability.flush(0, this.size, false);
      } catch (error) {
        failure = error;
      }
    }
    const unmapError = this.#region.release();
    const closeError = this.#file?.close();
    failure ??= unmapError ?? closeError;
    if (failure) throw failure;
  }

  /** Same as {@linkcode MappedFile.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #periodicSync(): void {
    if (this.#closed || !this.#region.dirty || this.#durability.poisoned) return;
    try {
      this.#durability.flush(0, this.size, false);
    } catch {
      // Poisoned: the next sync() or close() reports it.
    }
  }

  #afterWrite(offset: number, length: number): void {
    if (this.#options.sync === "immediate" && this.#shared && this.#file) {
      this.#durability.flush(offset, length, false);
    }
  }

  #grow(end: number): void {
    this.#assertResizable();
    this.resize(end);
  }

  #handOutView(): void {
    // Bytes written through a view are invisible to us: assume they will be.
    if (this.mode === "readonly") return;
    this.#region.dirty = true;
    this.#writableViewsOut = true;
  }

  #checkFileSize(end: number): void {
    if (!this.#options.checked || !this.#file) return;
    const fileSize = this.#file.stat().size;
    if (this.#fileOffset + end <= fileSize) return;
    throw new FileTruncatedError(
      `The file is now ${fileSize} bytes, shorter than the ${this.#fileOffset + end} this access needs; ` +
        "call remap() to continue with the new size",
      { code: "ETRUNCATED", errno: 0, syscall: "fstat", path: this.path },
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(this.path ? `MappedFile "${this.path}"` : "MappedFile");
  }

  #assertWritable(): void {
    if (this.mode === "readonly") {
      throw new TypeError(`Cannot write to "${this.path}": it is mapped read-only`);
    }
  }

  #assertResizable(): void {
    if (this.mode !== "readwrite") {
      throw new TypeError(`Cannot change the size of a ${this.mode} mapping; open it "readwrite"`);
    }
  }
}

/**
 * A read-only `MappedFile` over a mapping someone else keeps (the mapping
 * cache). The handle takes over one hold on `mapping`: its close() detaches
 * only its own views and releases only its own hold. It keeps no descriptor,
 * so `remap()` is refused; everything else works as usual.
 *
 * @example
 * ```ts ignore
 * const handle = mappedFileSharing(libc(), "/data/file.bin", cached.share());
 * ```
 */
export function mappedFileSharing(
  libc: Libc,
  path: string,
  mapping: Mapping,
  options: Pick<MapOptions, "populate" | "hugePages"> = {},
): MappedFile {
  const resolved = resolveMapOptions({ ...options, mode: "readonly" }, libc.pageSize());
  const region = new MappedRegion(libc, {
    // No descriptor: the region starts with the whole mapping and never maps again.
    fd: -1, fileOffset: 0, writable: false, shared: true, populate: resolved.populate,
    hugePages: resolved.hugePages, window: 0, syncBeforeSlide: false, path,
  }, mapping.length, mapping);
  return adoptMapping(libc, path, resolved, region);
}

/**
 * Opens and maps a file through `opener` (a MemMapFS resolving beneath its
 * directory), and returns what fstat said of the very descriptor mapped.
 * `path` names the file in errors and in {@linkcode MappedFile.path}.
 *
 * @example
 * ```ts ignore
 * const { file, stat } = openMappedFile("/srv/a.bin", { mode: "readwrite" }, opener);
 * ```
 */
export function openMappedFile(path: string, options: MapOptions | undefined, opener: Opener): { file: MappedFile; stat: FileStat } {
  return openMapped(path, options, opener);
}

/** Size of the range `resolved` asks for, after growing a readwrite file to `size`. */
function rangeSize(file: FileDescriptor, resolved: ResolvedMapOptions, fileSize: number): number {
  let size = fileSize;
  const write = resolved.mode === "readwrite";
  // Only `size` grows the file: an offset or length past its end is a mistake
  // to report, not a reason to extend someone's file.
  const wantedEnd = resolved.size ?? 0;
  if (write && wantedEnd > size) {
    file.setSize(wantedEnd, size);
    size = wantedEnd;
    // Remembered so open() knows the size changed and the next sync must fsync.
    file.openedStat = { ...file.openedStat, size };
  }
  if (resolved.offset > size) {
    throw new RangeError(`Offset ${resolved.offset} is past the end of the ${size}-byte file`);
  }
  const length = resolved.length ?? size - resolved.offset;
  if (resolved.offset + length > size) {
    throw new RangeError(
      `Offset ${resolved.offset} + length ${length} is past the end of the ${size}-byte file`,
    );
  }
  return length;
}

function restoreSize(libc: Libc, file: FileDescriptor, size: number): void {
  const now = libc.fstat(file.fd);
  if (now && now.size !== size) libc.ftruncate(file.fd, size);
}

const dataViews = new WeakMap<ArrayBufferLike, DataView>();

/** One DataView per chunk buffer, made once. */
function dataViewOf(chunk: Uint8Array): DataView {
  let view = dataViews.get(chunk.buffer);
  if (!view) {
    view = new DataView(chunk.buffer);
    dataViews.set(chunk.buffer, view);
  }
  return view;
}
