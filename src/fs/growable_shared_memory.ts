/**
 * `GrowableSharedMemory`: the memory behind a shared anonymous `MappedFile`.
 *
 * Shared anonymous memory is a hidden file of fixed size: a mapping grown
 * past it has no pages behind its new part, and the first touch there is
 * SIGBUS. So a shared anonymous mapping is made over a memory file
 * (`Platform.createMemoryFile`, a memfd on Linux) instead, which can be grown
 * first. It is still anonymous memory (no name in any file system, gone
 * with its last mapping) and is still shared with children that inherit the
 * mapping.
 *
 * Growth sets the size plainly, reserving nothing: the new pages come on
 * first touch, as anonymous memory's do, instead of all at once. Where the
 * platform has no memory file (Darwin; a kernel or seccomp policy that
 * refuses one) there is no backing to grow, and the caller refuses growth
 * instead.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { FileHandle, Platform } from "../os/platform.ts";

/** A memory file sized to hold a shared anonymous mapping. */
export class GrowableSharedMemory {
  readonly #platform: Platform;
  readonly fd: FileHandle;
  #size: number;
  #closed = false;

  private constructor(platform: Platform, fd: FileHandle, size: number) {
    this.#platform = platform;
    this.fd = fd;
    this.#size = size;
  }

  /**
   * A memory file of `size` bytes, or `null` where the platform has none or
   * refused by policy (ENOSYS, EPERM, EACCES, EINVAL).
   *
   * @example
   * ```ts ignore
   * const memory = GrowableSharedMemory.create(platform(), 4096);
   * memory?.setSize(8192);
   * memory?.close();
   * ```
   *
   * @throws {MmapError} When the kernel has no descriptor or memory to give (EMFILE, ENFILE, ENOMEM),
   *   or setting the size fails.
   */
  static create(platform: Platform, size: number): GrowableSharedMemory | null {
    if (!platform.createMemoryFile) return null;
    let fd: FileHandle;
    try {
      fd = platform.createMemoryFile("memmapfs-shared");
    } catch (error) {
      // Not allowed here (seccomp, a kernel without it): the caller maps a fixed size instead.
      if (error instanceof MmapError && ["ENOSYS", "EPERM", "EACCES", "EINVAL"].includes(error.code)) return null;
      throw error;
    }
    const memory = new GrowableSharedMemory(platform, fd, 0);
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
   * @throws {MmapError} When setting the size fails; it is then unchanged.
   */
  setSize(newSize: number): void {
    this.#platform.truncateFile(this.fd, newSize, null);
    this.#size = newSize;
  }

  /** Closes the descriptor; the memory goes with the last mapping of it. Returns the error instead of throwing. */
  close(): MmapError | undefined {
    if (this.#closed) return undefined;
    this.#closed = true;
    return this.#platform.closeFile(this.fd, null);
  }
}
