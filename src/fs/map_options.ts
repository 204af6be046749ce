/**
 * The options of `MappedFile.open`, their defaults and their checks.
 *
 * @module
 */

import type { AdviceName } from "../os/platform.ts";
import {
  assertChoice,
  assertOptionalBoolean,
  assertOptionalByteCount,
  assertPermissions,
  optionsObject,
} from "../validate.ts";

/**
 * How a file is mapped: read-only, shared read-write, or private copy-on-write.
 *
 * @example
 * ```ts
 * import { MappedFile, type Mode } from "@memmapfs/memmapfs";
 * const mode: Mode = "copyonwrite"; // changes stay in this process
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "original");
 * using file = MappedFile.open(path, { mode });
 * file.writeAt("changed!", 0);
 * console.log(Deno.readTextFileSync(path)); // "original"
 * ```
 */
export type Mode = "readonly" | "readwrite" | "copyonwrite";

/**
 * When written bytes are flushed to disk without an explicit `sync()`:
 * - `"immediate"`: after every write through the object's methods;
 * - `"lazy"` (default): on `close()`, before a window slides and after a resize;
 * - `"periodic"`: every `syncInterval` ms when something changed, and on `close()`;
 * - `"never"`: only when `sync()` is called (the kernel still writes back in time).
 *
 * @example
 * ```ts
 * import { MappedFile, type SyncMode } from "@memmapfs/memmapfs";
 * const sync: SyncMode = "periodic";
 * using file = MappedFile.open(Deno.makeTempFileSync(), { mode: "readwrite", sync, syncInterval: 500 });
 * file.write("flushed within half a second");
 * ```
 */
export type SyncMode = "immediate" | "lazy" | "periodic" | "never";

/**
 * `madvise` advice, by its Linux name without the `MADV_` prefix.
 *
 * @example
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 * using memory = MappedFile.anonymous(1 << 16);
 * const advice = "sequential";
 * if (MappedFile.supportsAdvice(advice)) memory.advise(advice);
 * ```
 */
export type Advice = AdviceName;

/**
 * Options of {@linkcode MappedFile.open}.
 *
 * @example
 * ```ts
 * import { MappedFile, type MapOptions } from "@memmapfs/memmapfs";
 * const options: MapOptions = { mode: "readwrite", create: true, size: 4096, sync: "immediate" };
 * using file = MappedFile.open(Deno.makeTempDirSync() + "/data.bin", options);
 * console.log(file.size); // 4096
 * ```
 */
export interface MapOptions {
  /** How to map; default `"readonly"`. */
  mode?: Mode;
  /** Byte offset in the file where the mapped range starts; any value. Default 0. */
  offset?: number;
  /** Bytes to map; default to the end of the file. */
  length?: number;
  /**
   * Map this many bytes at a time (rounded up to pages); the window slides
   * on access. Once `subarray()` or `bytes` handed out a view of the window,
   * only they slide it (detaching the old views): copying accesses outside it
   * go through an internal second window instead, so they never detach a
   * view you hold. A `subarray()` longer than the window maps that whole
   * range at once. Not with `"copyonwrite"`, whose changes a slide would drop.
   */
  window?: number;
  /** Prefault the pages (MAP_POPULATE, else MADV_WILLNEED). Default false. */
  populate?: boolean;
  /** Ask for huge pages; falls back silently where unavailable. Default false. */
  hugePages?: boolean;
  /** mlock the mapping after mapping it. Default false. */
  lock?: boolean;
  /** When to flush writes; default `"lazy"`. */
  sync?: SyncMode;
  /** Milliseconds between flushes for `"periodic"`; default 1000. */
  syncInterval?: number;
  /** Re-check the file size before each copying access; throws FileTruncatedError. Default false. */
  checked?: boolean;
  /** `"readwrite"` only: create the file when missing. Default false. */
  create?: boolean;
  /** With `create`: fail with EEXIST when the file exists (O_EXCL). Default false. */
  exclusive?: boolean;
  /** `"readwrite"` only: every `write()` goes to the end of the file, like O_APPEND. Default false. */
  append?: boolean;
  /** `"readwrite"` only: make the file at least this many bytes. */
  size?: number;
  /** File mode when created; default 0o600. */
  permissions?: number;
  /**
   * For `"readonly"` mappings (other modes ignore it, so a MemMapFS default
   * can hold it): map the pages read-only (`PROT_READ`), as the kernel
   * gives them, instead of private copy-on-write. A write through `bytes` or a
   * `subarray` then kills the process with SIGSEGV; in exchange nothing is
   * ever copied and, under strict overcommit (`vm.overcommit_memory=2`), the
   * mapping is not charged against the commit limit. Default false.
   */
  strictReadonly?: boolean;
}

