/**
 * The platform seam: the one interface the classes above `src/os` use to reach
 * the operating system (memmap2's `MmapInner`, with `unix.rs` and `windows.rs`
 * behind it). `src/os/posix` implements it over {@linkcode Libc} (Linux,
 * Darwin); `src/os/windows` over kernel32. Nothing above this file may know
 * which one runs: no `MAP_*`, `PROT_*`, `O_*`, errno number, `flock`,
 * `shm_open` or handle type is visible here.
 *
 * Conventions every implementation keeps:
 * - **Errors.** A method that fails throws an {@linkcode MmapError} whose `code`
 *   is a POSIX errno name (`ENOENT`, `EACCES`, `EEXIST`, `EBUSY`, `ENOSPC`,
 *   `EINVAL`, `ENOMEM`, …; Windows maps its error codes to these), whose
 *   `syscall` names the call that failed (the platform's own: `mmap`,
 *   `MapViewOfFile`) and whose `path` is the `label` the caller passed. Methods
 *   documented as returning an error return it instead of throwing: they run
 *   on release paths that must not throw.
 * - **Arguments are already checked.** Callers validate user input; a
 *   platform method may assume integral, in-range arguments.
 * - **Addresses are `bigint`**, sizes and offsets safe-integer `number`s.
 * - **Optional powers are absent, not stubbed.** A member marked optional is
 *   `undefined` where the platform cannot do it (Darwin has no `mremap`,
 *   Windows cannot overlay a view in place); callers test for it and take
 *   their documented fallback.
 * - **No hidden cost on hot paths.** {@linkcode Platform.arrayBuffer} and
 *   {@linkcode Platform.maxArrayBufferLength} are the runtime shim's own
 *   function and value, not wrappers: views pay no extra call.
 *
 * @module
 */

import type { MmapError } from "../errors.ts";
import type { AdviceName } from "../ffi/constants.ts";
import type { FileStat, RuntimeName } from "../ffi/libc.ts";

/** Advice by name, as the public `Advice` type spells it (`madvise` names without `MADV_`). */
export type { AdviceName, FileStat, RuntimeName };

/**
 * An open file in this process. Opaque above `src/os`: on POSIX a descriptor,
 * on Windows the implementation's key for a `HANDLE`. It is a number so it can
 * travel in a structured-clone descriptor (`share()`), but code above the seam
 * never computes with it or passes it to anything but its {@linkcode Platform}.
 */
export type FileHandle = number;

/** What a path or a handle is. */
export type FileKind =
  | "file"
  | "directory"
  | "symlink"
  | "fifo"
  | "character-device"
  | "block-device"
  | "socket"
  | "other";

/**
 * What the platform knows of an open file. `mode` holds the permission bits
 * (Windows reports 0o666, or 0o444 for a read-only file); `dev`/`ino` together
 * name the file (Windows: volume serial number and file index), so two
 * handles with the same pair are the same file.
 */
export interface PlatformStat extends FileStat {
  readonly kind: FileKind;
}

/** How {@linkcode Platform.openFile} opens a path. */
export interface OpenFileRequest {
  /** Read and write; else read only. */
  readonly write: boolean;
  /**
   * `"exclusive"`: create the file and fail with `EEXIST` when anything is
   * there already (`O_CREAT | O_EXCL`; Windows `CREATE_NEW`). Absent: open
   * what exists, `ENOENT` when nothing does. (Callers build "create when
   * missing" from the two, so they know whether they created the file.)
   */
  readonly create?: "exclusive";
  /** Mode bits of a file this call creates (POSIX; Windows ignores them). */
  readonly permissions?: number;
}

/** How a range is mapped. */
export type MapAccess =
  /** Readable only: a write through it faults. */
  | "read"
  /** Readable and writable, writes reach the file (and other processes). */
  | "write"
  /** Readable and writable, writes stay in this process (copy-on-write). */
  | "copy";

