/**
 * `MappedFile`: a file (or anonymous memory) mapped into memory, with zero-copy
 * views, file-like reads and writes, DataView-style accessors and explicit
 * control of syncing, advice, locking and size.
 *
 * @module
 */

import { ClosedError, FileTruncatedError, MmapError } from "../errors.ts";
import type { AdviceName, Platform } from "../os/platform.ts";
import { platform as activePlatform } from "../os/mod.ts";
import { unrefInterval } from "../ffi/timers.ts";
import {
  assertByteCount, assertChoice, assertOptionalBoolean, assertOptionalByteCount, assertSafeInteger, assertUint8Array, optionsObject,
  toBytes, toPath,
} from "../validate.ts";
import { FileDescriptor, type Opener } from "./file_descriptor.ts";
import type { FileStat } from "../os/platform.ts";
import { type Advice, type MapOptions, type Mode, resolveMapOptions, type ResolvedMapOptions } from "./map_options.ts";
import { Durability } from "./durability.ts";
import { GrowableSharedMemory } from "./growable_shared_memory.ts";
import { MappedRegion } from "./mapped_region.ts";
import type { Mapping } from "../mapping.ts";
import { RegionWaits, type WaitResult } from "../shm/wait_notify.ts";
import { readableFrom, type StreamRange, writableTo } from "./streams.ts";
import { TypedAccess, type ValueSlot } from "./typed_access.ts";
import { assertSameFile, checkDescriptor, forbidCloning, type SharedMappedFile } from "../sharing.ts";

export type { Advice, MapOptions, Mode, SyncMode } from "./map_options.ts";
export type { SharedMappedFile } from "../sharing.ts";

const ADVICE_NAMES: readonly AdviceName[] = [
  "normal", "random", "sequential", "willneed", "dontneed", "free", "remove", "hugepage",
  "nohugepage", "populate-read", "populate-write", "cold", "pageout", "dontfork", "dofork",
  "mergeable", "unmergeable",
];

/**
 * Writes at least this long that start at or past the end of everything the
 * handle wrote before (a file written front to back, a stream, an append) go
 * to the file with pwrite rather than through the mapping; the page cache is
 * the same, so every view sees them at once. Through the mapping, each fresh
 * page costs a write fault, and its writeback write-protects it again: about
 * 2x the time of write(2) for a new file (bench/workloads/write_chunks.ts).
 * Rewriting bytes already written stays a memcpy into pages mapped by then,
 * which beats a system call. 64 KiB keeps the call's own cost (~1 µs) small
 * next to the copy.
 */
const WRITE_THROUGH_BYTES = 64 * 1024;

/** Set by MappedFile's static block: an independent read-only handle on the same range. */
let claimOf: (file: MappedFile) => MappedFile;

/** Set by MappedFile's static block: whether a closed file's range is still mapped by a claim. */
let claimedRange: (file: MappedFile) => boolean;

/** Set by MappedFile's static block: builds a handle over a shared mapping. */
let adoptMapping: (
  platform: Platform,
  path: string,
  options: ResolvedMapOptions,
  region: MappedRegion,
  identity: FileIdentity,
) => MappedFile;