/** Every key of {@linkcode MapOptions}: any other key is a misspelling. */
export const MAP_OPTION_KEYS: readonly (keyof MapOptions)[] = [
  "mode", "offset", "length", "window", "populate", "hugePages", "lock", "sync", "syncInterval",
  "checked", "create", "exclusive", "append", "size", "permissions", "strictReadonly",
];

/** Every option with its default filled in. */
export interface ResolvedMapOptions {
  readonly mode: Mode;
  readonly offset: number;
  readonly length: number | undefined;
  readonly window: number;
  readonly populate: boolean;
  readonly hugePages: boolean;
  readonly lock: boolean;
  readonly sync: SyncMode;
  readonly syncInterval: number;
  readonly checked: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly append: boolean;
  readonly size: number | undefined;
  readonly permissions: number;
  readonly strictReadonly: boolean;
}

const MODES: readonly Mode[] = ["readonly", "readwrite", "copyonwrite"];
const SYNC_MODES: readonly SyncMode[] = ["immediate", "lazy", "periodic", "never"];

/**
 * Checks `options` and fills in defaults. Only `undefined` means "the
 * default": `null` is a mistake like any other wrong type.
 *
 * @throws {TypeError} For a wrong type (null included), options that are not an
 *   object, an unknown key (a misspelt option), or an option that needs another mode.
 * @throws {RangeError} For a negative, fractional or unsafe number, or permissions above 0o7777.
 */
export function resolveMapOptions(given: MapOptions | undefined, pageSize: number): ResolvedMapOptions {
  const options = optionsObject(given, "options", MAP_OPTION_KEYS);
  const mode = options.mode === undefined ? "readonly" : options.mode;
  assertChoice(mode, MODES, "mode");
  const sync = options.sync === undefined ? "lazy" : options.sync;
  assertChoice(sync, SYNC_MODES, "sync");
  assertOptionalByteCount(options.offset, "offset");
  assertOptionalByteCount(options.length, "length");
  assertOptionalByteCount(options.window, "window");
  assertOptionalByteCount(options.size, "size");
  assertOptionalByteCount(options.syncInterval, "syncInterval");
  for (const flag of ["populate", "hugePages", "lock", "checked", "create", "exclusive", "append", "strictReadonly"] as const) {
    assertOptionalBoolean(options[flag], flag);
  }
  const permissions = options.permissions === undefined ? 0o600 : options.permissions;
  assertPermissions(permissions);
  if (options.window === 0) throw new RangeError("Window must be greater than 0");
  if (options.syncInterval === 0) throw new RangeError("SyncInterval must be greater than 0");
  if (mode !== "readwrite" && (options.create || options.append || options.size !== undefined)) {
    throw new TypeError('Options create, append and size need mode "readwrite"');
  }
  if (options.exclusive && !options.create) throw new TypeError("Option exclusive needs create");
  if (mode === "copyonwrite" && options.window !== undefined) {
    // A slide unmaps the window, and with it the only copy of private changes.
    throw new TypeError('Option window cannot be used with mode "copyonwrite": private changes would be lost when the window slides');
  }
  const window = options.window === undefined ? 0 : Math.ceil(options.window / pageSize) * pageSize;
  return {
    mode,
    offset: options.offset ?? 0,
    length: options.length,
    window,
    populate: options.populate ?? false,
    hugePages: options.hugePages ?? false,
    lock: options.lock ?? false,
    sync,
    syncInterval: options.syncInterval ?? 1000,
    checked: options.checked ?? false,
    create: options.create ?? false,
    exclusive: options.exclusive ?? false,
    append: options.append ?? false,
    size: options.size,
    permissions,
    strictReadonly: options.strictReadonly ?? false,
  };
}
