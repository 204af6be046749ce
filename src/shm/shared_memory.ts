/**
 * `SharedMemory`: bytes shared between processes, backed by a POSIX
 * shared-memory object (`shm_open`, by name) or by a file (by path). Names
 * match Python's `multiprocessing.shared_memory`, so regions cross languages.
 *
 * @module
 */

import { ClosedError, MmapError } from "../errors.ts";
import type { Platform } from "../os/platform.ts";
import { platform as activePlatform } from "../os/mod.ts";
import { FileDescriptor } from "../fs/file_descriptor.ts";
import type { Mapping } from "../mapping.ts";
import { assertByteCount, assertOptionalBoolean, assertPermissions, optionsObject, toPath } from "../validate.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { assertTrusted, mapRegion, openShmObject } from "./region_backing.ts";
import { assertShmNameFits, isFilePath, parseShmName, randomShmName, type ShmName } from "./shm_name.ts";
import { assertSameFile, checkDescriptor, forbidCloning, reopenInProcess, type SharedRegion } from "../sharing.ts";

export type { SharedRegion } from "../sharing.ts";
import { RegionWaits, type WaitResult } from "./wait_notify.ts";

/**
 * Options of {@linkcode SharedMemory.create}.
 *
 * @example
 * ```ts
 * import { SharedMemory, type SharedMemoryCreateOptions } from "@memmapfs/memmapfs";
 * const options: SharedMemoryCreateOptions = { size: 4096, permissions: 0o600 };
 * using region = SharedMemory.create(options);
 * region.unlink();
 * ```
 */
export interface SharedMemoryCreateOptions {
  /**
   * Shared-memory object name, `"psm_1234"` or `"/psm_1234"` (the same object).
   * When neither `name` nor `path` is given a random, unguessable one is picked.
   */
  name?: string;
  /** A file to back the region instead of a shared-memory object. */
  path?: string | URL;
  /** Bytes in the region; at least 1. An existing larger object keeps its size. */
  size: number;
  /** Mode of a new object or file (the umask applies); default 0o600. */
  permissions?: number;
  /**
   * Fail with EEXIST when the object or file exists (default true). With
   * `false` an existing one is opened, grown when smaller, never truncated.
   */
  exclusive?: boolean;
  /** With `exclusive: false`: accept an existing object of another user or writable by others. */
  trustAnyOwner?: boolean;
}

/**
 * Options of {@linkcode SharedMemory.open}.
 *
 * @example
 * ```ts
 * import { SharedMemory, type SharedMemoryOpenOptions } from "@memmapfs/memmapfs";
 * using writer = SharedMemory.create({ size: 4096 });
 * const options: SharedMemoryOpenOptions = { readonly: true };
 * using reader = SharedMemory.open(writer.name!, options);
 * writer.unlink();
 * ```
 */
export interface SharedMemoryOpenOptions {
  /**
   * Open for reading only (default false). The object is opened `O_RDONLY`
   * and mapped copy-on-write: a write through `bytes` never reaches it (and
   * does not crash the process), and `sync()` throws.
   */
  readonly?: boolean;
  /** Open an object owned by another user or writable by group or others (default false). */
  trustAnyOwner?: boolean;
}

/**
 * The address of byte `byteOffset` of an open region, for memmapfs's own
 * hot paths (SharedRing's futex words) that validated the offset once. Not
 * exported from mod.ts.
 */
export let regionAddress: (region: SharedMemory, byteOffset: number) => bigint;

/** A random name collides with odds of 2^-64; retrying a few times costs nothing. */
const RANDOM_NAME_ATTEMPTS = 4;

/**
 * A region of memory shared between processes.
 *
 * A name is a POSIX shared-memory object, living in `/dev/shm` on Linux until
 * {@linkcode SharedMemory.unlink}: `close()` leaves it for others, like
 * Python's `SharedMemory.close()`. A path is a file, created with `O_EXCL`
 * and grown with `posix_fallocate`, so a full disk fails at create time
 * instead of as SIGBUS later.
 *
 * @example Share bytes with another process (or Python) by name
 * ```ts
 * import { SharedMemory } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 4096 });
 * new TextEncoder().encodeInto("hello", region.bytes);
 * console.log(region.name); // "psm_…": SharedMemory.open(name) elsewhere, or Python's SharedMemory(name)
 * region.unlink();          // the name goes; mappings keep working until closed
 * ```
 */