/** What {@linkcode Platform.map} maps. */
export interface PlatformMapRequest {
  /** The file to map, or `null` for zero-filled memory (from the paging file on Windows). */
  readonly file: FileHandle | null;
  /**
   * Byte offset in the file of the first byte wanted; any value. The platform
   * maps from the offset rounded down to {@linkcode Platform.granularity} and
   * reports the difference as {@linkcode PlatformMapping.delta}.
   */
  readonly offset: number;
  /** Bytes wanted, more than 0; the file must hold `offset + length` bytes. */
  readonly length: number;
  readonly access: MapAccess;
  /**
   * Shared between processes (`MAP_SHARED`; a file mapping every holder sees).
   * `false` maps private: with `"write"` access that is copy-on-write like
   * `"copy"`. Ignored for `"copy"`.
   */
  readonly shared: boolean;
  /**
   * With `"read"` access: map the pages copy-on-write and writable instead, so
   * a stray write through a view changes only this process's copy of a page
   * and never the file, instead of killing the process. Off the commit charge
   * where the platform allows it (`MAP_NORESERVE`), so a file larger than RAM
   * still maps. Where that mapping is refused the strict `"read"` one is made;
   * {@linkcode PlatformMapping.absorbing} says which.
   */
  readonly absorbWrites?: boolean;
  /** Fault the pages in now, for reading (never copying private pages). */
  readonly populate?: boolean;
  /** Try large pages; fall back silently. */
  readonly hugePages?: boolean;
  /** For error messages. */
  readonly label: string | null;
}

/** A range {@linkcode Platform.map} mapped. */
export interface PlatformMapping {
  /** Start of the mapping: aligned to {@linkcode Platform.granularity}. */
  readonly address: bigint;
  /** Bytes mapped from `address`: `delta + length` of the request. */
  readonly length: number;
  /** Distance from `address` to the first wanted byte (`offset % granularity`). */
  readonly delta: number;
  /** The request's `absorbWrites` was honoured (the range is private and writable). */
  readonly absorbing: boolean;
}

/** How {@linkcode Platform.openSharedMemory} opens a named object. */
export interface SharedMemoryRequest {
  /** Create the object; with `exclusive` fail with `EEXIST` when it exists. */
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly readonly: boolean;
  /** Mode bits of an object this call creates (POSIX). */
  readonly permissions: number;
  /** Size of an object this call creates (Windows fixes it at creation; POSIX sets it after). */
  readonly size?: number;
}

/** A named shared memory object {@linkcode Platform.openSharedMemory} opened. */
export interface OpenedSharedMemory {
  readonly file: FileHandle;
  /** This call created the object. */
  readonly created: boolean;
}

/** Whole-file advice a platform may take (`posix_fadvise`). */
export type FileAdviceName = "dontneed";

/**
 * Where one MemMapFS path leads (the `Place` of `src/fs/fs_paths.ts`):
 * `relative` is what a {@linkcode DirectoryRoot} resolves (beneath it when
 * confined, an absolute path when not); `display` the absolute path for
 * messages, permission checks and cache keys.
 */
export interface RootPlace {
  readonly relative: string;
  readonly display: string;
}

/** An entry of {@linkcode DirectoryRoot.readDir}. */
export interface RootEntry {
  readonly name: string;
  /** What the entry is, without following a link. */
  readonly kind: FileKind;
}

/**
 * A directory every path of a confined MemMapFS is resolved beneath, held
 * open for its whole life ("open beneath a directory descriptor"): Linux
 * `openat2(RESOLVE_BENEATH)` or an `openat(O_NOFOLLOW)` walk, Darwin the walk,
 * Windows relative opens under a directory handle. The unconfined root
 * resolves absolute paths the same way without the bound.
 *
 * Guarantees every implementation keeps:
 * - A path is resolved in the kernel, component by component, when the
 *   method runs, and the entry acted on is the one resolved: never a path
 *   checked and then used again. A symbolic link is followed only under the
 *   root's rules (at most 8 links; an absolute target or `..` that would
 *   leave the root is `EACCES`), and never for the final component of a
 *   method that does not follow (`lstat`, `remove`, `rename`, …).
 * - A confined root refuses with `EACCES` any path that leads outside it, by
 *   text, by link, or by a directory renamed away during the walk.
 * - Methods throw {@linkcode MmapError} with the POSIX code and `display` as
 *   the path; a closed root throws `EBADF`.
 */
