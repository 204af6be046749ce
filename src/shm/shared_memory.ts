/**
 * `SharedMemory`: bytes shared between processes, backed by a POSIX
 * shared-memory object (`shm_open`, by name) or by a file (by path). Names
 * match Python's `multiprocessing.shared_memory`, so regions cross languages.
 *
 * @module
 */

import { ClosedError, errnoError, MmapError } from "../errors.ts";
import type { Libc } from "../ffi/libc.ts";
import { libc as activeLibc } from "../ffi/mod.ts";
import { FileDescriptor } from "../fs/file_descriptor.ts";
import { Mapping } from "../mapping.ts";
import { assertByteCount, assertOptionalBoolean, toPath } from "../validate.ts";
import { isFilePath, parseShmName, randomShmName, type ShmName } from "./shm_name.ts";

/** Options of {@linkcode SharedMemory.create}. */
export interface SharedMemoryCreateOptions {
  /** Shared-memory object name (`"psm_1234"` or `"/psm_1234"`); random when neither name nor path is given. */
  name?: string;
  /** A file to back the region instead of a shared-memory object. */
  path?: string;
  /** Bytes in the region. */
  size: number;
  /** Mode of a new object or file; default 0o600. */
  permissions?: number;
  /** Fail with EEXIST when the object exists (default true). Without it an existing one is opened, never truncated. */
  exclusive?: boolean;
}

/** Options of {@linkcode SharedMemory.open}. */
export interface SharedMemoryOpenOptions {
  /** Map read-only. Default false. */
  readonly?: boolean;
  /** Open an object owned by another user or writable by group or others. Default false. */
  trustAnyOwner?: boolean;
}

/**
 * A region of memory shared between processes.
 *
 * @example Share bytes with another process (or Python) by name
 * ```ts
 * import { SharedMemory } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 4096 });
 * new TextEncoder().encodeInto("hello", region.bytes);
 * console.log(region.name); // e.g. "psm_3f2a…", open it elsewhere with SharedMemory.open(name)
 * region.unlink();
 * ```
 */
export class SharedMemory implements Disposable {
  readonly #libc: Libc;
  readonly #file: FileDescriptor;
  readonly #mapping: Mapping | null;
  readonly #shmName: ShmName | null;
  #closed = false;
  #syncFailure: MmapError | undefined;
  #needsFsync: boolean;
  /** The object's name without the leading slash, or `null` for a file-backed region. */
  readonly name: string | null;
  /** The backing file, or `null` for a shared-memory object. */
  readonly path: string | null;
  /** Bytes in the region. */
  readonly size: number;
  /** Whether the region is mapped read-only. */
  readonly readonly: boolean;

