/**
 * Crossing to workers: the plain descriptors `share()` returns, the checks
 * `fromShared()` makes on them, and the guard that makes posting a mapped
 * object itself a clear error.
 *
 * Why descriptors and not the objects: a mapping is an address in this
 * thread's view of memory with a lifetime this thread controls. A worker that
 * borrowed the address would crash when the owner unmaps it. So a worker maps
 * the same file or object again, on its own descriptor, with its own
 * lifetime: closing either side never breaks the other. The file is
 * identified by device and inode, and `fromShared()` checks them on the
 * descriptor it opened (never by a second look at the path), so a file
 * replaced or swapped in between is refused instead of silently mapped.
 *
 * Shared-memory objects may be unlinked right after creation (anonymous shared
 * memory, like a memfd). Worker threads share their process's descriptor
 * table, so within the process the object is reopened through the owner's
 * descriptor number (`/proc/self/fd/N`, `/dev/fd/N`) and only accepted when
 * device and inode match: a number reused for another file fails that check.
 *
 * @module
 */

import { MmapError } from "./errors.ts";
import type { FileStat } from "./os/platform.ts";
import { FileDescriptor } from "./fs/file_descriptor.ts";
import type { Mode } from "./fs/map_options.ts";
import { nodeBuiltins } from "./node_builtins.ts";
import type { Platform } from "./os/platform.ts";
import { assertByteCount } from "./validate.ts";

/**
 * What a worker needs to map the same range of the same file:
 * `MappedFile.share()` makes it, `MappedFile.fromShared()` maps it. A plain
 * object of strings, numbers and booleans: it survives `postMessage`,
 * `structuredClone` and `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { MappedFile } from "@memmapfs/memmapfs";
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "shared with a worker");
 * using file = MappedFile.open(path);
 * const descriptor = file.share();          // post this to a worker
 * using again = MappedFile.fromShared(descriptor);
 * console.log(again.size); // 20
 * ```
 */
export interface SharedMappedFile {
  /** What this describes; `fromShared` refuses any other kind. */
  readonly kind: "memmapfs.MappedFile";
  /** The file's path when shared. */
  readonly path: string;
  /** Device and inode of the file, as decimal strings: `fromShared` refuses any other file. */
  readonly dev: string;
  /** Inode of the file, as a decimal string. */
  readonly ino: string;
  /** File offset of the first byte of the range. */
  readonly offset: number;
  /** Bytes in the range. */
  readonly length: number;
  /** How the worker maps it: the sharer's mode. */
  readonly mode: Mode;
  /** Window size in bytes, or 0 for the whole range. */
  readonly window: number;
  /** Whether copying accesses re-check the file size, as on the sharing side. */
  readonly checked: boolean;
}

/**
 * What a worker needs to map the same shared-memory region:
 * `SharedMemory.share()` makes it, `SharedMemory.fromShared()` maps it.
 *
 * @example
 * ```ts
 * import { SharedMemory } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 4096 });
 * region.unlink();                          // anonymous from now on
 * using again = SharedMemory.fromShared(region.share());
 * again.bytes[0] = 7;
 * console.log(region.bytes[0]); // 7
 * ```
 */
export interface SharedRegion {
  /** What this describes; `fromShared` refuses any other kind. */
  readonly kind: "memmapfs.SharedMemory";
  /** The shared-memory object's name, or `null` for a file. */
  readonly name: string | null;
  /** The backing file, or `null` for a shared-memory object. */
  readonly path: string | null;
  /** Bytes in the region. */
  readonly size: number;
  /** Whether the sharer opened it read-only; the worker does too. */
  readonly readonly: boolean;
  /** Device of the object, as a decimal string: `fromShared` refuses any other object. */
  readonly dev: string;
  /** Inode of the object, as a decimal string. */
  readonly ino: string;
  /** The sharing process and its descriptor: how a worker reaches an unlinked object. */
  readonly pid: number;
  /** The sharer's descriptor number of the object. */
  readonly fd: number;
}

/**
 * Makes structured cloning of `target` (postMessage, structuredClone) throw a
 * TypeError that says what to post instead. Cloning reads every own
 * enumerable property, so a throwing getter stops it on Deno, Bun and Node
 * alike, where a class instance would otherwise arrive as a plain `{}`.
 *
 * @example
 * ```ts ignore
 * forbidCloning(this, "MappedFile");
 * ```
 */
export function forbidCloning(target: object, className: string): void {
  Object.defineProperty(target, "notCloneable", cloningRefusals.get(className) ?? refusalFor(className));
}