export interface DirectoryRoot {
  /** The directory's absolute path when it was opened (`/` for the unconfined root). */
  readonly path: string;
  /** Paths are kept beneath `path`. */
  readonly confined: boolean;
  readonly closed: boolean;
  /** Releases the directory handle; later calls throw. A second close does nothing. */
  close(): void;
  /**
   * A root at the directory `place` leads to, resolved beneath this one: what
   * `sub()` holds.
   *
   * @throws {MmapError} ENOTDIR, ENOENT, EACCES (escape).
   */
  openBelow(place: RootPlace): DirectoryRoot;
  /**
   * Opens the file `place` leads to, following a final link under the root's
   * rules, with the guarantees of {@linkcode Platform.openFile} otherwise.
   *
   * @throws {MmapError} As openFile; EACCES for an escape.
   */
  openFile(place: RootPlace, request: OpenFileRequest): FileHandle;
  /** `stat` (`follow`: through a final link) or `lstat`. */
  stat(place: RootPlace, follow: boolean): PlatformStat;
  /** The entries of a directory, sorted by name, without `.` and `..`. */
  readDir(place: RootPlace): RootEntry[];
  /** Makes a directory (and its missing parents when `recursive`; then an existing directory is fine). */
  mkdir(place: RootPlace, mode: number, recursive: boolean): void;
  /** Removes a file, link or empty directory, without following a final link. */
  remove(place: RootPlace): void;
  /** Removes a tree without following links; a missing path is fine. */
  removeAll(place: RootPlace): void;
  /** Renames, replacing a file at `to`; both beneath this root. */
  rename(from: RootPlace, to: RootPlace): void;
  chmod(place: RootPlace, mode: number): void;
  /** Changes owner and group; -1 leaves that one. */
  chown(place: RootPlace, uid: number, gid: number): void;
  /** Sets access and modification times, in nanoseconds since the epoch. */
  utimes(place: RootPlace, atimeNs: bigint, mtimeNs: bigint): void;
  /** The whole content of a regular file, read with positional reads. */
  readFile(place: RootPlace): Uint8Array;
  /** Replaces the file's content (creating it with `permissions`), keeping its owner. */
  writeFile(place: RootPlace, bytes: Uint8Array, permissions: number): void;
  /**
   * Cuts or extends the regular file `place` leads to (following links) to
   * `size` bytes (`EINVAL` for anything else). `beforeCut` sees the opened
   * file's stat first and may refuse by throwing: the file checked is the
   * file cut.
   */
  truncate(place: RootPlace, size: number, beforeCut?: (stat: PlatformStat) => void): void;
  /** Makes the entry `place` names durable in its directory (see {@linkcode Platform.syncParentDirectory}). */
  syncParentDirectory(place: RootPlace): void;
}

/** What {@linkcode Platform.waitOnAddress} found. */
export type AddressWaitResult = "ok" | "not-equal" | "timed-out";

/**
 * The operating system, as memmapfs needs it. One object per bound runtime
 * library: get it from `platform()` in `src/os/mod.ts`.
 *
 * @example
 * ```ts
 * import { platform } from "./mod.ts";
 * const os = platform();
 * const region = os.map({ file: null, offset: 0, length: 100, access: "write", shared: false, label: null });
 * new Uint8Array(os.arrayBuffer(region.address, region.length))[0] = 1;
 * os.unmap(region.address, region.length, null);
 * ```
 */