  private constructor(
    libc: Libc,
    file: FileDescriptor,
    shmName: ShmName | null,
    size: number,
    readonly: boolean,
  ) {
    this.#libc = libc;
    this.#file = file;
    this.#shmName = shmName;
    this.name = shmName?.name ?? null;
    this.path = shmName ? null : file.path;
    this.size = size;
    this.readonly = readonly;
    this.#needsFsync = file.created && !shmName;
    this.#mapping = size === 0 ? null : Mapping.map(libc, {
      fd: file.fd, fileOffset: 0, length: size, writable: !readonly, shared: true,
      path: this.name ?? this.path,
    });
  }

  /**
   * Creates a region of `size` bytes: a shared-memory object by `name` (a
   * random one when neither `name` nor `path` is given) or a file at `path`.
   *
   * @throws {TypeError} For a bad name, path or option.
   * @throws {MmapError} EEXIST when it exists and `exclusive` (the default); others from the OS.
   */
  static create(options: SharedMemoryCreateOptions): SharedMemory {
    if (typeof options !== "object" || options === null) throw new TypeError("Options must be an object");
    const { size, permissions = 0o600, exclusive = true } = options;
    assertByteCount(size, "size");
    assertByteCount(permissions, "permissions");
    if (permissions > 0o7777) throw new RangeError(`Permissions must be at most 0o7777, got ${permissions}`);
    assertOptionalBoolean(options.exclusive, "exclusive");
    if (options.name !== undefined && options.path !== undefined) {
      throw new TypeError("Give a name or a path, not both");
    }
    const libc = activeLibc();
    if (options.path !== undefined) {
      const path = toPath(options.path);
      const file = FileDescriptor.open(libc, path, { write: true, create: true, exclusive, permissions });
      return SharedMemory.#sized(libc, file, null, size);
    }
    const shmName = options.name === undefined ? randomShmName() : parseShmName(options.name);
    const file = openShm(libc, shmName, { create: true, exclusive, readonly: false, permissions });
    return SharedMemory.#sized(libc, file, shmName, size);
  }

  /** Grows a new (or smaller existing) object to `size`, maps it, undoes creation on failure. */
  static #sized(libc: Libc, file: FileDescriptor, shmName: ShmName | null, size: number): SharedMemory {
    try {
      const existing = file.openedStat.size;
      // Never truncate: other processes may map the object. Grow only.
      if (size > existing) file.setSize(size, existing);
      return new SharedMemory(libc, file, shmName, Math.max(size, existing), false);
    } catch (error) {
      file.discard();
      throw error;
    }
  }

  /**
   * Opens an existing region by name (`"psm_1234"`, `"/psm_1234"`) or by file
   * path (anything with a `/` after its first character, e.g. `"./region"`).
   * Its size is read from the object.
   *
   * @throws {MmapError} ENOENT when it does not exist; EACCES when another user owns it or others may write it.
   */
  static open(nameOrPath: string, options: SharedMemoryOpenOptions = {}): SharedMemory {
    if (typeof nameOrPath !== "string") throw new TypeError("NameOrPath must be a string");
    assertOptionalBoolean(options.readonly, "readonly");
    assertOptionalBoolean(options.trustAnyOwner, "trustAnyOwner");
    const readonly = options.readonly ?? false;
    const libc = activeLibc();
    const shmName = isFilePath(nameOrPath) ? null : parseShmName(nameOrPath);
    const file = shmName
      ? openShm(libc, shmName, { create: false, exclusive: false, readonly, permissions: 0 })
      : FileDescriptor.open(libc, toPath(nameOrPath), { write: !readonly });
    try {
      if (!options.trustAnyOwner) assertTrusted(libc, file);
      return new SharedMemory(libc, file, shmName, file.openedStat.size, readonly);
    } catch (error) {
      file.discard();
      throw error;
    }
  }

  /** True after {@linkcode SharedMemory.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A zero-copy view of the region; detached when the region closes. */
  get bytes(): Uint8Array<ArrayBuffer> {
    this.#assertOpen();
    return this.#mapping ? this.#mapping.view(0, this.size) : new Uint8Array(0);
  }

  /**
   * Flushes the region with msync(MS_SYNC); a file-backed one is also fsynced
   * after it was created. A failure poisons the region: later syncs throw.
   */
  sync(): void {
    this.#assertOpen();
    if (this.#syncFailure) {
      throw new MmapError(`An earlier sync failed (${this.#syncFailure.message})`, {
        code: this.#syncFailure.code, errno: this.#syncFailure.errno,
        syscall: this.#syncFailure.syscall, path: this.name ?? this.path,
      });
    }
    try {
      this.#mapping?.sync(0, this.size, false);
      if (this.#needsFsync) {
        this.#file.fsync();
        this.#file.syncDirectory();
        this.#needsFsync = false;
      }
    } catch (error) {
      this.#syncFailure = error as MmapError;
      throw error;
    }
  }

  /** Unmaps and closes; views are detached. The object itself stays until {@linkcode unlink}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = this.#mapping?.release() ?? undefined;
    const closeError = this.#file.close();
    if (error ?? closeError) throw error ?? closeError;
  }

  /**
   * Removes the name (or file): new opens fail with ENOENT; mappings that
   * exist, here or in other processes, keep working. Allowed after close.
   *
   * @throws {MmapError} ENOENT when it was already removed.
   */
  unlink(): void {
    const libc = this.#libc;
    if (this.#shmName) {
      if (libc.shmUnlink(this.#shmName.posixName) !== 0) {
        throw errnoError(libc.errno, libc.constants.errnoNames, "shm_unlink", this.#shmName.name);
      }
    } else if (libc.unlink(this.path!) !== 0) {
      throw errnoError(libc.errno, libc.constants.errnoNames, "unlink", this.path);
    }
  }

  /** Same as {@linkcode SharedMemory.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(`SharedMemory "${this.name ?? this.path}"`);
  }
}

/** shm_open with the O_EXCL dance, so we know whether this call created it. */
function openShm(
  libc: Libc,
  shmName: ShmName,
  request: { create: boolean; exclusive: boolean; readonly: boolean; permissions: number },
): FileDescriptor {
  const c = libc.constants;
  const base = (request.readonly ? c.O_RDONLY : c.O_RDWR) | c.O_CLOEXEC;
  let fd = -1;
  let created = false;
  if (request.create) {
    fd = libc.shmOpen(shmName.posixName, base | c.O_CREAT | c.O_EXCL, request.permissions);
    created = fd >= 0;
    if (fd < 0 && !request.exclusive && c.errnoNames[libc.errno] === "EEXIST") {
      fd = libc.shmOpen(shmName.posixName, base, 0);
    }
  } else {
    fd = libc.shmOpen(shmName.posixName, base, 0);
  }
  if (fd < 0) throw errnoError(libc.errno, c.errnoNames, "shm_open", shmName.name);
  return FileDescriptor.adopt(libc, fd, shmName.name, created, () => libc.shmUnlink(shmName.posixName));
}

/** Refuses an object another user owns or that group or others may write. */
function assertTrusted(libc: Libc, file: FileDescriptor): void {
  const { uid, mode } = file.openedStat;
  const me = (globalThis as { process?: { getuid?(): number } }).process?.getuid?.();
  const reason = me !== undefined && uid !== me
    ? `it belongs to user ${uid}`
    : (mode & 0o022) !== 0
    ? `group or others may write it (mode ${(mode & 0o777).toString(8)})`
    : undefined;
  if (!reason) return;
  throw new MmapError(
    `EACCES: refusing to open "${file.path}": ${reason}; pass { trustAnyOwner: true } to open it anyway`,
    { code: "EACCES", errno: 13, syscall: "open", path: file.path },
  );
}
