/**
 * `MemMapFS`: a file system whose files open memory-mapped, with a cache that
 * keeps hot read-only mappings alive between opens, and the ordinary directory
 * and metadata operations (through node:fs) beside it.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { platform as activePlatform } from "../os/mod.ts";
import type { DirectoryRoot } from "../os/platform.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { pageSize } from "../page_size.ts";
import {
  assertByteCount, assertChoice, assertOptionalPermissions, assertOwnerId, assertPermissions, assertTime, optionsObject, toBytes,
  toPath,
} from "../validate.ts";
import type { Opener } from "./file_descriptor.ts";
import { type DirEntry, dirEntry, fileInfo, type FileInfo } from "./fs_info.ts";
import { FsPaths, type Place } from "./fs_paths.ts";
import { type MapOptions, resolveMapOptions } from "./map_options.ts";
import { checkMemMapFSOptions, checkMkdirOptions, type MemMapFSOptions } from "./memmapfs_options.ts";
import { type MappedFile, mappedFileSharing, openMappedFile } from "./mapped_file.ts";
import { type CacheEntry, type CacheLimits, type CacheStats, type FileIdentity, MappingCache, sharesCachedMapping } from "./mapping_cache.ts";
import { OpenHandles } from "./open_handles.ts";

export type { CacheLimits, CacheStats } from "./mapping_cache.ts";
export type { DirEntry, FileInfo } from "./fs_info.ts";
export type { MemMapFSOptions } from "./memmapfs_options.ts";

/**
 * How {@linkcode MemMapFS.openFile} opens, with the meaning POSIX and node:fs give these flags.
 *
 * @example
 * ```ts
 * import { MemMapFS, type OpenFlags } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * const flags: OpenFlags = "a";
 * using log = fs.openFile("app.log", flags);
 * log.write("appended\n");
 * ```
 */
export type OpenFlags = "r" | "r+" | "w" | "w+" | "a" | "a+";

const FLAGS: readonly OpenFlags[] = ["r", "r+", "w", "w+", "a", "a+"];

/** What a file system and the confined ones made from it by `sub()` share. */
interface SharedState {
  readonly limits: CacheLimits | false;
  /** Made on first use, so a MemMapFS that never opens a file maps nothing. */
  cache: MappingCache | null;
  readonly handles: OpenHandles;
}

/** Closes the directory descriptor of a confined MemMapFS that was never closed. */
const forgottenRoots = new FinalizationRegistry<DirectoryRoot>((root) => root.close());

/**
 * A file system whose files open memory-mapped.
 *
 * Read-only whole-file opens share one cached mapping per file (the first
 * open maps it; later ones cost a `stat`), and each handle stays valid until
 * its own `close()`, whatever happens to the cache or the file's name. Symbolic
 * links are followed, as node:fs does. To keep handles from faulting, the file
 * system refuses (EBUSY) to cut a file short under a handle it gave out.
 *
 * Made with `root` (or by `sub()`), it is confined: it holds that directory
 * open from construction and resolves every path beneath the descriptor in the
 * kernel (`openat2(RESOLVE_BENEATH)` on Linux 5.6+, else an `openat` walk
 * that follows links itself), acting with `*at` calls on what it resolved.
 * A path — relative, absolute, with `..`, through a symbolic link, or swapped
 * by another process meanwhile — that would lead outside is MmapError EACCES,
 * and nothing outside is touched. Made without `root`, it may go anywhere.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.writeFile("hello.txt", "Hello, memory-mapped filesystem!");
 * using file = fs.open("hello.txt");
 * console.log(new TextDecoder().decode(file.bytes)); // Hello, memory-mapped filesystem!
 * ```
 */
export class MemMapFS implements Disposable {
  readonly #defaults: MapOptions;
  #paths: FsPaths;
  #root: DirectoryRoot;
  #shared: SharedState;
  /** File systems `sub()` made from this one: closed with it. */
  readonly #subs: WeakRef<MemMapFS>[] = [];