/** Set by MappedFile's static block: the descriptor a MappedFile maps, if it keeps one. */
let descriptorOfFile: (file: MappedFile) => FileDescriptor | null;
/** Device and inode of a mapped file, which share() hands to workers. */
interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}
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
  readonly #platform: Platform;
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
  /** Space for a typed value that straddles two windows; made on first need. */
  #scratch: DataView | null = null;
  /** End of the furthest write so far (see {@linkcode WRITE_THROUGH_BYTES}). */
  #writtenEnd = 0;
  /** Made on the first wait or notify: most handles never wait, and a warm open makes one handle. */
  #waits: RegionWaits | null = null;
  static {
    adoptMapping = (platform, path, options, region, identity) => {
      const handle = new MappedFile(platform, null, options, region, true);
      handle.#sharedPath = path;
      handle.#identity = identity;
      return handle;
    };
    descriptorOfFile = (file) => file.#file;
    claimOf = (file) => file.#claim();
    claimedRange = (file) => file.#claims > 0;
    openMapped = (path, options, opener) => MappedFile.#open(path, options, opener);
  }
  /** Live claims ({@linkcode MappedFile.readable} streams) that keep this range mapped. */
  #claims = 0;
  /** Set on a handle over a mapping the cache keeps: it has a path but no descriptor. */
  #sharedPath: string | null = null;
  /** The memfd behind shared anonymous memory, grown before the mapping is; null where none. */
  #memory: GrowableSharedMemory | null = null;
  /** The file's identity, for a handle without a descriptor of its own. */
  #identity: FileIdentity | null = null;
  /** How the file is mapped. */
  readonly mode: Mode;

  private constructor(
    platform: Platform,
    file: FileDescriptor | null,
    options: ResolvedMapOptions,
    region: MappedRegion,
    shared: boolean,
  ) {
    super();
    this.#platform = platform;
    this.#file = file;
    this.#options = options;
    this.#region = region;
    this.#shared = shared;
    this.#fileOffset = options.offset;
    this.mode = options.mode;
    this.#durability = new Durability(region, file);
    forbidCloning(this, "MappedFile");
    region.onSyncFailure = (error) => this.#durability.poison(error);
    if (options.sync === "periodic" && options.mode === "readwrite") {
      this.#timer = unrefInterval(() => this.#periodicSync(), options.syncInterval);
    }
  }

  #regionWaits(): RegionWaits {
    if (this.#waits) return this.#waits;
    const handle = this;
    const wordAt = (byteOffset: number) => this.#region.ensure(byteOffset, byteOffset + 4);
    return this.#waits = new RegionWaits(this.#platform, {
      get description() {
        return handle.path ? `MappedFile "${handle.path}"` : "MappedFile";
      },
      get size() {
        return handle.#region.size;
      },
      get closed() {
        return handle.#closed;
      },
      assertWaitable: () => {
        if (!this.#shared) {
          throw new TypeError(
            "Wait and notify need a shared mapping: copy-on-write and private anonymous memory belong to this process alone",
          );
        }
        if (this.#region.windowed) {
          throw new TypeError("Wait and notify need the whole file mapped: this MappedFile maps through a window");
        }
      },
      addressOf: (byteOffset) => {
        const { mapping, start } = wordAt(byteOffset);
        return mapping.addressOf(byteOffset - start);
      },
      wordView: (byteOffset) => {
        const { mapping, start } = wordAt(byteOffset);
        const bytes = mapping.view(byteOffset - start, byteOffset - start + 4);
        return new Int32Array(bytes.buffer, bytes.byteOffset, 1);
      },
    });
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
    const platform = activePlatform();
    const resolved = resolveMapOptions(options, platform.pageSize);
    const write = resolved.mode === "readwrite";
    const file = FileDescriptor.open(platform, filePath, {
      write,
      create: resolved.create,
      exclusive: resolved.exclusive,
      permissions: resolved.permissions,
    }, opener);
    const stat = file.openedStat;
    const originalSize = file.openedStat.size;
    let region: MappedRegion | undefined;
    try {
      file.assertMappableSize();
      const size = rangeSize(file, resolved, originalSize);
      region = new MappedRegion(platform, {
        fd: file.fd,
        fileOffset: resolved.offset,
        writable: resolved.mode !== "readonly",
        shared: resolved.mode !== "copyonwrite",
        populate: resolved.populate,
        hugePages: resolved.hugePages,
        absorbWrites: resolved.mode === "readonly" && !resolved.strictReadonly,
        window: resolved.window,
        syncBeforeSlide: write && resolved.sync !== "never",
        path: filePath,
      }, size);
      region.mapInitial();
      if (resolved.lock) region.lock();
      const mapped = new MappedFile(platform, file, resolved, region, resolved.mode !== "copyonwrite");
      if (file.openedStat.size !== originalSize) mapped.#durability.sizeChanged();
      return { file: mapped, stat };
    } catch (error) {
      region?.release();
      // Undo what open did: a grown file gets its old size back, a new one goes.
      if (!file.created) restoreSize(platform, file, originalSize);
      file.discard();
      throw error;
    }
  }

  /**
   * Maps `size` bytes of zeroed anonymous memory, private to this process or
   * `shared` with children that inherit it. Shared memory is a `memfd` on
   * Linux (one descriptor, closed by close()), so `resize()` and writes past
   * the end can grow it; where there is no memfd (Darwin) it is fixed-size
   * `MAP_SHARED | MAP_ANONYMOUS` memory and growing it is `MmapError` ENOTSUP.
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
   * @throws {MmapError} When the memory cannot be made (ENOMEM, EMFILE…).
   */
  static anonymous(size: number, options?: { shared?: boolean }): MappedFile {
    assertByteCount(size, "size");
    const { shared = false } = optionsObject(options, "options", ["shared"]);
    assertOptionalBoolean(shared, "shared");
    const platform = activePlatform();
    const resolved = resolveMapOptions({ mode: "readwrite", sync: "never" }, platform.pageSize);
    const memory = shared ? GrowableSharedMemory.create(platform, size) : null;
    const region = new MappedRegion(platform, {
      fd: memory?.fd ?? -1, fileOffset: 0, writable: true, shared, populate: false, hugePages: false,
      absorbWrites: false, window: 0, syncBeforeSlide: false, path: null,
    }, size);
    try {
      region.mapInitial();
    } catch (error) {
      memory?.close();
      throw error;
    }
    const mapped = new MappedFile(platform, null, resolved, region, shared);
    mapped.#memory = memory;
    return mapped;
  }

  /**
   * Maps, in this thread, the file range a `share()` descriptor describes
   * (typically posted from another thread): its own descriptor and mapping,
   * with the same mode, offset, length, window and `checked`. Closing either
   * side never affects the other; writes of a `"readwrite"` pair meet in the
   * page cache. A `"copyonwrite"` file's private changes stay with their side.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * const path = Deno.makeTempFileSync();
   * Deno.writeTextFileSync(path, "one file, two threads");
   * using file = MappedFile.open(path);
   * const descriptor = file.share();       // postMessage(descriptor) to a worker; there:
   * using mine = MappedFile.fromShared(descriptor);
   * file.close();                          // the other side's mapping lives on
   * console.log(new TextDecoder().decode(mine.subarray(0, 8))); // "one file"
   * ```
   *
   * @throws {TypeError} For anything but a descriptor from `share()`.
   * @throws {MmapError} ESTALE when the path now names another file (replaced or removed:
   *   the worker opens the file by path), ETRUNCATED when it is shorter than the range; any
   *   error of {@linkcode MappedFile.open}.
   */
  static fromShared(descriptor: SharedMappedFile): MappedFile {
    const shared = checkDescriptor<SharedMappedFile>(descriptor, "memmapfs.MappedFile", {
      path: "string", dev: "string", ino: "string", offset: "number", length: "number", mode: "string",
      window: "number", checked: "boolean",
    });
    const { path, offset, length, mode, window, checked } = shared;
    const file = MappedFile.open(path, { mode, offset, length, window: window === 0 ? undefined : window, checked });
    try {
      assertSameFile(file.#file!.openedStat, shared, offset + length, path);
    } catch (error) {
      file.close();
      throw error;
    }
    return file;
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
    return activePlatform().supportsAdvice(advice);
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

  /**
   * Copies `source` (a string as UTF-8) to `offset`; readwrite grows the file to fit.
   * A `source` that is a view of this mapping is copied first, because the
   * growth or window slide this write may cause would detach it half-way.
   *
   * @throws {TypeError} For a source whose buffer is detached (it would write nothing).
   */
  writeAt(source: Uint8Array | string, offset: number): number {
    this.#assertOpen();
    let bytes = toBytes(source);
    assertByteCount(offset, "offset");
    this.#assertWritable();
    assertAttached(bytes);
    if (this.#region.holds(bytes.buffer)) bytes = bytes.slice();
    const end = offset + bytes.length;
    // Like pwrite, an empty write changes nothing, even past the end.
    if (bytes.length === 0) return 0;
    if (end > this.size) this.#grow(end);
    else if (bytes.length > 0) this.#checkFileSize(end);
    if (bytes.length >= WRITE_THROUGH_BYTES && offset >= this.#writtenEnd && this.#writesThrough()) {
      this.#writeToFile(bytes, offset);
    } else {
      this.#region.copyIn(bytes, offset);
    }
    if (end > this.#writtenEnd) this.#writtenEnd = end;
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
      this.writeAt(new Uint8Array(slot.view.buffer, 0, size), offset);
      return;
    }
    this.#region.dirty = true;
    this.#afterWrite(offset, size);
  }

  #slot(offset: number, size: number, forWrite: boolean): ValueSlot {
    // Mapped whole: one DataView over exactly the range, so the slot is the offset itself.
    const whole = this.#region.wholeData();
    if (whole !== null) return { view: whole, at: offset };
    const { chunk, chunkStart } = this.#region.chunkAt(offset);
    const from = offset - chunkStart;
    if (from + size <= chunk.length) {
      return { view: dataViewOf(chunk), at: chunk.byteOffset + from };
    }
    const scratch = this.#scratch ??= new DataView(new ArrayBuffer(8));
    if (!forWrite) this.readAt(new Uint8Array(scratch.buffer, 0, size), offset);
    return { view: scratch, at: 0 };
  }

  /**
   * Gives the kernel `advice` about `[offset, offset + length)` (default: all).
   *
   * @throws {TypeError} For an unknown advice, or an offset or length that is not a number (`null` included).
   * @throws {RangeError} For an offset past the end (a length past it is cut at the end).
   */
  advise(advice: Advice, offset = 0, length?: number): void {
    this.#assertOpen();
    assertChoice(advice, ADVICE_NAMES, "advice");
    assertByteCount(offset, "offset");
    assertOptionalByteCount(length, "length");
    this.#assertStartInRange(offset);
    const span = length ?? this.size - offset;
    if (!this.#platform.adviceKnown(advice)) {
      throw new MmapError(`EINVAL: madvise "${advice}" is not available on this platform`, {
        code: "EINVAL", errno: this.#platform.error("EINVAL", "madvise", null).errno, syscall: "madvise", path: this.path,
      });
    }
    if (this.size > 0 && span > 0) this.#region.advise(offset, span, advice);
  }

  /**
   * Flushes written bytes to disk with msync(MS_SYNC), then fsyncs the file
   * after a size change and its directory after creation. `{ async: true }`
   * only schedules the write-back (MS_ASYNC). When nothing was written since
   * the last flush and no writable view was handed out, it makes no call.
   *
   * @throws {MmapError} When the flush fails; the object stays poisoned and later syncs throw.
   * @throws {TypeError} For copy-on-write or private anonymous mappings, which have no file to sync;
   *   for options that are not an object, an unknown option, or an option of the wrong type (`null` included).
   * @throws {RangeError} For an offset past the end (a length past it is cut at the end).
   */
  sync(options?: { offset?: number; length?: number; async?: boolean }): void {
    this.#assertOpen();
    const { offset = 0, length: given, async = false } = optionsObject(options, "options", ["offset", "length", "async"]);
    assertByteCount(offset, "offset");
    assertOptionalByteCount(given, "length");
    assertOptionalBoolean(async, "async");
    this.#assertStartInRange(offset);
    if (!this.#shared) {
      throw new TypeError("Cannot sync a copy-on-write or private mapping: it has no file to write to");
    }
    const length = given ?? this.size - offset;
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
    if (newSize > old && this.#shared && !this.#file && !this.#memory) {
      // MAP_SHARED | MAP_ANONYMOUS memory cannot grow: its new pages would be SIGBUS.
      throw new MmapError(
        "ENOTSUP: shared anonymous memory cannot grow on this platform (no memfd_create); " +
          `allocate the ${newSize} bytes up front`,
        { code: "ENOTSUP", errno: 0, syscall: "memfd_create", path: null },
      );
    }
    this.#region.dirty = this.#region.dirty && this.#shared;
    // Shared anonymous memory grows and shrinks like a file: its memfd first.
    const file = this.#file ?? this.#memory;
    const fileSize = file ? file.stat().size : 0;
    const newEnd = this.#fileOffset + newSize;
    if (file && this.#platform.viewsPinFileSize && (newEnd > fileSize || this.#fileOffset + old >= fileSize)) {
      this.#resizeUnmapped(file, newSize, newEnd);
    } else if (newSize > old) {
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
   * Resizes where a mapped view pins the file's size (Windows): the views go
   * first, then the file takes its new size, then the range is mapped again.
   * When the file keeps its size the range is mapped again as it was.
   */
  #resizeUnmapped(file: FileDescriptor | GrowableSharedMemory, newSize: number, newEnd: number): void {
    const locked = this.#region.locked;
    const remapAs = (): void => {
      this.#region.mapInitial();
      if (locked) this.#region.lock();
    };
    const releaseError = this.#region.release();
    if (releaseError) {
      remapAs();
      throw releaseError;
    }
    try {
      file.setSize(newEnd);
    } catch (error) {
      remapAs();
      throw error;
    }
    this.#region.resize(newSize);
    remapAs();
    this.#durability.sizeChanged();
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
   * A stream of copies of the bytes `[start, end)`, by default from
   * {@linkcode position} to the end; it does not move `position`.
   *
   * The stream holds its own claim on the mapping: closing the file (or
   * leaving its `using` block) while the stream is still read does not end
   * it. The claim is let go when the stream ends, errors or is cancelled.
   * It shares this object's mapping when that cannot change under it, and
   * otherwise (a readwrite file, a window) maps the range read-only on its
   * own descriptor; resizing shared anonymous memory while one of its
   * streams is open throws.
   *
   * @example Return a streamed body from inside `using`
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * const path = Deno.makeTempFileSync();
   * Deno.writeTextFileSync(path, "hello, stream");
   * function respond(): Response {
   *   using file = MappedFile.open(path);
   *   return new Response(file.readable({ start: 7 }));
   * }
   * console.log(await respond().text()); // "stream"
   * ```
   *
   * @throws {TypeError} For options that are not an object, or an option that is not a number (`null` included).
   * @throws {RangeError} For a chunkSize of 0, a start after end, or an end past the size.
   */
  readable(options?: { start?: number; end?: number; chunkSize?: number }): ReadableStream<Uint8Array> {
    this.#assertOpen();
    const { chunkSize = 65536, start: givenStart, end: givenEnd } = optionsObject(options, "options", ["start", "end", "chunkSize"]);
    assertByteCount(chunkSize, "chunkSize");
    assertOptionalByteCount(givenStart, "start");
    assertOptionalByteCount(givenEnd, "end");
    if (chunkSize === 0) throw new RangeError("ChunkSize must be greater than 0");
    const end = givenEnd ?? this.size;
    const start = givenStart ?? Math.min(this.#position, end);
    if (end > this.size) throw new RangeError(`End ${end} is past the ${this.size} bytes mapped`);
    if (start > end) throw new RangeError(`Start ${start} is after end ${end}`);
    const range: StreamRange = { start, end, chunkSize };
    if (start === end) return readableFrom(null, range);
    return readableFrom(claimOf(this), range);
  }

  /**
   * An independent read-only handle on this object's range for a stream: it
   * shares the mapping when nothing can move it, else maps on its own hold of
   * the descriptor. Closing it lets go of exactly what it holds.
   */
  #claim(): MappedFile {
    const platform = this.#platform;
    const ownMapping = this.#region.windowed || (this.mode === "readwrite" && this.#file !== null);
    const file = this.#file?.retain() ?? null;
    const shared = ownMapping ? null : this.#region.shareWhole();
    if (!file && !shared) throw new ClosedError(this.path ? `MappedFile "${this.path}"` : "MappedFile");
    let region: MappedRegion | undefined;
    try {
      const options = resolveMapOptions(
        { mode: "readonly", offset: this.#fileOffset, checked: this.#options.checked },
        platform.pageSize,
      );
      region = new MappedRegion(platform, {
        fd: file?.fd ?? -1, fileOffset: this.#fileOffset, writable: false, shared: true, populate: false,
        hugePages: false, absorbWrites: false, window: ownMapping ? this.#options.window : 0, syncBeforeSlide: false, path: this.path,
      }, this.size, shared ?? undefined);
      if (!shared) region.mapInitial();
      const claim = new MappedFile(platform, file, { ...options, window: this.#options.window }, region, true);
      claim.#sharedPath = this.path;
      claim.#owner = this;
      this.#claims++;
      return claim;
    } catch (error) {
      region?.release();
      shared?.release();
      file?.close();
      throw error;
    }
  }

  /** The file a claim was made from: kept reachable, and told when the claim closes. */
  #owner: MappedFile | null = null;

  /**
   * A plain, cloneable description of this file range for a worker thread,
   * which maps it with {@linkcode MappedFile.fromShared}. Posting the
   * `MappedFile` itself throws a TypeError that points here.
   *
   * Anonymous memory has no file to describe: for memory shared with
   * workers use {@linkcode SharedMemory} (unlink it at once for memory no
   * other process can open; `share()` still reaches it).
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * const path = Deno.makeTempFileSync();
   * Deno.writeTextFileSync(path, "0123456789");
   * using file = MappedFile.open(path, { offset: 2, length: 5 });
   * const { offset, length, mode } = file.share();
   * console.log(offset, length, mode); // 2 5 "readonly"
   * ```
   *
   * @throws {TypeError} For anonymous memory.
   */
  share(): SharedMappedFile {
    this.#assertOpen();
    const identity = this.#file?.openedStat ?? this.#identity;
    const path = this.path;
    if (path === null || identity === null) {
      throw new TypeError(
        "Cannot share anonymous memory with a worker: it has no file the worker could map; " +
          "use SharedMemory.create() (unlinked at once if no other process may open it)",
      );
    }
    return {
      kind: "memmapfs.MappedFile", path, dev: String(identity.dev), ino: String(identity.ino),
      offset: this.#fileOffset, length: this.size, mode: this.mode, window: this.#options.window,
      checked: this.#options.checked,
    };
  }

  /** A stream whose chunks are written at {@linkcode position}. */
  writable(): WritableStream<Uint8Array> {
    this.#assertOpen();
    this.#assertWritable();
    return writableTo(this, (chunk) => this.#region.holds(chunk.buffer));
  }

  /**
   * Blocks the calling thread while the 32-bit word at `byteOffset` holds
   * `expected`, until a thread or process notifies it or `timeoutMs` passes
   * (see `SharedMemory.wait`). Needs a shared mapping (a readwrite or readonly
   * file, or `anonymous(size, { shared: true })`) mapped whole, not windowed.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * using memory = MappedFile.anonymous(4096, { shared: true });
   * console.log(memory.wait(0, 0, 5)); // "timed-out"
   * ```
   *
   * @throws {TypeError} On a copy-on-write, private or windowed mapping.
   * @throws {RangeError} For an offset not a multiple of 4 inside the file, or a bad value or timeout.
   * @throws {ClosedError} After close.
   */
  wait(byteOffset: number, expected: number, timeoutMs?: number): WaitResult {
    return this.#regionWaits().wait(byteOffset, expected, timeoutMs);
  }

  /**
   * {@linkcode MappedFile.wait} without blocking the event loop (see
   * `SharedMemory.waitAsync`); a pending wait keeps the process alive until it settles.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * using memory = MappedFile.anonymous(4096, { shared: true });
   * const woken = memory.waitAsync(8, 0);
   * memory.setInt32(8, 1, true);
   * console.log(memory.notify(8) >= 0, await woken); // true "ok"
   * ```
   *
   * @throws {TypeError} At once (not through the promise, as `Atomics.waitAsync`), as {@linkcode MappedFile.wait} does.
   */
  waitAsync(byteOffset: number, expected: number, timeoutMs?: number): Promise<WaitResult> {
    return this.#regionWaits().waitAsync(byteOffset, expected, timeoutMs);
  }

  /**
   * Wakes up to `count` waiters (all by default) on the word at `byteOffset`,
   * in this and other processes; returns how many the kernel woke.
   *
   * @example
   * ```ts
   * import { MappedFile } from "@memmapfs/memmapfs";
   * using memory = MappedFile.anonymous(4096, { shared: true });
   * console.log(memory.notify(0, 1)); // 0
   * ```
   *
   * @throws {TypeError} On a copy-on-write, private or windowed mapping.
   * @throws {RangeError} For an offset not a multiple of 4 inside the file, or a bad count.
   */
  notify(byteOffset: number, count: number = Infinity): number {
    return this.#regionWaits().notify(byteOffset, count);
  }

  /**
   * Flushes (unless sync is "never"), unmaps and closes. Views handed out are
   * detached. A second call does nothing.
   *
   * @throws {MmapError} When the final flush or unmap failed; the object is closed anyway.
   */
  close(): void {
    if (this.#closed) return;
    this.#waits?.closeAll();
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
    const closeError = this.#file?.close() ?? this.#memory?.close();
    if (this.#owner) this.#owner.#claims--;
    failure ??= unmapError ?? closeError;
    if (failure) throw failure;
  }

  /** Same as {@linkcode MappedFile.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Whether a write may go to the file with pwrite: a file mapped shared and
   * writable (never copy-on-write, whose changes must not reach the file),
   * not synced after every write ("immediate" msyncs just the range written).
   */
  #writesThrough(): boolean {
    return this.#file !== null && this.mode === "readwrite" && this.#options.sync !== "immediate" &&
      this.#platform.writeAt !== undefined;
  }

  /**
   * Writes all of `bytes` to the file at range offset `offset`, past the
   * mapping; the next flush fsyncs them.
   *
   * @throws {MmapError} When the write fails (EIO, ENOSPC…); bytes before the failure may have been written.
   */
  #writeToFile(bytes: Uint8Array, offset: number): void {
    // Marked first: a write that fails half-way still leaves bytes to flush.
    this.#durability.wroteToFile();
    this.#platform.writeAt!(this.#file!.fd, bytes, this.#fileOffset + offset, this.path);
  }

  #periodicSync(): void {
    if (this.#closed || this.#durability.poisoned) return;
    if (!this.#region.dirty && !this.#durability.fileWritten) return;
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

  /** A range may start at the end (and be empty) but not past it, as with subarray(). */
  #assertStartInRange(offset: number): void {
    if (offset > this.size) {
      throw new RangeError(`Offset ${offset} is past the end of the ${this.size} bytes mapped`);
    }
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
 * const handle = mappedFileSharing(platform(), "/data/file.bin", cached.share(), cached.identity);
 * ```
 */
export function mappedFileSharing(
  platform: Platform,
  path: string,
  mapping: Mapping,
  identity: FileIdentity,
  options: Pick<MapOptions, "populate" | "hugePages"> = {},
): MappedFile {
  const resolved = resolveMapOptions({ ...options, mode: "readonly" }, platform.pageSize);
  const region = new MappedRegion(platform, {
    // No descriptor: the region starts with the whole mapping and never maps again.
    fd: -1, fileOffset: 0, writable: false, shared: true, populate: resolved.populate,
    hugePages: resolved.hugePages, absorbWrites: true, window: 0, syncBeforeSlide: false, path,
  }, mapping.length, mapping);
  return adoptMapping(platform, path, resolved, region, identity);
}

/**
 * Whether `file` still maps its range: it is open, or a stream made from it
 * holds a claim. A file system must not cut the file under either.
 *
 * @example
 * ```ts ignore
 * if (mapsItsRange(handle) && offset + handle.size > newSize) refuse();
 * ```
 */
export function mapsItsRange(file: MappedFile): boolean {
  return !file.closed || claimedRange(file);
}

/**
 * The open descriptor behind `file` (null for anonymous memory or a cached
 * mapping), for a caller that must act on the very file mapped — BlockFile
 * locks it — rather than on its path again.
 *
 * @example
 * ```ts ignore
 * const fd = descriptorOf(file)?.fd;
 * ```
 */
export function descriptorOf(file: MappedFile): FileDescriptor | null {
  return descriptorOfFile(file);
}

/** @throws {TypeError} When `bytes` has lost its memory: its length now reads 0. */
function assertAttached(bytes: Uint8Array): void {
  if ((bytes.buffer as ArrayBuffer).detached === true) {
    throw new TypeError("Source is a view of a detached buffer (its mapping was resized, slid or closed): it holds no bytes to write");
  }
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

function restoreSize(platform: Platform, file: FileDescriptor, size: number): void {
  try {
    if (platform.stat(file.fd, file.path).size !== size) platform.truncateFile(file.fd, size, file.path);
  } catch { /* best effort, while the caller is already throwing */ }
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
