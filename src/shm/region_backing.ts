/**
 * What a `SharedMemory` region is backed by, opened safely: a POSIX
 * shared-memory object (by name) or a file, the check that refuses one a
 * stranger could have planted or may tamper with, and the mapping over it.
 *
 * @module
 */

import { MmapError, UnsupportedRuntimeError } from "../errors.ts";
import { FileDescriptor } from "../fs/file_descriptor.ts";
import { Mapping } from "../mapping.ts";
import type { Platform } from "../os/platform.ts";
import type { ShmName } from "./shm_name.ts";

/** How to open a shared-memory object. */
export interface ShmOpenRequest {
  /** Create it when it does not exist. */
  readonly create: boolean;
  /** With `create`: fail with EEXIST when it exists. */
  readonly exclusive: boolean;
  readonly readonly: boolean;
  /** Mode of an object this call creates. */
  readonly permissions: number;
  /**
   * Bytes of an object this call creates, where the platform fixes the size
   * at creation (Windows); elsewhere the caller sets it after.
   */
  readonly size?: number;
}

/**
 * Opens a named shared-memory object, not inherited by children, learning
 * (through an exclusive create) whether this call created it, so that a
 * later failure removes exactly what it made and never an object someone
 * else owns.
 *
 * @example
 * ```ts
 * import { platform } from "../os/mod.ts";
 * import { parseShmName } from "./shm_name.ts";
 * const name = parseShmName("psm_example");
 * const file = openShmObject(platform(), name, { create: true, exclusive: true, readonly: false, permissions: 0o600 });
 * file.discard(); // closes it and, because this call created it, removes its name
 * ```
 *
 * @throws {MmapError} From the open (EEXIST, ENOENT, EACCES, …) or fstat; ENODEV for a non-regular object.
 */
export function openShmObject(platform: Platform, shmName: ShmName, request: ShmOpenRequest): FileDescriptor {
  if (!platform.openSharedMemory) {
    throw new UnsupportedRuntimeError(`Named shared memory is not supported on ${platform.displayName}; pass a path instead`);
  }
  const { file, created } = platform.openSharedMemory(shmName.name, request);
  return FileDescriptor.adopt(platform, file, shmName.name, created, () => {
    try {
      platform.unlinkSharedMemory?.(shmName.name);
    } catch { /* undoing a creation: the error that made us undo is the one to report */ }
  });
}

/**
 * Refuses an object or file that another user owns, or that group or others
 * may write: either could change the bytes under us or have been planted
 * there to be trusted. Objects this process just created are not checked.
 *
 * @example
 * ```ts
 * import { platform } from "../os/mod.ts";
 * import { FileDescriptor } from "../fs/file_descriptor.ts";
 * const file = FileDescriptor.open(platform(), "/etc/hostname", { write: false });
 * try {
 *   assertTrusted(platform(), file); // throws EACCES: root owns it (unless this runs as root)
 * } finally {
 *   file.close();
 * }
 * ```
 *
 * @throws {MmapError} EACCES, naming the `trustAnyOwner` option that allows it.
 */
export function assertTrusted(platform: Platform, file: FileDescriptor): void {
  const reason = platform.untrustedReason?.(file.openedStat);
  if (reason === undefined) return;
  throw new MmapError(
    `EACCES: refusing to open "${file.path}": ${reason}; pass { trustAnyOwner: true } to open it anyway`,
    { code: "EACCES", errno: platform.error("EACCES", "open", file.path).errno, syscall: "open", path: file.path },
  );
}

/**
 * Maps `size` bytes of `file` from offset 0, or returns `null` for an empty
 * region (nothing maps 0 bytes).
 *
 * A read-only region is mapped as read-only `MappedFile`s are (the
 * `absorbWrites` request of `Mapping`): private, readable and writable, off
 * the commit charge, so a stray write through `bytes` stays in this process
 * instead of killing it with SIGSEGV, and never reaches the object. Pages
 * nobody here wrote keep showing other processes' writes. Where the kernel
 * refuses that mapping it falls back to a plain read-only shared mapping.
 *
 * @example
 * ```ts
 * import { platform } from "../os/mod.ts";
 * import { parseShmName } from "./shm_name.ts";
 * const file = openShmObject(platform(), parseShmName("psm_map_example"),
 *   { create: true, exclusive: true, readonly: false, permissions: 0o600 });
 * file.setSize(4096, 0);
 * const mapping = mapRegion(platform(), file, 4096, false);
 * mapping?.release();
 * file.discard();
 * ```
 *
 * @throws {MmapError} When mmap fails.
 */
export function mapRegion(platform: Platform, file: FileDescriptor, size: number, readonly: boolean): Mapping | null {
  if (size === 0) return null;
  const request = { fd: file.fd, fileOffset: 0, length: size, path: file.path };
  return Mapping.map(platform, { ...request, writable: !readonly, shared: true, absorbWrites: readonly });
}
