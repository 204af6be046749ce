/**
 * What a `SharedMemory` region is backed by, opened safely: a POSIX
 * shared-memory object (`shm_open`) or a file, the check that refuses one a
 * stranger could have planted or may tamper with, and the mapping over it.
 *
 * @module
 */

import { errnoError, MmapError } from "../errors.ts";
import type { Libc } from "../ffi/libc.ts";
import { errnoNumber, FileDescriptor } from "../fs/file_descriptor.ts";
import { Mapping } from "../mapping.ts";
import { type ShmName, shmPermissionPath } from "./shm_name.ts";

/** How to open a shared-memory object. */
export interface ShmOpenRequest {
  /** Create it when it does not exist. */
  readonly create: boolean;
  /** With `create`: fail with EEXIST when it exists. */
  readonly exclusive: boolean;
  readonly readonly: boolean;
  /** Mode of an object this call creates. */
  readonly permissions: number;
}

/**
 * Opens a shared-memory object with `O_CLOEXEC`, learning (through `O_EXCL`)
 * whether this call created it, so that a later failure removes exactly what
 * it made and never an object someone else owns.
 *
 * @example
 * ```ts
 * import { libc } from "../ffi/mod.ts";
 * import { parseShmName } from "./shm_name.ts";
 * const name = parseShmName("psm_example");
 * const file = openShmObject(libc(), name, { create: true, exclusive: true, readonly: false, permissions: 0o600 });
 * file.discard(); // closes it and, because this call created it, shm_unlinks it
 * ```
 *
 * @throws {MmapError} From shm_open (EEXIST, ENOENT, EACCES, …) or fstat; ENODEV for a non-regular object.
 */
export function openShmObject(libc: Libc, shmName: ShmName, request: ShmOpenRequest): FileDescriptor {
  const c = libc.constants;
  // FFI bypasses the runtime's permission model: an object is checked as the
  // file it is (/dev/shm/<name>), for reading and, unless read-only, writing.
  const asPath = shmPermissionPath(c.shmDirectory, shmName);
  libc.checkPathAccess(asPath, "read", "shm_open");
  if (!request.readonly) libc.checkPathAccess(asPath, "write", "shm_open");
  // glibc adds O_NOFOLLOW and O_CLOEXEC itself; darwin does not, so say it.
  // Where objects are files anyone may plant (/dev/shm), O_NONBLOCK keeps a
  // FIFO from hanging the open; the type check below then refuses it. darwin's
  // shm_open takes no other flags, and its objects are never FIFOs.
  const nonblocking = c.shmDirectory === null ? 0 : c.O_NONBLOCK | c.O_NOCTTY;
  const base = (request.readonly ? c.O_RDONLY : c.O_RDWR) | c.O_CLOEXEC | nonblocking;
  let fd: number;
  let created = false;
  if (request.create) {
    fd = libc.shmOpen(shmName.posixName, base | c.O_CREAT | c.O_EXCL, request.permissions);
    created = fd >= 0;
    if (fd < 0 && !request.exclusive && libc.errno === errnoNumber(libc, "EEXIST")) {
      fd = libc.shmOpen(shmName.posixName, base, 0);
    }
  } else {
    fd = libc.shmOpen(shmName.posixName, base, 0);
  }
  if (fd < 0) throw errnoError(libc.errno, c.errnoNames, "shm_open", shmName.name);
  return FileDescriptor.adopt(libc, fd, shmName.name, created, () => libc.shmUnlink(shmName.posixName));
}

/**
 * Refuses an object or file that another user owns, or that group or others
 * may write: either could change the bytes under us or have been planted
 * there to be trusted. Objects this process just created are not checked.
 *
 * @example
 * ```ts
 * import { libc } from "../ffi/mod.ts";
 * import { FileDescriptor } from "../fs/file_descriptor.ts";
 * const file = FileDescriptor.open(libc(), "/etc/hostname", { write: false });
 * try {
 *   assertTrusted(libc(), file); // throws EACCES: root owns it (unless this runs as root)
 * } finally {
 *   file.close();
 * }
 * ```
 *
 * @throws {MmapError} EACCES, naming the `trustAnyOwner` option that allows it.
 */
export function assertTrusted(libc: Libc, file: FileDescriptor): void {
  const { uid, mode } = file.openedStat;
  // geteuid through libc: the runtimes' own uid calls need --allow-sys on Deno.
  const me = libc.geteuid();
  const reason = uid !== me
    ? `it belongs to user ${uid}, not to this process's user ${me}`
    : (mode & 0o022) !== 0
    ? `group or others may write it (mode ${(mode & 0o777).toString(8).padStart(4, "0")})`
    : undefined;
  if (reason === undefined) return;
  throw new MmapError(
    `EACCES: refusing to open "${file.path}": ${reason}; pass { trustAnyOwner: true } to open it anyway`,
    { code: "EACCES", errno: 13, syscall: "open", path: file.path },
  );
}

/**
 * Maps `size` bytes of `file` from offset 0, or returns `null` for an empty
 * region (mmap refuses length 0).
 *
 * A read-only region is mapped as read-only `MappedFile`s are (the
 * `absorbWrites` request of `Mapping`): private, readable and writable, with
 * `MAP_NORESERVE`, so a stray write through `bytes` stays in this process
 * instead of killing it with SIGSEGV, and never reaches the object. Pages
 * nobody here wrote keep showing other processes' writes. Where the kernel
 * refuses that mapping it falls back to a plain `PROT_READ` shared mapping.
 *
 * @example
 * ```ts
 * import { libc } from "../ffi/mod.ts";
 * import { parseShmName } from "./shm_name.ts";
 * const file = openShmObject(libc(), parseShmName("psm_map_example"),
 *   { create: true, exclusive: true, readonly: false, permissions: 0o600 });
 * file.setSize(4096, 0);
 * const mapping = mapRegion(libc(), file, 4096, false);
 * mapping?.release();
 * file.discard();
 * ```
 *
 * @throws {MmapError} When mmap fails.
 */
export function mapRegion(libc: Libc, file: FileDescriptor, size: number, readonly: boolean): Mapping | null {
  if (size === 0) return null;
  const request = { fd: file.fd, fileOffset: 0, length: size, path: file.path };
  return Mapping.map(libc, { ...request, writable: !readonly, shared: true, absorbWrites: readonly });
}