  /**
   * Makes a file system over the real one. With `root`, opens that directory
   * now (following a symbolic link in `root` once, now) and confines every
   * path to it; without, relative paths resolve against the process's working
   * directory and any path is allowed.
   *
   * @throws {TypeError} For options that are not an object, a wrong option type
   *   (`null` included: only `undefined` means the default), or a `root` that is
   *   not a non-empty path or file: URL free of NUL bytes.
   * @throws {RangeError} For a negative, fractional or unsafe number, or permissions above 0o7777.
   * @throws {MmapError} When `root` cannot be opened as a directory (ENOENT, ENOTDIR, EACCES…).
   */
  constructor(options?: MemMapFSOptions) {
    const { root, cache, defaults } = checkMemMapFSOptions(options);
    this.#defaults = defaults;
    this.#shared = { limits: cache, cache: null, handles: new OpenHandles() };
    if (root === undefined) {
      this.#root = activePlatform().unconfinedRoot();
      this.#paths = new FsPaths(nodeBuiltins().process.cwd(), null);
    } else {
      const absolute = nodeBuiltins().path.resolve(root);
      activePlatform().checkPathAccess(absolute, "read");
      this.#root = activePlatform().openRoot(absolute);
      this.#paths = new FsPaths(absolute, absolute);
      forgottenRoots.register(this, this.#root, this);
    }
  }

  /**
   * Opens a file mapped, with this file system's options overridden by
   * `options` (read-only by default). Whole-file read-only opens come from
   * the mapping cache; any other opens its own mapping.
   *
   * @throws {TypeError} For options that are not an object or a wrong option type (`null` included).
   */
  open(path: string | URL, options?: MapOptions): MappedFile {
    const merged = options === undefined ? this.#defaults : { ...this.#defaults, ...optionsObject(options) };
    if (options !== undefined) resolveMapOptions(merged, pageSize);
    // The hit path allocates nothing it can avoid: an absolute path, then one stat.
    const display = this.#paths.absolute(path);
    if (this.#root.closed) throw this.#closedError();
    const cache = this.#cache();
    if (cache && sharesCachedMapping(merged)) {
      // A hit is a read too: the permission model is asked on every open, so a grant
      // revoked since the file was cached (Deno.permissions.revokeSync) is honoured
      // even when the cache's validateAfterMs lets the hit skip its stat.
      activePlatform().checkPathAccess(display, "read");
      const entry = cache.lookup(display, this.#identityOf, this.#root) ?? this.#load(cache, this.#paths.placeOf(display), merged);
      if (entry) {
        // Counted by the shared mapping's holders (see #load): nothing to remember per handle.
        return mappedFileSharing(activePlatform(), entry.file, entry.mapping.share(), entry.identity, {
          populate: merged.populate, hugePages: merged.hugePages,
        });
      }
    } else if (merged.mode === "readwrite") {
      // A writer may change the size; drop the entry now rather than at the next stat.
      cache?.invalidate(display);
    }
    return this.#openUncached(this.#paths.placeOf(display), merged);
  }

  /**
   * Opens with node:fs flags: `"r"` read-only; `"r+"` read-write, must exist;
   * `"w"`/`"w+"` create or truncate; `"a"`/`"a+"` create if missing, and every
   * `write()` (and `writable()` stream) goes to the end of the file, growing it.
   * `"a"` starts at the end, `"a+"` reads from the start, as node:fs does.
   * A mapping cannot be write-only, so `"w"` and `"a"` can read too; `writeAt`
   * and the `set*` accessors write where they are told even in append mode.
   * `permissions` (default 0o600, less the umask) applies when the file is created.
   *
   * @throws {TypeError} For missing or unknown `flags`.
   * @throws {RangeError} For permissions that are negative, fractional or above 0o7777.
   * @throws {MmapError} ENOENT for `"r"`/`"r+"` on a missing file or a missing
   *   parent directory, EISDIR for a directory, EBUSY when `"w"`/`"w+"` would
   *   cut a file that a handle from this file system still maps.
   */
  openFile(path: string | URL, flags: OpenFlags, permissions?: number): MappedFile {
    if (flags === undefined) {
      throw new TypeError(`Flags is required: pass one of ${FLAGS.map((flag) => `"${flag}"`).join(", ")} after the path`);
    }
    assertChoice(flags, FLAGS, "flags");
    assertOptionalPermissions(permissions);
    if (flags === "r") return this.open(path, { mode: "readonly" });
    const place = this.#locate(path);
    const truncate = flags.startsWith("w");
    const append = flags.startsWith("a");
    this.#shared.cache?.invalidate(place.display);
    const { file, stat } = this.#openMapped(place, {
      ...this.#defaults,
      mode: "readwrite",
      create: flags !== "r+",
      append,
      permissions: permissions ?? this.#defaults.permissions,
    });
    try {
      if (truncate && file.size > 0) {
        // Checked on the descriptor just opened: the file cut is the file checked.
        this.#shared.handles.assertNoneReachingPast(stat, 0, place.display, "open");
        file.resize(0);
      }
    } catch (error) {
      file.close();
      throw error;
    }
    this.#shared.handles.add(file, stat, 0);
    if (flags === "a") file.seek(0, "end");
    return file;
  }

  /** Creates (or truncates) a file, read-write, optionally `size` bytes of zeros. */
  create(path: string | URL, size = 0): MappedFile {
    assertByteCount(size, "size");
    const file = this.openFile(path, "w+");
    try {
      if (size > 0) file.resize(size);
    } catch (error) {
      file.close();
      throw error;
    }
    return file;
  }

  /**
   * The file's bytes, in a new buffer the caller owns (its whole `ArrayBuffer`),
   * read with `pread` from a descriptor of its own. Never copied out of the
   * cache's shared mapping: another process that cuts the file short under a
   * copy out of a mapping would kill this one (SIGBUS).
   *
   * @throws {MmapError} ENOENT, EISDIR, ENODEV for a FIFO, device or socket.
   */
  readFile(path: string | URL): Uint8Array {
    const place = this.#locate(path);
    this.#check(place, "read");
    return this.#root.readFile(place);
  }

  /**
   * Replaces the file's contents atomically: a temporary file in the same
   * directory is written and fsynced, renamed over the target, and the
   * directory is fsynced. Readers see the old file or the new, never half;
   * handles open on the old file keep the old bytes. A symbolic link is
   * followed (the link stays); an existing file keeps its mode.
   */
  writeFile(path: string | URL, data: Uint8Array | string): void {
    const bytes = toBytes(data, "data");
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.writeFile(place, bytes, this.#defaults.permissions ?? 0o600);
    this.#shared.cache?.invalidate(place.display);
  }

  /** Metadata of the file, following a final symbolic link. */
  stat(path: string | URL): FileInfo {
    const place = this.#locate(path);
    this.#check(place, "read");
    return fileInfo(this.#root.stat(place, true));
  }

  /**
   * Metadata of the path itself, not following a final symbolic link (a
   * confined file system can lstat a link inside it that points outside).
   */
  lstat(path: string | URL): FileInfo {
    const place = this.#locate(path);
    this.#check(place, "read");
    return fileInfo(this.#root.stat(place, false));
  }

  /**
   * Whether something exists at `path` (a dangling symbolic link does not count).
   *
   * @throws {MmapError} EACCES when a confined file system's path leads outside.
   */
  exists(path: string | URL): boolean {
    const place = this.#locate(path);
    this.#check(place, "read");
    try {
      this.#root.stat(place, true);
      return true;
    } catch (error) {
      // Missing, or a parent that is not a directory, or a link loop: not there.
      // Anything else (an escape, EIO, ENOMEM) is an answer we do not have.
      if (["ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG"].includes((error as { code?: string }).code ?? "")) return false;
      throw error;
    }
  }

  /** The entries of a directory, sorted by name. */
  readDir(path: string | URL = "."): DirEntry[] {
    const place = this.#locate(path);
    this.#check(place, "read");
    return this.#root.readDir(place).map(dirEntry);
  }

  /**
   * Makes a directory; with `recursive`, its parents too (and an existing one is fine).
   *
   * @throws {TypeError} For options that are not an object or a wrong option type (`null` included).
   * @throws {RangeError} For permissions that are negative, fractional or above 0o7777.
   */
  mkdir(path: string | URL, options?: { recursive?: boolean; permissions?: number }): void {
    const { recursive, mode } = checkMkdirOptions(options);
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.mkdir(place, mode, recursive);
  }

  /**
   * Removes a file, a symbolic link (never what it points to) or an empty
   * directory. Open handles of a removed file keep working.
   */
  remove(path: string | URL): void {
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.remove(place);
    this.#shared.cache?.invalidate(place.display);
  }

  /** Removes a file or a directory with everything in it (links are removed, not followed); nothing there is fine. */
  removeAll(path: string | URL): void {
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.removeAll(place);
    this.#shared.cache?.invalidateTree(place.display);
  }

  /**
   * Renames a file or directory, replacing `to`. Open handles keep working.
   *
   * @throws {TypeError} For a bad `from` or `to` (both checked before either is resolved).
   */
  rename(from: string | URL, to: string | URL): void {
    toPath(from, "from");
    toPath(to, "to");
    const source = this.#locate(from, "from");
    const target = this.#locate(to, "to");
    this.#check(source, "write");
    this.#check(target, "write");
    this.#root.rename(source, target);
    this.#shared.cache?.invalidateTree(source.display);
    this.#shared.cache?.invalidateTree(target.display);
  }

  /**
   * Sets the file's size, cutting or zero-extending it.
   *
   * @throws {MmapError} EBUSY when a handle from this file system still maps
   *   bytes past `size`: touching them after the cut would kill the process
   *   with SIGBUS. Close the handles, resize through a read-write handle's
   *   `resize()`, or replace the file with `writeFile`.
   */
  truncate(path: string | URL, size = 0): void {
    assertByteCount(size, "size");
    const place = this.#locate(path);
    this.#check(place, "write");
    // Where a mapped view pins a file's size (Windows), the cache lets its view go first.
    if (activePlatform().viewsPinFileSize) this.#shared.cache?.invalidate(place.display);
    // The file checked against the open handles is the file cut.
    this.#root.truncate(place, size, (stat) => this.#shared.handles.assertNoneReachingPast(stat, size, place.display, "truncate"));
    this.#shared.cache?.invalidate(place.display);
  }

  /**
   * Changes permission bits.
   *
   * @throws {RangeError} For a mode that is negative, fractional or above 0o7777.
   */
  chmod(path: string | URL, mode: number): void {
    assertPermissions(mode, "mode");
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.chmod(place, mode);
  }

  /**
   * Changes owner and group; -1 leaves that one unchanged, as in POSIX chown.
   *
   * @throws {RangeError} For an id that is fractional, below -1 or above 2^32 - 1.
   */
  chown(path: string | URL, uid: number, gid: number): void {
    assertOwnerId(uid, "uid");
    assertOwnerId(gid, "gid");
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.chown(place, uid, gid);
  }

  /** Sets access and modification times (a `Date`, or seconds since the epoch). */
  utimes(path: string | URL, atime: Date | number, mtime: Date | number): void {
    assertTime(atime, "atime");
    assertTime(mtime, "mtime");
    const place = this.#locate(path);
    this.#check(place, "write");
    this.#root.utimes(place, toNanoseconds(atime), toNanoseconds(mtime));
  }

  /** Changes the directory relative paths resolve against (for this file system only). */
  chdir(path: string | URL): void {
    const place = this.#locate(path);
    this.#check(place, "read");
    const stat = this.#root.stat(place, true);
    if (stat.kind !== "directory") throw activePlatform().error("ENOTDIR", "fstatat", place.display);
    this.#paths.chdir(place);
  }

  /** The directory relative paths resolve against. */
  cwd(): string {
    return this.#paths.cwd;
  }

  /**
   * The system's directory for temporary files. A confined file system
   * refuses it like any path outside its directory, unless it lies inside.
   */
  tempDir(): string {
    return nodeBuiltins().os.tmpdir();
  }

  /**
   * A file system confined below `dir`: every path — relative, absolute, with
   * `..` or through a symbolic link — must stay inside it, or the method
   * throws MmapError EACCES before touching anything. `dir` is opened now,
   * resolved beneath this file system's own directory when it is confined.
   * Shares the cache.
   *
   * @throws {TypeError} When `dir` is not a directory.
   */
  sub(dir: string | URL): MemMapFS {
    const place = this.#locate(dir);
    this.#check(place, "read");
    let root: DirectoryRoot;
    try {
      root = this.#root.confined ? this.#root.openBelow(place) : activePlatform().openRoot(place.display);
    } catch (error) {
      // A file where a directory should be is a mistake; a name swapped under us mid-open stays an MmapError.
      if ((error as { code?: unknown }).code === "ENOTDIR" && this.#isNonDirectory(place)) {
        throw new TypeError(`Sub needs a directory, and "${place.display}" is not one`);
      }
      throw error;
    }
    const child = new MemMapFS({ ...this.#defaults, cache: false });
    child.#root = root;
    child.#paths = new FsPaths(place.display, place.display);
    child.#shared = this.#shared;
    forgottenRoots.register(child, root, child);
    this.#subs.push(new WeakRef(child));
    return child;
  }

  /** Hits, misses, evictions and invalidations of the mapping cache, and what it holds. */
  cacheStats(): CacheStats & { bytes: number; files: number } {
    const cache = this.#shared.cache;
    return {
      ...(cache?.stats ?? { hits: 0, misses: 0, evictions: 0, invalidations: 0 }),
      ...(cache?.size ?? { bytes: 0, files: 0 }),
    };
  }

  /**
   * Lets go of every cached mapping and, for a confined file system, of its
   * directory, and closes the file systems `sub()` made from it: later calls
   * on a closed confined one throw ClosedError. Files handed out stay open
   * until closed.
   */
  close(): void {
    this.#shared.cache?.clear();
    for (const sub of this.#subs.splice(0)) sub.deref()?.close();
    if (this.#root.confined) {
      forgottenRoots.unregister(this);
      this.#root.close();
    }
  }

  /** Same as {@linkcode MemMapFS.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #locate(path: unknown, name = "path"): Place {
    const place = this.#paths.locate(path, name);
    if (this.#root.closed) throw this.#closedError();
    return place;
  }

  #closedError(): ClosedError {
    return new ClosedError(`This MemMapFS of "${this.#root.path}" is closed`);
  }

  #isNonDirectory(place: Place): boolean {
    try {
      return this.#root.stat(place, true).kind !== "directory";
    } catch {
      return false;
    }
  }

  /** Asks the runtime's permission model, which FFI bypasses, about the path as text. */
  #check(place: Place, access: "read" | "write"): void {
    const platform = activePlatform();
    platform.checkPathAccess(place.display, "read");
    if (access === "write") platform.checkPathAccess(place.display, "write");
  }

  #cache(): MappingCache | null {
    const shared = this.#shared;
    if (shared.limits === false) return null;
    shared.cache ??= new MappingCache(shared.limits);
    return shared.cache;
  }

  /**
   * What the absolute path `display` leads to now, for a cache lookup (made
   * once, so a hit allocates no closure). Unconfined: one stat of the path.
   * Confined: fstatat beneath the root, so an entry is only ever handed to a
   * file system that can reach that very file (same device and inode).
   */
  readonly #identityOf = (display: string): FileIdentity | undefined => {
    const platform = activePlatform();
    // The path open() asked the permission model about (the same answer, remembered).
    const checked = platform.checkPathAccess(display, "read");
    let stat;
    if (!this.#root.confined) stat = platform.statPath(checked);
    else {
      try {
        stat = this.#root.stat(this.#paths.placeOf(display), true);
      } catch {
        return undefined;
      }
    }
    if (!stat || stat.kind !== "file") return undefined;
    return stat;
  };

  /** Maps `place` into the cache; `undefined` for an empty or too large file. */
  #load(cache: MappingCache, place: Place, options: MapOptions): CacheEntry | undefined {
    const { populate, hugePages } = options;
    const entry = cache.load(activePlatform(), place.display, { opener: this.#opener(place), populate, hugePages }, this.#root);
    // Every handle made from this entry holds its mapping: truncate() counts them by that.
    if (entry) this.#shared.handles.addShared({ mapping: entry.mapping, ownerHolds: () => cache.holds(entry) }, entry.identity);
    return entry;
  }

  #openUncached(place: Place, options: MapOptions): MappedFile {
    const { file, stat } = this.#openMapped(place, options);
    // An untracked handle would let truncate() cut the file under it (SIGBUS).
    this.#shared.handles.add(file, stat, options.offset ?? 0);
    return file;
  }

  #openMapped(place: Place, options: MapOptions): { file: MappedFile; stat: FileIdentity } {
    return openMappedFile(place.display, options, this.#opener(place));
  }

  /** Opens `place` beneath the root, and undoes or syncs a creation there. */
  #opener(place: Place): Opener {
    const root = this.#root;
    return {
      open: (request) => root.openFile(place, request),
      remove: () => {
        try {
          root.remove(place);
        } catch { /* the error that made us undo is the one to report */ }
      },
      syncDirectory: () => root.syncParentDirectory(place),
    };
  }
}

/** A Date or seconds since the epoch, as nanoseconds. */
function toNanoseconds(time: Date | number): bigint {
  if (time instanceof Date) return BigInt(time.getTime()) * 1_000_000n;
  const whole = Math.floor(time);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((time - whole) * 1e9));
}

