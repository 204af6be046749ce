/**
 * `MappingCache`: whole-file read-only mappings kept alive between opens, so
 * opening or reading an unchanged file again costs no open, no mmap and no
 * munmap. Least recently used entries go first when the cache holds more than
 * `maxBytes` or `maxFiles`.
 *
 * Every object handed out holds its own claim on the mapping (see
 * `Mapping.share`), so evicting or invalidating an entry never takes memory
 * away from a `MappedFile` still in use: the range is unmapped when the last
 * holder lets go.
 *
 * @module
 */

import type { Libc } from "../ffi/libc.ts";
import { Mapping } from "../mapping.ts";
import { FileDescriptor } from "./file_descriptor.ts";

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
  /** Total bytes of cached mappings; default 256 MiB. */
  maxBytes?: number;
  /** Number of cached files; default 1024. */
  maxFiles?: number;
}

/** What identifies a version of a file: if any of these change, the entry is stale. */
export interface FileIdentity {
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ino: bigint;
  readonly dev: bigint;
}

/** One cached file. */
export interface CacheEntry {
  readonly path: string;
  readonly mapping: Mapping;
  readonly identity: FileIdentity;
}

/**
 * Counters, for tests and for tuning the limits.
 *
 * @example
 * ```ts
 * import { MemMapFS } from "@memmapfs/memmapfs";
 * const fs = new MemMapFS({ root: Deno.makeTempDirSync() });
 * fs.writeFile("a.txt", "a".repeat(65536));
 * fs.readFile("a.txt");
 * fs.readFile("a.txt");
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

/** An LRU cache of whole-file read-only mappings, keyed by absolute path. */
export class MappingCache {
  readonly #libc: Libc;
  readonly #maxBytes: number;
  readonly #maxFiles: number;
  /** Insertion order is recency order: a hit moves the entry to the end. */
  readonly #entries = new Map<string, CacheEntry>();
  #bytes = 0;
  /** Paths read once without caching; a second read maps them. */
  readonly #seen = new Set<string>();
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };

  constructor(libc: Libc, limits: CacheLimits = {}) {
    this.#libc = libc;
    this.#maxBytes = limits.maxBytes ?? 256 * 2 ** 20;
    this.#maxFiles = limits.maxFiles ?? 1024;
  }

  /** Cached bytes and files now. */
  get size(): { bytes: number; files: number } {
    return { bytes: this.#bytes, files: this.#entries.size };
  }

  /**
   * The live entry for `path` if the file is unchanged (`current` is what a
   * stat of the path says now), else `undefined` after dropping a stale one.
   */
  lookup(path: string, current: FileIdentity): CacheEntry | undefined {
    const entry = this.#entries.get(path);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    const was = entry.identity;
    if (was.size !== current.size || was.mtimeNs !== current.mtimeNs || was.ino !== current.ino || was.dev !== current.dev) {
      this.invalidate(path);
      this.stats.misses++;
      return undefined;
    }
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    this.stats.hits++;
    return entry;
  }

  /**
   * Opens and maps `path` whole, read-only, and caches it. Returns `undefined`
   * for an empty file (nothing to map) or one larger than the whole cache.
   */
  load(path: string, identity: FileIdentity): CacheEntry | undefined {
    if (identity.size === 0 || identity.size > this.#maxBytes) return undefined;
    const file = FileDescriptor.open(this.#libc, path, { write: false });
    let mapping: Mapping | undefined;
    try {
      // Map what the descriptor holds. Should the file have changed since the
      // caller's stat, the next lookup sees a different identity and reloads.
      const size = file.openedStat.size;
      if (size > 0) {
        mapping = Mapping.map(this.#libc, { fd: file.fd, fileOffset: 0, length: size, writable: false, shared: true, path });
      }
    } finally {
      // The mapping keeps the file; holding descriptors would cap the cache at
      // the process's descriptor limit.
      file.close();
    }
    if (!mapping) return undefined;
    const entry: CacheEntry = { path, mapping, identity };
    this.invalidate(path);
    this.#entries.set(path, entry);
    this.#bytes += mapping.length;
    this.#evictOverLimits(entry);
    return entry;
  }

  /**
   * Whether `path` was asked for before; remembers it now. Small files are
   * cheaper to read than to map once, so they are mapped from the second read.
   */
  warm(path: string): boolean {
    if (this.#seen.delete(path)) return true;
    if (this.#seen.size >= this.#maxFiles) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(path);
    return false;
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
    for (const path of [...this.#entries.keys()]) {
      if (path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)) this.invalidate(path);
    }
  }

  /** Drops everything. */
  clear(): void {
    for (const entry of [...this.#entries.values()]) this.#drop(entry);
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