export interface Platform {
  /** Which runtime's FFI this platform calls through (for messages and tests). */
  readonly runtime: RuntimeName;
  /** The platform's short name: `linux-x64`, `darwin-arm64`, `windows-x64`. For messages only. */
  readonly label: string;
  /** The platform for people: `Linux (linux-x64)`, `macOS (darwin-arm64)`, `Windows (windows-x64)`. */
  readonly displayName: string;
  /** The virtual memory page: the unit of protection, locking, flushing and residency. */
  readonly pageSize: number;
  /**
   * The unit file offsets of a mapping are aligned to: the page size on POSIX,
   * the allocation granularity (64 KiB) on Windows. A multiple of `pageSize`.
   */
  readonly granularity: number;
  /** The largest `ArrayBuffer` this runtime can create over foreign memory. */
  readonly maxArrayBufferLength: number;

  /**
   * A zero-copy `ArrayBuffer` over `length` bytes at `address` (the shim's own
   * function). The caller owns its lifetime and detaches it before the memory
   * goes away.
   */
  arrayBuffer(address: bigint, length: number): ArrayBuffer;

  // ---- Runtime permission model (FFI bypasses it; the platform asks first) ----

  /**
   * Asks the runtime's permission model for `access` to `path` and returns the
   * path to use: the very string that was checked. See `Libc.checkPathAccess`.
   *
   * @throws {MmapError} EACCES naming the flag that would allow it.
   */
  checkPathAccess(path: string, access: "read" | "write", syscall?: string): string;
  /**
   * Throws when the permission model refuses the file `file` really is (judged
   * by its real path, not the text that led there). A no-op where there is none.
   *
   * @throws {MmapError} EACCES.
   */
  checkOpenedFile(file: FileHandle, syscall?: string): void;

  // ---- Files ----