export class SharedMemory implements Disposable {
  readonly #platform: Platform;
  readonly #file: FileDescriptor;
  readonly #mapping: Mapping | null;
  readonly #shmName: ShmName | null;
  readonly #waits: RegionWaits;
  #closed = false;
  #syncFailure: MmapError | undefined;
  /** The file's size changed since the last fsync. */
  #fileDirty: boolean;
  /** The file was created and its directory not fsynced since. */
  #directoryDirty: boolean;
  /** The object's name without the leading slash, as Python reports it; `null` for a file. */
  readonly name: string | null;
  /** The backing file, or `null` for a shared-memory object. */
  readonly path: string | null;
  /** Bytes in the region. */
  readonly size: number;
  /** Whether the region was opened read-only. */
  readonly readonly: boolean;
  static {
    regionAddress = (region, byteOffset) => {
      region.#assertOpen();
      return region.#mapping!.addressOf(byteOffset);
    };
  }

  private constructor(
    platform: Platform,
    file: FileDescriptor,
    shmName: ShmName | null,
    size: number,
    readonly: boolean,
    grown: boolean,
  ) {
    this.#platform = platform;
    this.#file = file;
    this.#shmName = shmName;
    this.name = shmName?.name ?? null;
    this.path = shmName ? null : file.path;
    this.size = size;
    this.readonly = readonly;
    // A shared-memory object has no disk to be durable on.
    this.#fileDirty = !shmName && (file.created || grown);
    this.#directoryDirty = !shmName && file.created;
    this.#mapping = mapRegion(platform, file, size, readonly);
    forbidCloning(this, "SharedMemory");
    const region = this;
    this.#waits = new RegionWaits(platform, {
      description: `SharedMemory "${this.name ?? this.path}"`,
      size,
      get closed() {
        return region.#closed;
      },
      addressOf: (byteOffset) => this.#mapping!.addressOf(byteOffset),
      wordView: (byteOffset) => {
        const bytes = this.#mapping!.view(byteOffset, byteOffset + 4);
        return new Int32Array(bytes.buffer, bytes.byteOffset, 1);
      },
    });
  }

  /**
   * Creates a region of `size` bytes: a shared-memory object by `name` (a
   * random one when neither `name` nor `path` is given) or a file at `path`.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using named = SharedMemory.create({ name: "psm_example", size: 1024 });
   * using file = SharedMemory.create({ path: "./region.bin", size: 1024 });
   * named.unlink();
   * file.unlink();
   * ```
   *
   * @throws {TypeError} For a bad name, path or option, before any syscall.
   * @throws {RangeError} For a size below 1 or unsafe, or permissions above 0o7777.
   * @throws {MmapError} EEXIST when it exists and `exclusive` (the default); EACCES for an
   * untrusted existing one; others from the OS. Nothing created is left behind.
   */
  static create(options: SharedMemoryCreateOptions): SharedMemory {
    if (options === undefined) throw new TypeError("Options must be an object, got undefined: size is required");
    const { size, permissions = 0o600, exclusive = true } = optionsObject(options, "options", [
      "name", "path", "size", "permissions", "exclusive", "trustAnyOwner",
    ]);
    assertByteCount(size, "size");
    if (size === 0) throw new RangeError("Size must be at least 1 byte: mmap cannot map an empty region");
    assertPermissions(permissions);
    assertOptionalBoolean(options.exclusive, "exclusive");
    assertOptionalBoolean(options.trustAnyOwner, "trustAnyOwner");
    if (options.name !== undefined && options.path !== undefined) {
      throw new TypeError("Give a name or a path, not both");
    }
    const trust = options.trustAnyOwner ?? false;
    if (options.path !== undefined) {
      const path = toPath(options.path);
      const platform = activePlatform();
      const file = FileDescriptor.open(platform, path, { write: true, create: true, exclusive, permissions });
      return SharedMemory.#sized(platform, file, null, size, trust);
    }
    const given = options.name === undefined ? undefined : parseShmName(options.name);
    const platform = activePlatform();
    if (given) assertShmNameFits(given, platform);
    for (let attempt = 1;; attempt++) {
      const shmName = given ?? randomShmName(platform.randomNamePrefix);
      try {
        const file = openShmObject(platform, shmName, { create: true, exclusive, readonly: false, permissions, size });
        return SharedMemory.#sized(platform, file, shmName, size, trust);
      } catch (error) {
        const collided = error instanceof MmapError && error.code === "EEXIST";
        if (given || !collided || attempt === RANDOM_NAME_ATTEMPTS) throw error;
      }
    }
  }

  /** Grows a new (or smaller existing) object to `size` and maps it; undoes creation on failure. */
  static #sized(platform: Platform, file: FileDescriptor, shmName: ShmName | null, size: number, trust: boolean): SharedMemory {
    try {
      if (!file.created && !trust) assertTrusted(platform, file);
      const existing = file.openedStat.size;
      // Never truncate: other processes may map the object, and pages past a
      // new end of file would be SIGBUS for them. Grow only.
      const grow = size > existing;
      if (grow && shmName && !file.created && platform.sharedMemorySizeFixedOnce) {
        throw new MmapError(
          `EINVAL: cannot grow shared-memory object "${shmName.name}" from ${existing} to ${size} bytes: ` +
            `on ${platform.displayName} an object's size is set once, by its creator; ` +
            `create it with the larger size, or use a file path`,
          { code: "EINVAL", errno: platform.error("EINVAL", "ftruncate", null).errno, syscall: "ftruncate", path: shmName.name },
        );
      }
      if (grow) file.setSize(size, existing);
      return new SharedMemory(platform, file, shmName, Math.max(size, existing), false, grow);
    } catch (error) {
      file.discard();
      throw error;
    }
  }

  /**
   * Opens an existing region, sized by fstat of the object.
   *
   * A string with a `/` after its first character is a file path
   * (`"./region.bin"`, `"/tmp/region.bin"`); anything else is a shared-memory
   * name, with or without its leading slash (`"psm_1234"`, `"/psm_1234"`). A
   * file in the working directory is `"./region.bin"`. A `URL` is a file.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * region.bytes[0] = 42;
   * using reader = SharedMemory.open(region.name!, { readonly: true });
   * console.log(reader.bytes[0]); // 42
   * region.unlink();
   * ```
   *
   * @throws {TypeError} For a bad name or option, before any syscall.
   * @throws {MmapError} ENOENT when it does not exist; EACCES when another user owns it or
   * group or others may write it, unless `trustAnyOwner`; ENODEV for a file that fstat calls
   * empty but that reads bytes (a /proc file).
   */
  static open(nameOrPath: string | URL, options?: SharedMemoryOpenOptions): SharedMemory {
    options = optionsObject(options, "options", ["readonly", "trustAnyOwner"]);
    assertOptionalBoolean(options.readonly, "readonly");
    assertOptionalBoolean(options.trustAnyOwner, "trustAnyOwner");
    if (typeof nameOrPath !== "string" && !(nameOrPath instanceof URL)) {
      throw new TypeError(`NameOrPath must be a string or a URL, got ${nameOrPath === null ? "null" : typeof nameOrPath}`);
    }
    const byPath = nameOrPath instanceof URL || (typeof nameOrPath === "string" && isFilePath(nameOrPath));
    const shmName = byPath ? null : parseShmName(nameOrPath);
    const path = byPath ? toPath(nameOrPath) : null;
    const readonly = options.readonly ?? false;
    const platform = activePlatform();
    if (shmName) assertShmNameFits(shmName, platform);
    const file = shmName
      ? openShmObject(platform, shmName, { create: false, exclusive: false, readonly, permissions: 0 })
      : FileDescriptor.open(platform, path!, { write: !readonly });
    try {
      if (!options.trustAnyOwner) assertTrusted(platform, file);
      // A /proc file says it is empty and is not: refuse rather than map nothing.
      file.assertMappableSize();
      return new SharedMemory(platform, file, shmName, file.openedStat.size, readonly, false);
    } catch (error) {
      file.discard(); // not created by this call: closes, removes nothing
      throw error;
    }
  }

  /**
   * Maps, in this thread, the region a `share()` descriptor describes
   * (typically posted from another thread), with its own descriptor and
   * mapping: closing either side never affects the other, and both see each
   * other's writes at once. Within the sharing process the object is reached
   * through the sharer's descriptor, so a region unlinked right after
   * creation (anonymous shared memory) still works while the sharer keeps it
   * open; elsewhere, or once the sharer closed it, by name or path.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 4096 });
   * region.unlink();                              // no other process can open it now
   * using worker = SharedMemory.fromShared(region.share()); // what a worker would call
   * worker.bytes[1] = 42;
   * console.log(region.bytes[1]); // 42
   * ```
   *
   * @throws {TypeError} For anything but a descriptor from `share()`.
   * @throws {MmapError} ESTALE when the name or path now names another object,
   *   ETRUNCATED when it is shorter than the region; ENOENT when it is gone.
   */
  static fromShared(descriptor: SharedRegion): SharedMemory {
    const shared = checkDescriptor<SharedRegion>(descriptor, "memmapfs.SharedMemory", {
      name: "string|null", path: "string|null", size: "number", readonly: "boolean", dev: "string",
      ino: "string", pid: "number", fd: "number",
    });
    const shmName = shared.name === null ? null : parseShmName(shared.name);
    const path = shared.path === null ? null : toPath(shared.path, "descriptor.path");
    if ((shmName === null) === (path === null)) {
      throw new TypeError("Descriptor must have a name or a path, not both or neither");
    }
    if (shared.size === 0) throw new RangeError("Descriptor.size must be at least 1");
    const platform = activePlatform();
    // FFI bypasses Deno's permission model: a file-backed region is checked
    // by its path even when it is reached through the descriptor.
    if (path !== null) {
      platform.checkPathAccess(path, "read");
      if (!shared.readonly) platform.checkPathAccess(path, "write");
    }
    const file = reopenInProcess(platform, shared) ?? (shmName
      ? openShmObject(platform, shmName, { create: false, exclusive: false, readonly: shared.readonly, permissions: 0 })
      : FileDescriptor.open(platform, path!, { write: !shared.readonly }));
    try {
      assertSameFile(file.openedStat, shared, shared.size, shared.name ?? path!);
      return new SharedMemory(platform, file, shmName, shared.size, shared.readonly, false);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * A plain, cloneable description of this region for a worker thread,
   * which maps it with {@linkcode SharedMemory.fromShared}. Posting the
   * `SharedMemory` itself throws a TypeError that points here.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const descriptor = region.share();
   * console.log(descriptor.size, descriptor.name === region.name); // 64 true
   * region.unlink();
   * ```
   *
   * @throws {ClosedError} After close.
   */
  share(): SharedRegion {
    this.#assertOpen();
    const { dev, ino } = this.#file.openedStat;
    return {
      kind: "memmapfs.SharedMemory", name: this.name, path: this.path, size: this.size,
      readonly: this.readonly, dev: String(dev), ino: String(ino), pid: nodeBuiltins().process.pid,
      fd: this.#file.fd,
    };
  }

  /** True after {@linkcode SharedMemory.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A zero-copy view of the whole region; detached when the region closes.
   * `new Int32Array(bytes.buffer, bytes.byteOffset, n)` gives counters that
   * `Atomics` update correctly across processes.
   *
   * @throws {ClosedError} After close.
   * @throws {RangeError} On Bun, for a region over 4 GiB: use {@linkcode SharedMemory.subarray}.
   */
  get bytes(): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    return this.#mapping ? this.#mapping.view(0, this.size) : new Uint8Array(0);
  }

  /**
   * A zero-copy view of `[start, end)`, for regions too large for one buffer.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 8192 });
   * region.subarray(4096, 4100).set([1, 2, 3, 4]);
   * console.log(region.bytes[4097]); // 2
   * region.unlink();
   * ```
   *
   * @throws {RangeError} When the range is outside the region.
   */
  subarray(start: number, end: number = this.size): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    assertByteCount(start, "start");
    assertByteCount(end, "end");
    if (start > end || end > this.size) {
      throw new RangeError(`Range [${start}, ${end}) is outside the ${this.size} bytes of the region`);
    }
    return this.#mapping && end > start ? this.#mapping.view(start, end) : new Uint8Array(0);
  }

  /**
   * Flushes the region with msync(MS_SYNC); a file-backed one is also fsynced
   * after its size changed, and its directory after it was created. A failure
   * poisons the region: later syncs throw rather than report success. Other
   * processes see writes without it; it is about surviving a crash.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ path: "./state.bin", size: 4096 });
   * region.bytes[0] = 1;
   * region.sync(); // on disk now
   * region.unlink();
   * ```
   *
   * @throws {TypeError} When opened read-only: its writes never reach the object.
   * @throws {MmapError} When msync or fsync fails, now or earlier.
   */
  sync(): void {
    this.#assertOpen();
    if (this.readonly) {
      throw new TypeError("Cannot sync a region opened read-only: its writes stay in this process");
    }
    const earlier = this.#syncFailure;
    if (earlier) {
      throw new MmapError(`An earlier sync failed (${earlier.message}); written data may be lost`, {
        code: earlier.code, errno: earlier.errno, syscall: earlier.syscall, path: earlier.path,
      });
    }
    try {
      this.#mapping?.sync(0, this.size, false);
      // A named object lives in memory only; a file on Darwin needs F_FULLFSYNC after every msync.
      if (this.#fileDirty || (!this.name && this.#file.needsFsyncAfterMsync)) this.#file.fsync();
      this.#fileDirty = false;
      if (this.#directoryDirty) this.#file.syncDirectory();
      this.#directoryDirty = false;
    } catch (error) {
      this.#syncFailure = error as MmapError;
      throw error;
    }
  }

  /**
   * Blocks the calling thread while the 32-bit word at `byteOffset` holds
   * `expected`, until another thread or process calls
   * {@linkcode SharedMemory.notify} on it or `timeoutMs` passes — the
   * `Atomics.wait` of memory shared between processes (Linux futex, shared).
   * `"ok"` may also mean the word changed while the thread slept: re-check it.
   * Works on a read-only region until a stray write makes its page a private copy.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * console.log(region.wait(0, 0, 10)); // "timed-out": nobody notified
   * console.log(region.wait(0, 7));     // "not-equal": the word holds 0
   * region.unlink();
   * ```
   *
   * @throws {RangeError} When `byteOffset` is not a multiple of 4 inside the region,
   * `expected` is not a 32-bit integer or `timeoutMs` is negative.
   * @throws {ClosedError} After close.
   * @throws {UnsupportedRuntimeError} On a platform without a back-end (not Linux).
   */
  wait(byteOffset: number, expected: number, timeoutMs?: number): WaitResult {
    return this.#waits.wait(byteOffset, expected, timeoutMs);
  }

  /**
   * {@linkcode SharedMemory.wait} without blocking the event loop: the wait
   * runs on another thread (Deno's blocking pool; a waiter worker thread on
   * Node and Bun). Unlike `Atomics.waitAsync` on V8, a pending wait keeps the
   * process alive until it settles (as a pending socket read does: a process
   * waiting for another must not exit); `close()` rejects it with `ClosedError`.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const woken = region.waitAsync(0, 0, 5_000);
   * setTimeout(() => {
   *   Atomics.store(new Int32Array(region.bytes.buffer, 0, 1), 0, 1);
   *   region.notify(0);
   * }, 10);
   * console.log(await woken); // "ok"
   * region.unlink();
   * ```
   *
   * @throws {RangeError} At once (not through the promise, as `Atomics.waitAsync`), as {@linkcode SharedMemory.wait} does.
   * @throws {ClosedError} At once after close; a pending wait's promise rejects with it at close.
   */
  waitAsync(byteOffset: number, expected: number, timeoutMs?: number): Promise<WaitResult> {
    return this.#waits.waitAsync(byteOffset, expected, timeoutMs);
  }

  /**
   * Wakes up to `count` threads (all by default), in any process, waiting on
   * the word at `byteOffset`, and returns how many the kernel woke.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * console.log(region.notify(0)); // 0: nobody waits
   * region.unlink();
   * ```
   *
   * @throws {RangeError} When `byteOffset` is not a multiple of 4 inside the region.
   * @throws {ClosedError} After close.
   */
  notify(byteOffset: number, count: number = Infinity): number {
    return this.#waits.notify(byteOffset, count);
  }

  /**
   * Unmaps and closes; views handed out are detached (they read as empty).
   * The object or file stays for other processes until
   * {@linkcode SharedMemory.unlink}. A second close does nothing. Does not
   * flush a file-backed region to disk: call {@linkcode SharedMemory.sync}.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * const region = SharedMemory.create({ size: 64 });
   * const view = region.bytes;
   * region.close();
   * console.log(view.byteLength); // 0
   * region.unlink();
   * ```
   *
   * @throws {MmapError} When munmap or close fails; the region is closed anyway.
   */
  close(): void {
    if (this.#closed) return;
    this.#waits.closeAll();
    this.#closed = true;
    const error = this.#mapping?.release() ?? undefined;
    const closeError = this.#file.close();
    if (error ?? closeError) throw error ?? closeError;
  }

  /**
   * Removes the name (or the file): new opens fail with ENOENT, while
   * mappings that exist, here or in other processes, keep working until
   * closed. Allowed before or after close.
   *
   * @example
   * ```ts
   * import { SharedMemory } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * region.unlink();
   * region.bytes[0] = 1; // still mapped
   * ```
   *
   * @throws {MmapError} ENOENT when it was already removed.
   */
  unlink(): void {
    const platform = this.#platform;
    if (this.#shmName) {
      // Removing /dev/shm/<name> is a write there, as Deno.removeSync or fs.unlinkSync would need
      // (the platform asks). Where names cannot be removed, an object goes with its last handle.
      platform.unlinkSharedMemory?.(this.#shmName.name);
      return;
    }
    // FFI bypasses the runtime's permission model: ask it, and remove exactly what it allowed.
    const path = platform.checkPathAccess(this.path!, "write", "unlink");
    const error = platform.removeFile(path);
    if (error) throw error;
  }

  /** Same as {@linkcode SharedMemory.close}, for `using`; does not unlink. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(`SharedMemory "${this.name ?? this.path}"`);
  }
}
