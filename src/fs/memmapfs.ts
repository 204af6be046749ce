/**
 * `MemMapFS`: a file system whose files open memory-mapped, with a cache that
 * keeps hot read-only mappings alive between opens, and the ordinary directory
 * and metadata operations (through node:fs) beside it.
 *
 * @module
 */

import { libc as activeLibc } from "../ffi/mod.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { pageSize } from "../page_size.ts";
import { assertByteCount, assertChoice, assertOptionalBoolean, toBytes } from "../validate.ts";
import { FsPaths, fsCall } from "./fs_paths.ts";
import { type MapOptions, resolveMapOptions } from "./map_options.ts";
import { MappedFile, mappedFileSharing } from "./mapped_file.ts";
import { type CacheEntry, type CacheLimits, type CacheStats, type FileIdentity, MappingCache } from "./mapping_cache.ts";

export type { CacheLimits, CacheStats } from "./mapping_cache.ts";

/**
 * Options of {@linkcode MemMapFS}: defaults for every file it opens, plus `root` and `cache`.
 *
 * @example
 * ```ts
 * import { MemMapFS, type MemMapFSOptions } from "@memmapfs/memmapfs";
 * const options: MemMapFSOptions = { root: Deno.makeTempDirSync(), window: 1 << 20, cache: false };
 * const fs = new MemMapFS(options);
 * ```
 */
export interface MemMapFSOptions extends MapOptions {
  /** Directory relative paths resolve against; default the process's working directory. */
  root?: string;
  /** Limits of the mapping cache, or `false` to map every open afresh. */
  cache?: CacheLimits | false;
}

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

/**
 * A directory entry from {@linkcode MemMapFS.readDir}.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.mkdir("logs");
 * for (const entry of fs.readDir(".")) console.log(entry.name, entry.isDirectory); // logs true
 * ```
 */
export interface DirEntry {
  /** The entry's name, without its directory. */
  readonly name: string;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (not followed). */
  readonly isSymlink: boolean;
}

/**
 * What {@linkcode MemMapFS.stat} reports.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.writeFile("a.txt", "hello");
 * console.log(fs.stat("a.txt").size); // 5
 * ```
 */
export interface FileInfo {
  /** Bytes in the file. */
  readonly size: number;
  /** Permission and type bits, as in `st_mode`. */
  readonly mode: number;
  /** Owner's user id. */
  readonly uid: number;
  /** Owner's group id. */
  readonly gid: number;
  /** Inode number. */
  readonly ino: number;
  /** Device number. */
  readonly dev: number;
  /** Last access. */
  readonly atime: Date;
  /** Last modification. */
  readonly mtime: Date;
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (only from `lstat`). */
  readonly isSymlink: boolean;
}

const FLAGS: readonly OpenFlags[] = ["r", "r+", "w", "w+", "a", "a+"];
/** Files up to this size are read with one read call when not cached: cheaper than mapping them. */
const SMALL_FILE = 16 * 1024;