  /**
   * Opens `path` (already passed through `checkPathAccess`) without following
   * a final symbolic link, without becoming a controlling terminal, without
   * blocking on a FIFO, not inherited by child processes, and sharing it with
   * other processes for reading, writing and deletion as POSIX does. The file
   * may be of any kind: callers check {@linkcode PlatformStat.kind}.
   *
   * @throws {MmapError} ENOENT, EEXIST (exclusive create), ELOOP (a final link),
   * EACCES, EISDIR…; syscall `open`.
   */
  openFile(path: string, request: OpenFileRequest): FileHandle;
  /**
   * The file's size, kind and identity now (no cache).
   *
   * @throws {MmapError} syscall `fstat`.
   */
  stat(file: FileHandle, label: string | null): PlatformStat;
  /**
   * `stat` of `path` (already permission-checked), following links: how a
   * cache hit is told from a changed file. `null` when it fails (missing,
   * no access…): the caller then does the real open and reports that.
   */
  statPath(path: string): PlatformStat | null;
  /**
   * Reads up to `buffer.length` bytes at `offset`, without moving any file
   * position: the bytes read, 0 at end of file.
   *
   * @throws {MmapError} syscall `pread`.
   */
  readAt(file: FileHandle, buffer: Uint8Array, offset: number, label: string | null): number;
  /**
   * Writes all of `bytes` at `offset` without moving any file position (a
   * short write is continued, an interruption retried). The bytes land in the
   * same page cache a shared mapping of the file reads, so its views see them
   * at once; {@linkcode Platform.flushFile} makes them durable. Optional: where
   * it is absent, writes go through the mapping.
   *
   * @throws {MmapError} syscall `pwrite`; bytes before the failure may have been written.
   */
  writeAt?(file: FileHandle, bytes: Uint8Array, offset: number, label: string | null): void;
  /**
   * Makes the file `newSize` bytes. Growth reserves the disk blocks where the
   * platform can (`posix_fallocate`, `F_PREALLOCATE`), so a full disk fails
   * here and never later as a fault on a mapped page; where the file system
   * cannot reserve, the size is set plainly. On failure the file keeps
   * `oldSize`. The caller has no view of the file mapped past the smaller of
   * the two sizes (Windows refuses to cut a file under a view, `EBUSY`).
   *
   * @throws {MmapError} ENOSPC, EFBIG, EBUSY…
   */
  setSize(file: FileHandle, newSize: number, oldSize: number, label: string | null): void;
  /**
   * Sets the size plainly, reserving nothing (`ftruncate`; `SetEndOfFile`):
   * for memory files and for cutting a file back.
   *
   * @throws {MmapError} syscall `ftruncate`.
   */
  truncateFile(file: FileHandle, size: number, label: string | null): void;
  /**
   * True where a file's size cannot change while a view of it is mapped
   * (Windows refuses with error 1224, `EBUSY`): a caller lets its own views
   * go, sets the size, and maps again. Absent or false where the size can
   * change under a mapping (POSIX), which is cheaper.
   */
  readonly viewsPinFileSize?: boolean;
  /**
   * Makes the file's data and size durable: on return they survive a power
   * loss (`fsync`; `F_FULLFSYNC` on Darwin; `FlushFileBuffers` on Windows).
   *
   * @throws {MmapError} syscall `fsync`.
   */
  flushFile(file: FileHandle, label: string | null): void;
  /**
   * True where flushing a mapped range ({@linkcode Platform.flush}) may leave
   * the bytes in the drive's cache, so every durable sync must end with
   * {@linkcode Platform.flushFile} (Darwin, Windows).
   */
  readonly flushNeedsFileFlush: boolean;
  /**
   * Makes the creation (or removal) of the entry `path` durable: an fsync of
   * the directory that holds it. A no-op where directories need none (Windows).
   *
   * @throws {MmapError} syscall `open` or `fsync`, path the directory.
   */
  syncParentDirectory(path: string): void;
  /**
   * Closes the handle. The handle is released even when an error is
   * returned (Linux releases a descriptor whatever close says). Never throws.
   */
  closeFile(file: FileHandle, label: string | null): MmapError | undefined;
  /**
   * Removes the directory entry `path` (a file). Windows: the file goes once
   * the last handle to it closes. Never throws: the error is returned.
   */
  removeFile(path: string): MmapError | undefined;
  /**
   * Takes an exclusive lock on the whole file without waiting, held until
   * the handle closes (`flock(LOCK_EX | LOCK_NB)`; `LockFileEx`). Returns
   * false when another open of the file holds a lock.
   *
   * @throws {MmapError} For any other failure; syscall `flock`.
   */
  tryLockFile(file: FileHandle, label: string | null): boolean;
  /**
   * Advice about the file's cached pages (`posix_fadvise`): `"dontneed"` drops
   * clean ones. Absent where the platform has none.
   *
   * @throws {MmapError} syscall `posix_fadvise`.
   */
  readonly adviseFile?: (file: FileHandle, offset: number, length: number, advice: FileAdviceName, label: string | null) => void;
  /**
   * A new handle of the same open file another handle of this process holds:
   * how a worker of this process re-opens what `share()` sent it (POSIX opens
   * `/proc/self/fd/N`). `null` when `file` is not open here.
   */
  readonly reopenInProcess?: (file: FileHandle, write: boolean) => FileHandle | null;

  // ---- Shared memory ----