/**
 * One property descriptor per class, made once: the same getter on every
 * instance lets the engine share one object shape among them (a new getter per
 * instance made each object's shape its own, a cost on every open).
 */
const cloningRefusals = new Map<string, PropertyDescriptor>();

function refusalFor(className: string): PropertyDescriptor {
  const descriptor: PropertyDescriptor = {
    enumerable: true,
    get(): never {
      throw new TypeError(
        `A ${className} cannot be posted to a worker or cloned: post its share() descriptor and ` +
          `call ${className}.fromShared(descriptor) in the worker`,
      );
    },
  };
  cloningRefusals.set(className, descriptor);
  return descriptor;
}

/**
 * The fields of `descriptor` after checking each, before any system call.
 *
 * @example
 * ```ts ignore
 * const shared = checkDescriptor<SharedRegion>(value, "memmapfs.SharedMemory", { size: "number" });
 * ```
 *
 * @throws {TypeError} For anything that is not a descriptor of `kind`, or a field of the wrong type.
 * @throws {RangeError} For a number field that is not a byte count.
 */
export function checkDescriptor<T extends SharedMappedFile | SharedRegion>(
  descriptor: unknown,
  kind: T["kind"],
  fields: Record<string, "string" | "number" | "boolean" | "string|null">,
): T {
  if (typeof descriptor !== "object" || descriptor === null || (descriptor as { kind?: unknown }).kind !== kind) {
    throw new TypeError(`Descriptor must be what share() returned (kind "${kind}"), got ${describe(descriptor)}`);
  }
  for (const [name, type] of Object.entries(fields)) {
    const value = (descriptor as Record<string, unknown>)[name];
    if (type === "number") {
      assertByteCount(value, `descriptor.${name}`);
      continue;
    }
    const ok = type === "string|null" ? value === null || typeof value === "string" : typeof value === type;
    if (!ok) throw new TypeError(`Descriptor.${name} must be a ${type.replace("|", " or ")}, got ${describe(value)}`);
  }
  return descriptor as T;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === "object" ? "an object of another kind" : `${typeof value} ${String(value)}`;
}

/**
 * Refuses a file other than the one shared, or one now too short to map
 * (pages past its end would be SIGBUS).
 *
 * @example
 * ```ts ignore
 * assertSameFile(file.openedStat, descriptor, descriptor.offset + descriptor.length, descriptor.path);
 * ```
 *
 * @throws {MmapError} ESTALE for another file, ETRUNCATED for a shorter one.
 */
export function assertSameFile(stat: FileStat, descriptor: { dev: string; ino: string }, end: number, label: string): void {
  if (String(stat.dev) !== descriptor.dev || String(stat.ino) !== descriptor.ino) {
    throw new MmapError(
      `ESTALE: "${label}" is no longer the file that was shared (it was replaced or removed since share())`,
      { code: "ESTALE", errno: 0, syscall: "fstat", path: label },
    );
  }
  if (stat.size < end) {
    throw new MmapError(
      `ETRUNCATED: "${label}" is now ${stat.size} bytes, shorter than the ${end} that were shared`,
      { code: "ETRUNCATED", errno: 0, syscall: "fstat", path: label },
    );
  }
}

/**
 * Opens the object the sharing thread holds through its descriptor number,
 * when `descriptor` comes from this process; `null` when that is not
 * possible (another process, the owner closed it, no such directory).
 * The result is the same object or nothing: device and inode are checked.
 *
 * @example
 * ```ts ignore
 * const file = reopenInProcess(platform(), descriptor) ?? openByName();
 * ```
 */
export function reopenInProcess(platform: Platform, descriptor: SharedRegion): FileDescriptor | null {
  let pid: number | undefined;
  try {
    pid = nodeBuiltins().process.pid;
  } catch {
    return null;
  }
  if (descriptor.pid !== pid) return null;
  // A new open of the object itself (its own offset and lifetime), even after it was unlinked.
  const fd = platform.reopenInProcess?.(descriptor.fd, !descriptor.readonly) ?? null;
  if (fd === null) return null;
  let file: FileDescriptor;
  try {
    file = FileDescriptor.adopt(platform, fd, descriptor.name ?? descriptor.path ?? "shared memory", false, () => {});
  } catch {
    return null; // not a regular file: certainly not ours (adopt closed it)
  }
  const { dev, ino, size } = file.openedStat;
  if (String(dev) === descriptor.dev && String(ino) === descriptor.ino && size >= descriptor.size) return file;
  file.close();
  return null;
}
