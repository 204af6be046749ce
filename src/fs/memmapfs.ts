/**
 * `MemMapFS`: a file system whose files open memory-mapped, with a cache that
 * keeps hot read-only mappings alive between opens, and the ordinary directory
 * and metadata operations (through node:fs) beside it.
 *
 * @module
 */

import { errnoError, MmapError } from "../errors.ts";
import { libc as activeLibc } from "../ffi/mod.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { pageSize } from "../page_size.ts";
import {
  assertByteCount, assertChoice, assertOptionalPermissions, assertOwnerId, assertPermissions, assertTime, optionsObject, toBytes,
  toPath,
} from "../validate.ts";
import { writeFileAtomically } from "./atomic_write.ts";
import { dirEntry, type DirEntry, fileInfo, type FileInfo } from "./fs_info.ts";
import { followingLinks, FsPaths, fsCall } from "./fs_paths.ts";
import { type MapOptions, resolveMapOptions } from "./map_options.ts";
import { checkMemMapFSOptions, checkMkdirOptions, type MemMapFSOptions } from "./memmapfs_options.ts";
import { MappedFile, mappedFileSharing } from "./mapped_file.ts";
import {
  type CacheEntry, type CacheLimits, type CacheStats, copyOfEntry, fileIdentity, type FileIdentity, MappingCache,
  sharesCachedMapping,
} from "./mapping_cache.ts";
import { OpenHandles } from "./open_handles.ts";
import { readRegularFile } from "./plain_read.ts";

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

