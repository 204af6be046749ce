/**
 * `MappingCache`: whole-file read-only mappings kept alive between opens, so
 * opening an unchanged file again costs one `stat` and no open, no mmap and
 * no munmap. Least recently used entries go first when the cache
 * holds more than `maxBytes` or `maxFiles`, and when memmapfs reaches its
 * mapping budget (see `mapping_budget.ts`) idle entries go before any new
 * mapping is refused.
 *
 * Every object handed out holds its own claim on the mapping (see
 * `Mapping.share`), so evicting or invalidating an entry never takes memory
 * away from a `MappedFile` still in use: the range is unmapped when the last
 * holder lets go, and each holder's views detach only at its own release.
 *
 * The cache holds no descriptors: a mapping keeps its file alive by itself,
 * and holding descriptors would cap the cache at the process's descriptor
 * limit.
 *
 * @module
 */

import type { Platform } from "../os/platform.ts";
import { Mapping } from "../mapping.ts";
import { addMappingReclaimer, type MappingReclaimer } from "../mapping_budget.ts";
import { FileDescriptor, type Opener } from "./file_descriptor.ts";
import type { MapOptions } from "./map_options.ts";

/**
 * Limits of a {@linkcode MappingCache}.
 *
 * @example
 * ```ts
 * import { MemMapFS, type CacheLimits } from "@memmapfs/memmapfs";
 * const cache: CacheLimits = { maxBytes: 64 << 20, maxFiles: 100 };
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync(), cache });
 * ```
 */
export interface CacheLimits {
  /** Total bytes of cached mappings; default 256 MiB. A larger file is mapped uncached. */
  maxBytes?: number;
  /** Number of cached files; default 1024. */
  maxFiles?: number;
  /**
   * How long (ms) a check that a cached file is unchanged stays good. Default
   * 0: every open of a cached file stats it first, so a file another process
   * replaced or truncated is mapped afresh. With `validateAfterMs: N`, an open
   * within N ms of the last check of that file by the same file system skips
   * the stat, so for up to N ms an open may hand out the old mapping of a file
   * another process changed behind this file system's back: replaced (it
   * reads the old bytes, harmlessly), or cut short in place (touching the
   * pages past the new end then kills the process with SIGBUS, as it would
   * for a handle opened just before the cut). Changes made through this
   * MemMapFS (writeFile, truncate, rename, remove, a read-write open) drop
   * the entry at once, whatever N is. The permission model is asked on every open.
   */
  validateAfterMs?: number;
}

/**
 * What identifies a version of a file: if any of these change, the entry is stale.
 *
 * @example
 * ```ts ignore
 * const identity: FileIdentity = { size: 5, mtimeNs: 1_700_000_000_000_000_000n, ino: 42n, dev: 2049n };
 * ```
 */
export interface FileIdentity {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
}

/**
 * One cached file.
 *
 * @example
 * ```ts ignore
 * const entry: CacheEntry | undefined = cache.lookup("/srv/index.html", statOf);
 * ```
 */
export interface CacheEntry {
  /** The key: the absolute path it was asked for by. */
  readonly path: string;
  /** The path that was opened: `path`, or where its symbolic link led. */
  readonly file: string;
  readonly mapping: Mapping;
  /** What fstat said of the mapped file, on the descriptor that was mapped. */
  readonly identity: FileIdentity;
  /** `Date.now()` when the file was last found unchanged (or mapped), and who looked. */
  checkedAt: number;
  checkedBy: unknown;
}

/**
 * How {@linkcode MappingCache.load} maps a file.
 *
 * @example
 * ```ts ignore
 * cache.load(platform(), "/srv/link.html", { file: "/srv/real.html", populate: true });
 * ```
 */
export interface LoadOptions {
  /** The path to open, when it differs from the key (a followed symbolic link). */
  readonly file?: string;
  /** Opens the file beneath a directory descriptor instead of by its path. */
  readonly opener?: Opener;
  readonly populate?: boolean;
  readonly hugePages?: boolean;
}

/**
 * Counters, for tests and for tuning the limits.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.writeFile("a.txt", "a".repeat(65536));
 * fs.open("a.txt").close(); // a miss: maps the file and keeps the mapping
 * fs.open("a.txt").close(); // a hit: one stat, no open, no mmap
 * console.log(fs.cacheStats().hits); // 1
 * ```
 */
export interface CacheStats {
  /** Lookups served by a live mapping. */
  hits: number;
  /** Lookups that found nothing, or something stale. */
  misses: number;
  /** Entries dropped to stay within the limits. */
  evictions: number;
  /** Entries dropped because the file changed or MemMapFS changed it. */
  invalidations: number;
}

/**
 * An LRU cache of whole-file read-only mappings, keyed by absolute path.
 *
 * @example
 * ```ts ignore
 * const cache = new MappingCache({ maxFiles: 100 });
 * const entry = cache.lookup(path, statOf) ?? cache.load(platform(), path);
 * const handle = entry && mappedFileSharing(platform(), entry.file, entry.mapping.share(), entry.identity);
 * ```
 */