  /**
   * Opens the named shared memory object `name` (a valid name without a
   * leading slash, as Python's `multiprocessing.shared_memory` reports it),
   * checked against the runtime's permission model as the file it is.
   * Absent where the platform has no named shared memory.
   *
   * @throws {MmapError} EEXIST, ENOENT, EACCES…; path `name`.
   */
  readonly openSharedMemory?: (name: string, request: SharedMemoryRequest) => OpenedSharedMemory;
  /**
   * Removes the name of a shared memory object (checked against the
   * permission model for writing); holders keep their mappings. Windows has
   * no such call (an object lives while a handle is open): there it is absent.
   *
   * @throws {MmapError} ENOENT, EACCES; path `name`.
   */
  readonly unlinkSharedMemory?: (name: string) => void;
  /**
   * How a random shared-memory name begins, as Python's
   * `multiprocessing.shared_memory` begins its own there: `wnsm_` on Windows;
   * `psm_` where absent.
   */
  readonly randomNamePrefix?: string;
  /**
   * Longest shared memory name, in bytes with a leading slash (Darwin's
   * PSHMNAMLEN is 31; 256 where names are file names).
   */
  readonly shmNameMaxBytes: number;
  /** An object's size is set once, by its creator (Darwin, Windows): an opener cannot grow it. */
  readonly sharedMemorySizeFixedOnce: boolean;
  /**
   * An anonymous file in memory that can be resized and mapped shared
   * (`memfd_create`): how shared anonymous memory grows. Absent elsewhere.
   *
   * @throws {MmapError} syscall `memfd_create`.
   */
  readonly createMemoryFile?: (name: string) => FileHandle;
  /**
   * Why the owner of an opened object cannot be trusted (another user owns
   * it, or group or others may write it), or undefined when it can. Absent
   * where the platform has no such notion (Windows: ACLs).
   */
  readonly untrustedReason?: (stat: PlatformStat) => string | undefined;

  // ---- Mappings ----

  /**
   * Maps a file range or zero-filled memory. Counts nothing: the mapping
   * budget is the caller's. `populate` prefaults for reading only.
   *
   * @throws {MmapError} ENOMEM, EACCES, ENODEV…; syscall `mmap`.
   */
  map(request: PlatformMapRequest): PlatformMapping;
  /**
   * Unmaps the range `[address, address + length)`, which must be a whole
   * mapping {@linkcode Platform.map} returned (or, where
   * {@linkcode Platform.unmapTail} exists, what is left of one). Never
   * throws: the error is returned, and the range is then still mapped.
   */
  unmap(address: bigint, length: number, label: string | null): MmapError | undefined;
  /**
   * Unmaps the pages of a mapping from `address` (page-aligned, inside it) to
   * its end, keeping the rest where it is. Absent where a mapping can only go
   * whole (Windows): shrink by mapping anew.
   */
  readonly unmapTail?: (address: bigint, length: number, label: string | null) => MmapError | undefined;
  /**
   * Grows or shrinks a whole mapping in place or by moving it
   * (`mremap(MREMAP_MAYMOVE)`) and returns its new address; file pages stay
   * shared, anonymous bytes move with it. Absent where there is none
   * (Darwin, Windows): map anew, copy anonymous bytes, unmap the old.
   *
   * @throws {MmapError} syscall `mremap`; the old mapping is then unchanged.
   */
  readonly remap?: (address: bigint, oldLength: number, newLength: number, label: string | null) => bigint;
  /**
   * Replaces `[address, address + length)` in place with private zero-filled
   * pages (`mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS)`): how a range some
   * view could not be detached from is let go without a fault for its reader.
   * Never throws: the error is returned, and the range is then unchanged.
   * Absent where memory cannot be replaced in place (Windows): such a range
   * is kept mapped instead.
   */
  readonly overlay?: (address: bigint, length: number, label: string | null) => MmapError | undefined;
  /**
   * Writes the dirty pages of `[address, address + length)` (page-aligned
   * start) to the file: on return, when not `async`, they are on their way to
   * the device (`msync(MS_SYNC)`; `FlushViewOfFile`); end with
   * {@linkcode Platform.flushFile} where {@linkcode Platform.flushNeedsFileFlush}.
   * `async` only starts the write-back (`MS_ASYNC`).
   *
   * @throws {MmapError} syscall `msync`.
   */
  flush(address: bigint, length: number, async: boolean, label: string | null): void;
  /**
   * Keeps the pages in memory (`mlock`; `VirtualLock`) until unlocked or unmapped.
   *
   * @throws {MmapError} ENOMEM, EPERM (limits); syscall `mlock`.
   */
  lock(address: bigint, length: number, label: string | null): void;
  /** @throws {MmapError} syscall `munlock`. */
  unlock(address: bigint, length: number, label: string | null): void;
  /**
   * Changes the pages' protection to `"read"` or `"write"` (read and write).
   *
   * @throws {MmapError} syscall `mprotect`.
   */
  protect(address: bigint, length: number, access: "read" | "write", label: string | null): void;
  /**
   * Gives the kernel advice about the pages. Throws `EINVAL` for advice the
   * platform does not know (see {@linkcode Platform.adviceKnown}).
   *
   * @throws {MmapError} syscall `madvise`.
   */
  advise(address: bigint, length: number, advice: AdviceName, label: string | null): void;
  /** Whether this platform has a name for `advice` at all (the kernel may still refuse it). */
  adviceKnown(advice: AdviceName): boolean;
  /**
   * Whether the kernel accepts `advice` on some kind of mapping, found out
   * once by trying it on a scratch page and remembered.
   */
  supportsAdvice(advice: AdviceName): boolean;
  /**
   * Faults the pages in for reading (`MADV_POPULATE_READ`, else
   * `MADV_WILLNEED`; `PrefetchVirtualMemory`). A hint: never throws.
   */
  prefetch(address: bigint, length: number): void;
  /**
   * How many of the pages of `[address, address + length)` are in memory
   * (`mincore`; `QueryWorkingSetEx`). Absent where the platform cannot tell.
   *
   * @throws {MmapError} syscall `mincore`.
   */
  readonly resident?: (address: bigint, length: number, label: string | null) => { pages: number; resident: number };