/**
 * A file system whose files open memory-mapped.
 *
 * Read-only whole-file opens share one cached mapping per file (the first
 * open maps it; later ones cost a `stat`), and each handle stays valid until
 * its own `close()`, whatever happens to the cache or the file's name. Symbolic
 * links are followed, as node:fs does. To keep handles from faulting, the file
 * system refuses (EBUSY) to cut a file short under a handle it gave out.
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
  #shared: SharedState;

  /**
   * Makes a file system over the real one; nothing is opened until used.
   *
   * @throws {TypeError} For options that are not an object, a wrong option type
   *   (`null` included: only `undefined` means the default), or a `root` that is
   *   not a non-empty path or file: URL free of NUL bytes.
   * @throws {RangeError} For a negative, fractional or unsafe number, or permissions above 0o7777.
   */
  constructor(options?: MemMapFSOptions) {
    const { root, cache, defaults } = checkMemMapFSOptions(options);
    this.#defaults = defaults;
    this.#paths = new FsPaths(root ?? nodeBuiltins().process.cwd(), null);
    this.#shared = { limits: cache, cache: null, handles: new OpenHandles() };
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
    const target = this.#paths.resolve(path);
    const cache = this.#cache();
    if (cache && sharesCachedMapping(merged)) {
      const entry = cache.lookup(target, currentIdentity) ?? this.#load(cache, target, merged);
      if (entry) {
        const handle = mappedFileSharing(activeLibc(), entry.file, entry.mapping.share(), entry.identity, {
          populate: merged.populate, hugePages: merged.hugePages,
        });
        this.#shared.handles.add(handle, entry.identity);
        return handle;
      }
    } else if (merged.mode === "readwrite") {
      // A writer may change the size; drop the entry now rather than at the next stat.
      cache?.invalidate(target);
    }
    return this.#openUncached(target, merged);
  }

  /**
   * Opens with node:fs flags: `"r"` read-only; `"r+"` read-write, must exist;
   * `"w"`/`"w+"` create or truncate; `"a"`/`"a+"` create if missing, and every
   * `write()` (and `writable()` stream) goes to the end of the file, growing it.
   * A mapping cannot be write-only, so `"w"` and `"a"` can read too; `writeAt`
   * and the `set*` accessors write where they are told even in append mode.
   * `permissions` (default 0o600, less the umask) applies when the file is created.
   *
   * @throws {RangeError} For permissions that are negative, fractional or above 0o7777.
   * @throws {MmapError} ENOENT for `"r"`/`"r+"` on a missing file or a missing
   *   parent directory, EISDIR for a directory, EBUSY when `"w"`/`"w+"` would
   *   cut a file that a handle from this file system still maps.
   */
  openFile(path: string | URL, flags: OpenFlags, permissions?: number): MappedFile {
    assertChoice(flags, FLAGS, "flags");
    assertOptionalPermissions(permissions);
    if (flags === "r") return this.open(path, { mode: "readonly" });
    const target = this.#paths.resolve(path);
    const truncate = flags.startsWith("w");
    const append = flags.startsWith("a");
    if (truncate) this.#assertNotMappedPast(target, 0, "open");
    this.#shared.cache?.invalidate(target);
    const file = this.#openUncached(target, {
      ...this.#defaults,
      mode: "readwrite",
      create: flags !== "r+",
      append,
      permissions: permissions ?? this.#defaults.permissions,
    });
    try {
      if (truncate && file.size > 0) file.resize(0);
    } catch (error) {
      file.close();
      throw error;
    }
    if (append) file.seek(0, "end");
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
   * The file's bytes, in a new buffer the caller owns (its whole `ArrayBuffer`).
   *
   * Measured (bench/memmapfs_read.ts and a size sweep from 512 B to 8 MiB on
   * Deno, Bun and Node): mapping a file to copy it once is slower than a plain
   * read at every size up to 1 MiB and a tie at 8 MiB, while a copy out of a
   * mapping that is already live is as fast or faster. So a file the cache
   * holds is copied out of its mapping; any other is read plainly, and mapped
   * into the cache on its second read, when it has shown it is read again.
   */
  readFile(path: string | URL): Uint8Array {
    const target = this.#paths.resolve(path);
    const cache = this.#cache();
    if (cache) {
      const entry = cache.lookup(target, currentIdentity) ?? (cache.warm(target) ? this.#loadToRead(cache, target) : undefined);
      if (entry) return copyOfEntry(entry);
    }
    const buffer = readRegularFile(target);
    // Small Buffers share a pooled ArrayBuffer with other data: copy those out.
    if (buffer.byteOffset !== 0 || buffer.byteLength !== buffer.buffer.byteLength) return new Uint8Array(buffer);
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength);
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
    const target = this.#paths.resolve(path);
    const written = writeFileAtomically(target, bytes, { permissions: this.#defaults.permissions ?? 0o600 });
    this.#shared.cache?.invalidate(target);
    if (written !== target) this.#shared.cache?.invalidate(written);
  }

  /** Metadata of the file, following a final symbolic link. */
  stat(path: string | URL): FileInfo {
    const target = this.#paths.resolve(path);
    return fileInfo(fsCall("stat", target, () => nodeBuiltins().fs.statSync(target)));
  }

  /** Metadata of the path itself, not following a final symbolic link. */
  lstat(path: string | URL): FileInfo {
    const target = this.#paths.resolve(path);
    return fileInfo(fsCall("lstat", target, () => nodeBuiltins().fs.lstatSync(target)));
  }

  /** Whether something exists at `path` (a dangling symbolic link does not count). */
  exists(path: string | URL): boolean {
    const target = this.#paths.resolve(path);
    return nodeBuiltins().fs.existsSync(target);
  }

  /** The entries of a directory, sorted by name. */
  readDir(path: string | URL = "."): DirEntry[] {
    const target = this.#paths.resolve(path);
    const entries = fsCall("scandir", target, () => nodeBuiltins().fs.readdirSync(target, { withFileTypes: true }));
    return entries.map(dirEntry).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /**
   * Makes a directory; with `recursive`, its parents too (and an existing one is fine).
   *
   * @throws {TypeError} For options that are not an object or a wrong option type (`null` included).
   * @throws {RangeError} For permissions that are negative, fractional or above 0o7777.
   */
  mkdir(path: string | URL, options?: { recursive?: boolean; permissions?: number }): void {
    const { recursive, mode } = checkMkdirOptions(options);
    const target = this.#paths.resolve(path);
    fsCall("mkdir", target, () => nodeBuiltins().fs.mkdirSync(target, { recursive, mode }));
  }

  /** Removes a file, a symbolic link or an empty directory. Open handles of a removed file keep working. */
  remove(path: string | URL): void {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    const isDirectory = fsCall("lstat", target, () => fs.lstatSync(target)).isDirectory();
    if (isDirectory) fsCall("rmdir", target, () => fs.rmdirSync(target));
    else fsCall("unlink", target, () => fs.unlinkSync(target));
    this.#shared.cache?.invalidate(target);
  }

  /** Removes a file or a directory with everything in it; nothing there is fine. */
  removeAll(path: string | URL): void {
    const target = this.#paths.resolve(path);
    fsCall("rm", target, () => nodeBuiltins().fs.rmSync(target, { recursive: true, force: true }));
    this.#shared.cache?.invalidateTree(target);
  }

  /**
   * Renames a file or directory, replacing `to`. Open handles keep working.
   *
   * @throws {TypeError} For a bad `from` or `to` (both checked before either is resolved).
   */
  rename(from: string | URL, to: string | URL): void {
    toPath(from, "from");
    toPath(to, "to");
    const source = this.#paths.resolve(from, "from");
    const target = this.#paths.resolve(to, "to");
    fsCall("rename", source, () => nodeBuiltins().fs.renameSync(source, target));
    this.#shared.cache?.invalidateTree(source);
    this.#shared.cache?.invalidateTree(target);
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
    const target = this.#paths.resolve(path);
    this.#assertNotMappedPast(target, size, "truncate");
    fsCall("truncate", target, () => nodeBuiltins().fs.truncateSync(target, size));
    this.#shared.cache?.invalidate(target);
  }

  /**
   * Changes permission bits.
   *
   * @throws {RangeError} For a mode that is negative, fractional or above 0o7777.
   */
  chmod(path: string | URL, mode: number): void {
    assertPermissions(mode, "mode");
    const target = this.#paths.resolve(path);
    fsCall("chmod", target, () => nodeBuiltins().fs.chmodSync(target, mode));
  }

  /**
   * Changes owner and group; -1 leaves that one unchanged, as in POSIX chown.
   *
   * @throws {RangeError} For an id that is fractional, below -1 or above 2^32 - 1.
   */
  chown(path: string | URL, uid: number, gid: number): void {
    assertOwnerId(uid, "uid");
    assertOwnerId(gid, "gid");
    const target = this.#paths.resolve(path);
    fsCall("chown", target, () => nodeBuiltins().fs.chownSync(target, uid, gid));
  }

  /** Sets access and modification times (a `Date`, or seconds since the epoch). */
  utimes(path: string | URL, atime: Date | number, mtime: Date | number): void {
    assertTime(atime, "atime");
    assertTime(mtime, "mtime");
    const target = this.#paths.resolve(path);
    fsCall("utime", target, () => nodeBuiltins().fs.utimesSync(target, atime, mtime));
  }

  /** Changes the directory relative paths resolve against (for this file system only). */
  chdir(path: string | URL): void {
    this.#paths.chdir(path);
  }

  /** The directory relative paths resolve against. */
  cwd(): string {
    return this.#paths.cwd;
  }

  /**
   * The system's directory for temporary files. A file system from `sub()`
   * refuses it like any path outside its directory, unless it lies inside.
   */
  tempDir(): string {
    return nodeBuiltins().os.tmpdir();
  }

  /**
   * A file system confined below `dir`: every path — relative, absolute, with
   * `..` or through a symbolic link — must stay inside it, or the method
   * throws MmapError EACCES before touching anything. Shares the cache.
   */
  sub(dir: string | URL): MemMapFS {
    const target = this.#paths.resolve(dir);
    if (!this.stat(target).isDirectory) throw new TypeError(`Sub needs a directory, and "${target}" is not one`);
    const child = new MemMapFS({ ...this.#defaults, root: target, cache: false });
    child.#paths = new FsPaths(target, target);
    child.#shared = this.#shared;
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

  /** Lets go of every cached mapping. Files handed out stay open until closed. */
  close(): void {
    this.#shared.cache?.clear();
  }

  /** Same as {@linkcode MemMapFS.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #cache(): MappingCache | null {
    const shared = this.#shared;
    if (shared.limits === false) return null;
    shared.cache ??= new MappingCache(shared.limits);
    return shared.cache;
  }

  /** Maps `target` into the cache; `undefined` for an empty or too large file. */
  #load(cache: MappingCache, target: string, options: MapOptions): CacheEntry | undefined {
    const { populate, hugePages } = options;
    return followingLinks(target, (file) => cache.load(activeLibc(), target, { file, populate, hugePages }));
  }

  /** Like `#load`, but a device or other file that cannot be mapped is left to a plain read. */
  #loadToRead(cache: MappingCache, target: string): CacheEntry | undefined {
    try {
      return this.#load(cache, target, {});
    } catch (error) {
      if (error instanceof MmapError && error.code === "ENODEV") return undefined;
      throw error;
    }
  }

  #openUncached(target: string, options: MapOptions): MappedFile {
    const file = followingLinks(target, (path) => MappedFile.open(path, options));
    // An untracked handle would let truncate() cut the file under it (SIGBUS):
    // without its identity the open fails.
    const libc = activeLibc();
    const stat = libc.stat(file.path!);
    if (!stat) {
      const error = errnoError(libc.errno, libc.constants.errnoNames, "stat", file.path);
      try {
        file.close();
      } catch { /* the stat failure is the one to report */ }
      throw error;
    }
    this.#shared.handles.add(file, stat, options.offset ?? 0);
    return file;
  }

  /** Throws EBUSY when a handle this file system gave out maps `target` past `size`. */
  #assertNotMappedPast(target: string, size: number, syscall: string): void {
    const stat = nodeBuiltins().fs.statSync(target, { bigint: true, throwIfNoEntry: false });
    // A missing file or a directory: the operation itself reports it.
    if (stat?.isFile()) this.#shared.handles.assertNoneReachingPast(stat, size, target, syscall);
  }
}

/**
 * The identity of `target` now, through the libc in use (tests swap it to count
 * calls). A hit is a read too: the permission model is asked again, so a grant
 * revoked since the file was cached (Deno.permissions.revokeSync) is honoured.
 */
function currentIdentity(target: string): FileIdentity | undefined {
  const libc = activeLibc();
  return fileIdentity(libc, libc.checkPathAccess(target, "read"));
}
