/**
 * `GrowableSharedMemory`: the memory behind a shared anonymous `MappedFile`.
 *
 * `MAP_SHARED | MAP_ANONYMOUS` memory is a hidden file of fixed size: a
 * mapping grown past it (mremap) has no pages behind its new part, and the
 * first touch there is SIGBUS. So a shared anonymous mapping is made over a
 * `memfd` instead, which `ftruncate` can grow first. It is still anonymous
 * memory (no name in any file system, gone with its last mapping) and is
 * still shared, like `MAP_SHARED | MAP_ANONYMOUS`, with children that inherit
 * the mapping.
 *
 * Growth uses `ftruncate`, not `posix_fallocate`: the new pages come on first
 * touch, as anonymous memory's do, instead of all at once. Where memfd does
 * not exist (Darwin; a kernel or seccomp policy that refuses it) there is no
 * backing to grow, and the caller refuses growth instead.
 *
 * @module
 */

import { errnoError } from "../errors.ts";
import type { Libc } from "../ffi/libc.ts";

/** A memfd sized to hold a shared anonymous mapping. */
export class GrowableSharedMemory {
  readonly #libc: Libc;
  readonly fd: number;
  #size: number;
  #closed = false;

  private constructor(libc: Libc, fd: number, size: number) {
    this.#libc = libc;
    this.fd = fd;
    this.#size = size;
  }

  /**
   * A memfd of `size` bytes, or `null` where memfd_create is missing or
   * refused by policy (ENOSYS, EPERM, EACCES, EINVAL).
   *
   * @example
   * ```ts ignore
   * const memory = GrowableSharedMemory.create(libc(), 4096);
   * memory?.setSize(8192);
   * memory?.close();
   * ```
   *
   * @throws {MmapError} When the kernel has no descriptor or memory to give (EMFILE, ENFILE, ENOMEM),
   *   or ftruncate fails.
   */
  static create(libc: Libc, size: number): GrowableSharedMemory | null {
    const create = libc.memfdCreate;
    const c = libc.constants;
    if (!create) return null;
    // MFD_NOEXEC_SEAL (Linux 6.3+) says the memory is never executed, which
    // vm.memfd_noexec may require; older kernels refuse the flag with EINVAL.
    let fd = create("memmapfs-shared", c.MFD_CLOEXEC | c.MFD_NOEXEC_SEAL);
    if (fd < 0 && c.errnoNames[libc.errno] === "EINVAL") fd = create("memmapfs-shared", c.MFD_CLOEXEC);
    if (fd < 0) {
      const code = c.errnoNames[libc.errno];
      if (["ENOSYS", "EPERM", "EACCES", "EINVAL"].includes(code)) return null;
      throw errnoError(libc.errno, c.errnoNames, "memfd_create", null);
    }
    const memory = new GrowableSharedMemory(libc, fd, 0);
    try {
      memory.setSize(size);
    } catch (error) {
      memory.close();
      throw error;
    }
    return memory;
  }

  /** The size the memory has now, in the shape `FileDescriptor.stat()` gives. */
  stat(): { size: number } {
    return { size: this.#size };
  }

  /**
   * Makes the memory `newSize` bytes; cutting it frees the pages past the end.
   *
   * @throws {MmapError} When ftruncate fails; the size is then unchanged.
   */
  setSize(newSize: number): void {
    if (this.#libc.ftruncate(this.fd, newSize) !== 0) {
      throw errnoError(this.#libc.errno, this.#libc.constants.errnoNames, "ftruncate", null);
    }
    this.#size = newSize;
  }

  /** Closes the descriptor; the memory goes with the last mapping of it. Returns the error instead of throwing. */
  close(): ReturnType<typeof errnoError> | undefined {
    if (this.#closed) return undefined;
    this.#closed = true;
    if (this.#libc.close(this.fd) === 0) return undefined;
    return errnoError(this.#libc.errno, this.#libc.constants.errnoNames, "close", null);
  }
}