export class MappingCache implements MappingReclaimer {
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  readonly #validateAfterMs: number;
  /** Insertion order is recency order: a hit moves the entry to the end. */
  readonly #entries = new Map<string, CacheEntry>();
  #bytes = 0;
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };

  constructor(limits: CacheLimits = {}) {
    this.#maxBytes = limits.maxBytes ?? 256 * 2 ** 20;
    this.#maxFiles = limits.maxFiles ?? 1024;
    this.#validateAfterMs = limits.validateAfterMs ?? 0;
    // At memmapfs's mapping budget, idle entries go before any open fails.
    addMappingReclaimer(this);
  }

  /** Cached bytes and files now. */
  get size(): { bytes: number; files: number } {
    return { bytes: this.#bytes, files: this.#entries.size };
  }

  /** Whether `entry` is still in the cache, so the cache holds a claim on its mapping. */
  holds(entry: CacheEntry): boolean {
    return this.#entries.get(entry.path) === entry;
  }

  /** Whether `path` has an entry, fresh or stale; costs no system call. */
  has(path: string): boolean {
    return this.#entries.has(path);
  }

  /**
   * The live entry for `path` if the file is unchanged, else `undefined`
   * after dropping a stale one. `current` stats the path (following links) and
   * returns `undefined` when it is gone or not a regular file; it is only
   * called when there is an entry, so a miss costs no system call. Within
   * `validateAfterMs` of the last check by the same `checker` (the file
   * system's root: only the one that found the file may trust it), the entry
   * is returned without calling `current`.
   */
  lookup(path: string, current: (path: string) => FileIdentity | undefined, checker?: unknown): CacheEntry | undefined {
    const entry = this.#entries.get(path);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    let fresh = false;
    if (this.#validateAfterMs > 0 && entry.checkedBy === checker) {
      // A clock stepped back counts as expired: trust never outlives the window.
      const elapsed = Date.now() - entry.checkedAt;
      fresh = elapsed >= 0 && elapsed < this.#validateAfterMs;
    }
    if (!fresh) {
      const now = current(path);
      const was = entry.identity;
      if (!now || was.size !== now.size || was.mtimeNs !== now.mtimeNs || was.ino !== now.ino || was.dev !== now.dev) {
        this.invalidate(path);
        this.stats.misses++;
        return undefined;
      }
      if (this.#validateAfterMs > 0) {
        entry.checkedAt = Date.now();
        entry.checkedBy = checker;
      }
    }
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    this.stats.hits++;
    return entry;
  }

  /**
   * Opens and maps `path` (or `options.file`) whole, read-only, through `platform`
   * (the mapping keeps it for its unmap), and caches it
   * under `path`. The identity comes from fstat of the very descriptor mapped,
   * so it always describes what is mapped. Returns `undefined`, caching
   * nothing, for an empty file (nothing to map), one larger than `maxBytes`,
   * or any file when `maxFiles` is 0.
   *
   * @throws {MmapError} When the file cannot be opened or mapped (ENOENT, EISDIR, ELOOP…).
   */
  load(platform: Platform, path: string, options: LoadOptions = {}, checker?: unknown): CacheEntry | undefined {
    if (this.#maxFiles === 0) return undefined;
    const file = options.file ?? path;
    const descriptor = FileDescriptor.open(platform, file, { write: false }, options.opener);
    let entry: CacheEntry | undefined;
    try {
      const { size, mtimeNs, ino, dev } = descriptor.openedStat;
      if (size > 0 && size <= this.#maxBytes) {
        const mapping = Mapping.map(platform, {
          // A stray write through a handle's view stays in this process (see MapOptions.strictReadonly).
          fd: descriptor.fd, fileOffset: 0, length: size, writable: false, shared: true, absorbWrites: true,
          populate: options.populate ?? false, hugePages: options.hugePages ?? false, path: file,
        });
        entry = { path, file, mapping, identity: { size, mtimeNs, ino, dev }, checkedAt: Date.now(), checkedBy: checker };
      }
    } finally {
      descriptor.close();
    }
    if (!entry) return undefined;
    this.invalidate(path);
    this.#entries.set(path, entry);
    this.#bytes += entry.mapping.length;
    this.#evictOverLimits(entry);
    return entry;
  }

  /** Drops the entry of `path`, if any. */
  invalidate(path: string): void {
    const entry = this.#entries.get(path);
    if (!entry) return;
    this.#drop(entry);
    this.stats.invalidations++;
  }

  /** Drops every entry at or below directory `prefix`. */
  invalidateTree(prefix: string): void {
    const below = prefix.endsWith("/") ? prefix : `${prefix}/`;
    for (const path of [...this.#entries.keys()]) {
      if (path === prefix || path.startsWith(below)) this.invalidate(path);
    }
  }

  /** Drops everything. Handles handed out keep their own claims and stay valid. */
  clear(): void {
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
  }

  /**
   * Evicts the least recently used entry that no handle shares, so its range
   * is unmapped; false when every entry is in use.
   */
  reclaimOne(): boolean {
    for (const entry of this.#entries.values()) {
      if (entry.mapping.shared) continue;
      this.#drop(entry);
      this.stats.evictions++;
      return true;
    }
    return false;
  }

  #evictOverLimits(keep: CacheEntry): void {
    for (const entry of this.#entries.values()) {
      if (this.#bytes <= this.#maxBytes && this.#entries.size <= this.#maxFiles) return;
      if (entry === keep) continue;
      this.#drop(entry);
      this.stats.evictions++;
    }
  }

  #drop(entry: CacheEntry): void {
    this.#entries.delete(entry.path);
    this.#bytes -= entry.mapping.length;
    // Handed-out handles hold their own claims; this lets go of the cache's.
    entry.mapping.release();
  }
}

/**
 * Whether an open with `options` can share a cached mapping: only whole-file
 * read-only ones can. `checked` needs a descriptor of its own to fstat, and
 * `lock` would pin pages other handles share.
 *
 * @example
 * ```ts ignore
 * sharesCachedMapping({});                 // true
 * sharesCachedMapping({ window: 1 << 20 }); // false
 * ```
 */
export function sharesCachedMapping(options: MapOptions): boolean {
  return (options.mode ?? "readonly") === "readonly" && options.window === undefined &&
    !options.offset && options.length === undefined && !options.lock && !options.checked && !options.strictReadonly;
}