  // ---- Paths beneath a directory ----

  /**
   * Opens the directory `path` (absolute, already permission-checked) as a
   * confined {@linkcode DirectoryRoot}.
   *
   * @throws {MmapError} ENOENT, ENOTDIR, EACCES.
   */
  openRoot(path: string): DirectoryRoot;
  /** The root of an unconfined MemMapFS: absolute paths, resolved under the same rules. */
  unconfinedRoot(): DirectoryRoot;

  // ---- Waiting on memory shared between processes ----

  /**
   * Blocks the calling thread while the 32-bit word at `address` (in memory
   * mapped shared) holds `expected`, for at most `timeoutMs` (Infinity: no
   * limit); an interrupted wait resumes with the time left. Absent where the
   * platform has no cross-process wait.
   *
   * @throws {MmapError} syscall `futex`.
   */
  readonly waitOnAddress?: (address: bigint, expected: number, timeoutMs: number) => AddressWaitResult;
  /**
   * The same wait on another thread, keeping the process alive while pending:
   * resolves `true` when woken, `false` otherwise (the word differed, the
   * time ran out, an interruption) — the caller re-checks the word. Absent
   * where the runtime has no thread to wait on.
   */
  readonly waitOnAddressAsync?: (address: bigint, expected: number, timeoutMs: number) => Promise<boolean>;
  /** Wakes up to `count` waiters on the word at `address`; how many woke. @throws {MmapError} syscall `futex`. */
  readonly wakeAddress?: (address: bigint, count: number) => number;
  /** The kernel's id of the calling thread; with the waits, what robust cross-process locks need. */
  readonly threadId?: () => number;
  /** Whether a process or thread with this id exists now (one another user owns counts). */
  processExists(id: number): boolean;

  // ---- Errors ----

  /**
   * An {@linkcode MmapError} for the POSIX error name `code` with the platform's
   * own number for it, as the platform's calls would report it: how code
   * above the seam refuses something the platform allowed (`EISDIR`, `ENODEV`).
   */
  error(code: string, syscall: string, label: string | null): MmapError;
}