/**
 * A file system whose files open memory-mapped.
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
  readonly #cacheLimits: CacheLimits | false;
  #paths: FsPaths;
  #cache: MappingCache | null = null;

  /**
   * Makes a file system over the real one; nothing is opened until used.
   *
   * @throws {TypeError} For a wrong option type.
   * @throws {RangeError} For a negative, fractional or unsafe number.
   */
  constructor(options: MemMapFSOptions = {}) {
    if (typeof options !== "object" || options === null) throw new TypeError("Options must be an object");
    const { root, cache, ...defaults } = options;
    resolveMapOptions(defaults, pageSize);
    if (cache !== undefined && cache !== false) {
      if (typeof cache !== "object" || cache === null) throw new TypeError("Cache must be an object or false");
      if (cache.maxBytes !== undefined) assertByteCount(cache.maxBytes, "cache.maxBytes");
      if (cache.maxFiles !== undefined) assertByteCount(cache.maxFiles, "cache.maxFiles");
    }
    this.#defaults = defaults;
    this.#cacheLimits = cache ?? {};
    this.#paths = new FsPaths(root ?? nodeBuiltins().process.cwd(), null);
  }

  /** Opens a file mapped, with this file system's options overridden by `options` (read-only by default). */
  open(path: string | URL, options: MapOptions = {}): MappedFile {
    const target = this.#paths.resolve(path);
    const merged = { ...this.#defaults, ...options };
    if (isCacheable(merged)) {
      const entry = this.#cachedEntry(target);
      if (entry) {
        return mappedFileSharing(activeLibc(), target, entry.mapping.share(), {
          populate: merged.populate, hugePages: merged.hugePages,
        });
      }
    } else if ((merged.mode ?? "readonly") !== "readonly") {
      this.#cache?.invalidate(target);
    }
    return MappedFile.open(target, merged);
  }

  /**
   * Opens with node:fs flags: `"r"` read-only; `"r+"` read-write, must exist;
   * `"w"`/`"w+"` create or truncate; `"a"`/`"a+"` create, and every `write()`
   * goes to the end. A mapping cannot be write-only, so `"w"` and `"a"` can read too.
   */
  openFile(path: string | URL, flags: OpenFlags, permissions?: number): MappedFile {
    assertChoice(flags, FLAGS, "flags");
    if (permissions !== undefined) assertByteCount(permissions, "permissions");
    if (flags === "r") return this.open(path, { mode: "readonly" });
    const target = this.#paths.resolve(path);
    this.#cache?.invalidate(target);
    const create = flags !== "r+";
    const file = MappedFile.open(target, {
      ...this.#defaults,
      mode: "readwrite",
      create,
      append: flags.startsWith("a"),
      permissions: permissions ?? this.#defaults.permissions,
    });
    if (flags.startsWith("w") && file.size > 0) file.resize(0);
    if (flags.startsWith("a")) file.seek(0, "end");
    return file;
  }

  /** Creates (or truncates) a file, read-write, optionally `size` bytes of zeros. */
  create(path: string | URL, size = 0): MappedFile {
    assertByteCount(size, "size");
    const file = this.openFile(path, "w+");
    if (size > 0) file.resize(size);
    return file;
  }

  /** The file's bytes, in a new buffer the caller owns. */
  readFile(path: string | URL): Uint8Array {
    const target = this.#paths.resolve(path);
    const entry = this.#cacheLimits === false ? undefined : this.#cachedEntry(target);
    if (!entry) {
      const { fs } = nodeBuiltins();
      const buffer = fsCall("open", target, () => fs.readFileSync(target));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    }
    const { mapping } = entry;
    const { chunk } = mapping.chunkAt(0);
    // slice() copies without zero-filling first, which is measurably faster.
    if (chunk.length === mapping.length) return chunk.slice();
    const copy = new Uint8Array(mapping.length);
    for (let done = 0; done < copy.length;) {
      const { chunk, chunkStart } = mapping.chunkAt(done);
      const part = chunk.subarray(done - chunkStart, Math.min(chunk.length, copy.length - chunkStart));
      copy.set(part, done);
      done += part.length;
    }
    return copy;
  }

  /**
   * Replaces the file's contents atomically: a temporary file in the same
   * directory is written and fsynced, renamed over the target, and the
   * directory is fsynced. Readers see the old file or the new, never half.
   */
  writeFile(path: string | URL, data: Uint8Array | string): void {
    const target = this.#paths.resolve(path);
    const bytes = toBytes(data, "data");
    const { fs, path: paths } = nodeBuiltins();
    const directory = paths.dirname(target);
    const temporary = paths.join(directory, `.${paths.basename(target)}.${crypto.randomUUID()}.tmp`);
    let mode = this.#defaults.permissions ?? 0o600;
    try {
      mode = fs.statSync(target).mode & 0o7777;
    } catch { /* a new file gets the default mode */ }
    const fd = fsCall("open", temporary, () => fs.openSync(temporary, "wx", mode));
    try {
      fs.fchmodSync(fd, mode);
      for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      fsCall("fsync", temporary, () => fs.fsyncSync(fd));
      fs.closeSync(fd);
      fsCall("rename", target, () => fs.renameSync(temporary, target));
    } catch (error) {
      try {
        fs.closeSync(fd);
      } catch { /* closed already */ }
      fs.rmSync(temporary, { force: true });
      throw error;
    }
    this.#cache?.invalidate(target);
    syncDirectory(directory);
  }

  /** Metadata of the file, following a final symbolic link. */
  stat(path: string | URL): FileInfo {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    return fileInfo(fsCall("stat", target, () => fs.statSync(target)));
  }

  /** Metadata of the path itself, not following a final symbolic link. */
  lstat(path: string | URL): FileInfo {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    return fileInfo(fsCall("lstat", target, () => fs.lstatSync(target)));
  }

  /** Whether something exists at `path`. */
  exists(path: string | URL): boolean {
    const target = this.#paths.resolve(path);
    return nodeBuiltins().fs.existsSync(target);
  }

  /** The entries of a directory, sorted by name. */
  readDir(path: string | URL = "."): DirEntry[] {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    const entries = fsCall("scandir", target, () => fs.readdirSync(target, { withFileTypes: true }));
    return entries.map((entry) => ({
      name: entry.name,
      isFile: entry.isFile(),
      isDirectory: entry.isDirectory(),
      isSymlink: entry.isSymbolicLink(),
    })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /** Makes a directory; with `recursive`, its parents too (and an existing one is fine). */
  mkdir(path: string | URL, options: { recursive?: boolean; permissions?: number } = {}): void {
    assertOptionalBoolean(options.recursive, "recursive");
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    fsCall("mkdir", target, () => fs.mkdirSync(target, { recursive: options.recursive, mode: options.permissions ?? 0o777 }));
  }

  /** Removes a file or an empty directory. Open mappings of a removed file keep working. */
  remove(path: string | URL): void {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    const isDirectory = fsCall("lstat", target, () => fs.lstatSync(target)).isDirectory();
    if (isDirectory) fsCall("rmdir", target, () => fs.rmdirSync(target));
    else fsCall("unlink", target, () => fs.unlinkSync(target));
    this.#cache?.invalidate(target);
  }

  /** Removes a file or a directory with everything in it; nothing there is fine. */
  removeAll(path: string | URL): void {
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    fsCall("rm", target, () => fs.rmSync(target, { recursive: true, force: true }));
    this.#cache?.invalidateTree(target);
  }

  /** Renames a file or directory. Open mappings keep working. */
  rename(from: string | URL, to: string | URL): void {
    const source = this.#paths.resolve(from);
    const target = this.#paths.resolve(to);
    const { fs } = nodeBuiltins();
    fsCall("rename", source, () => fs.renameSync(source, target));
    this.#cache?.invalidateTree(source);
    this.#cache?.invalidateTree(target);
  }

  /** Sets the file's size, cutting or zero-extending it. */
  truncate(path: string | URL, size = 0): void {
    assertByteCount(size, "size");
    const target = this.#paths.resolve(path);
    const { fs } = nodeBuiltins();
    fsCall("truncate", target, () => fs.truncateSync(target, size));
    this.#cache?.invalidate(target);
  }

  /** Changes permission bits. */
  chmod(path: string | URL, mode: number): void {
    assertByteCount(mode, "mode");
    const target = this.#paths.resolve(path);
    fsCall("chmod", target, () => nodeBuiltins().fs.chmodSync(target, mode));
  }

  /** Changes owner and group. */
  chown(path: string | URL, uid: number, gid: number): void {
    assertByteCount(uid, "uid");
    assertByteCount(gid, "gid");
    const target = this.#paths.resolve(path);
    fsCall("chown", target, () => nodeBuiltins().fs.chownSync(target, uid, gid));
  }

  /** Sets access and modification times. */
  utimes(path: string | URL, atime: Date | number, mtime: Date | number): void {
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

  /** The system's directory for temporary files. */
  tempDir(): string {
    return nodeBuiltins().os.tmpdir();
  }

  /**
   * A file system confined below `dir`: every path — relative, absolute, with
   * `..` or through a symbolic link — must stay inside it. Shares the cache.
   */
  sub(dir: string | URL): MemMapFS {
    const target = this.#paths.resolve(dir);
    if (!this.stat(target).isDirectory) throw new TypeError(`Sub needs a directory, and "${target}" is not one`);
    const child = new MemMapFS({ ...this.#defaults, root: target, cache: this.#cacheLimits });
    child.#paths = new FsPaths(target, target);
    child.#cache = this.#cacheInstance();
    return child;
  }

  /** Hits, misses, evictions and invalidations of the mapping cache, and what it holds. */
  cacheStats(): CacheStats & { bytes: number; files: number } {
    const cache = this.#cache;
    return {
      ...(cache?.stats ?? { hits: 0, misses: 0, evictions: 0, invalidations: 0 }),
      ...(cache?.size ?? { bytes: 0, files: 0 }),
    };
  }

  /** Lets go of every cached mapping. Files handed out stay open until closed. */
  close(): void {
    this.#cache?.clear();
  }

  /** Same as {@linkcode MemMapFS.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #cacheInstance(): MappingCache | null {
    if (this.#cacheLimits === false) return null;
    this.#cache ??= new MappingCache(activeLibc(), this.#cacheLimits);
    return this.#cache;
  }

  /** The cache entry of a regular file, loading it on a miss; `undefined` when not cacheable. */
  #cachedEntry(target: string): CacheEntry | undefined {
    const cache = this.#cacheInstance();
    if (!cache) return undefined;
    const identity = identityOf(target);
    if (!identity) return undefined;
    const hit = cache.lookup(target, identity);
    if (hit) return hit;
    return identity.size <= SMALL_FILE && !cache.warm(target) ? undefined : cache.load(target, identity);
  }
}

/**
 * Only whole-file read-only opens can share a cached mapping; `checked` needs
 * a descriptor of its own to fstat, and `lock` would pin the shared pages.
 */
function isCacheable(options: MapOptions): boolean {
  return (options.mode ?? "readonly") === "readonly" && options.window === undefined &&
    !options.offset && options.length === undefined && !options.lock && !options.checked;
}

/**
 * size, mtime, inode and device of a regular file, or `undefined` for anything
 * else. Through libc: on a cache hit this stat is the only system call, and
 * node:fs's costs several times more.
 */
function identityOf(target: string): FileIdentity | undefined {
  const libc = activeLibc();
  const stat = libc.stat(target);
  if (!stat || (stat.mode & libc.constants.S_IFMT) !== libc.constants.S_IFREG) return undefined;
  return { size: stat.size, mtimeNs: stat.mtimeNs, ino: stat.ino, dev: stat.dev };
}

function fileInfo(stat: import("node:fs").Stats): FileInfo {
  return {
    size: stat.size, mode: stat.mode, uid: stat.uid, gid: stat.gid, ino: stat.ino, dev: stat.dev,
    atime: stat.atime, mtime: stat.mtime, isFile: stat.isFile(), isDirectory: stat.isDirectory(),
    isSymlink: stat.isSymbolicLink(),
  };
}

/** fsync of a directory, so a rename or creation in it survives a crash. */
function syncDirectory(directory: string): void {
  const { fs } = nodeBuiltins();
  const fd = fsCall("open", directory, () => fs.openSync(directory, "r"));
  try {
    fsCall("fsync", directory, () => fs.fsyncSync(fd));
  } finally {
    fs.closeSync(fd);
  }
}
