/**
 * `FileDescriptor`: an open descriptor of a regular file and the calls made on
 * it — open with safe flags, stat, grow, shrink, fsync, close. Mapping lives
 * elsewhere; this file only knows the file.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import type { FileHandle, FileKind, OpenFileRequest, Platform, PlatformStat } from "../os/platform.ts";

/** How to open a file. */
export interface OpenRequest {
  readonly write: boolean;
  /** Create the file when it is missing. */
  readonly create?: boolean;
  /** With `create`: fail with EEXIST when the file exists. */
  readonly exclusive?: boolean;
  /** Cut the file to 0 bytes after opening. */
  readonly truncate?: boolean;
  /** Mode of a file this call creates. */
  readonly permissions?: number;
}

/**
 * Opens a file some other way than by its path (beneath a directory
 * descriptor), and undoes or makes durable its creation the same way.
 *
 * @example
 * ```ts ignore
 * const opener: Opener = {
 *   open: (request) => root.openFile(place, request),
 *   remove: () => root.remove(place),
 *   syncDirectory: () => root.syncParentDirectory(place),
 * };
 * ```
 */
export interface Opener {
  /** Opens as `request` says (following links under the opener's rules). @throws {MmapError} ENOENT, EEXIST… */
  open(request: OpenFileRequest): FileHandle;
  /** Removes the file this opener created (a failed open undoes itself). */
  remove(): void;
  /** fsync of the directory holding the file, after creating it. */
  syncDirectory(): void;
}

/** An open descriptor of a regular file. */
export class FileDescriptor {
  readonly #platform: Platform;
  readonly fd: FileHandle;
  readonly path: string;
  /** True when this open created the file. */
  readonly created: boolean;
  #closed = false;
  /** Holders of this descriptor; it closes when the last one lets go. */
  #holders = 1;
  /** What fstat said right after opening. */
  openedStat!: PlatformStat;
  /** How to remove what this descriptor names; unlink(path) unless adopted. */
  #remove: (() => void) | undefined;
  /** How to fsync the directory holding the file; by its path unless opened by an Opener. */
  #syncDirectory: (() => void) | undefined;

  private constructor(platform: Platform, fd: FileHandle, path: string, created: boolean) {
    this.#platform = platform;
    this.fd = fd;
    this.path = path;
    this.created = created;
  }

  /**
   * Wraps a descriptor opened some other way (named shared memory). `remove` undoes its
   * creation when `created` and the caller gives up. Refuses a non-regular file.
   *
   * @throws {MmapError} When fstat fails or the object is not a regular file.
   */
  static adopt(
    platform: Platform,
    fd: FileHandle,
    label: string,
    created: boolean,
    remove: () => void,
  ): FileDescriptor {
    const descriptor = new FileDescriptor(platform, fd, label, created);
    descriptor.#remove = remove;
    try {
      descriptor.#assertRegularFile();
    } catch (error) {
      descriptor.discard();
      throw error;
    }
    return descriptor;
  }

  /**
   * Opens `requested` as {@linkcode Platform.openFile} does (no following a
   * final link, no waiting on a FIFO, not inherited by children), creating it
   * (mode 0600 unless told otherwise) when asked. Refuses anything but a
   * regular file, before anything reads: a FIFO someone planted neither
   * hangs the open nor gets read. The descriptor's `path` is the path opened:
   * the one the runtime's permission model checked (see `Platform.checkPathAccess`).
   *
   * With `opener`, the file is opened by it instead (a MemMapFS resolving
   * beneath its directory, following links inside under its rules).
   *
   * @throws {MmapError} With the errno of the failing call (ENXIO for a
   * socket), EISDIR for a directory, ENODEV for a FIFO or device.
   */
  static open(platform: Platform, requested: string, request: OpenRequest, opener?: Opener): FileDescriptor {
    // Open exactly the string the runtime's permission model checked (absolute
    // and normalised under Deno or node --permission), never the raw text.
    const path = platform.checkPathAccess(requested, "read");
    if (request.write) platform.checkPathAccess(path, "write");
    const write = request.write;
    let failure: MmapError | undefined;
    const open = (create?: "exclusive"): FileHandle => {
      try {
        const how = create ? { write, create, permissions: request.permissions ?? 0o600 } : { write };
        return opener ? opener.open(how) : platform.openFile(path, how);
      } catch (error) {
        if (!(error instanceof MmapError)) throw error;
        failure = error;
        return -1;
      }
    };
    let created = false;
    let fd = request.exclusive ? -1 : open();
    if (fd < 0 && request.create && (request.exclusive || failure?.code === "ENOENT")) {
      // An exclusive create tells us whether this call made the file, so a failure later
      // can remove exactly what it created and nothing else.
      fd = open("exclusive");
      created = fd >= 0;
      if (fd < 0 && !request.exclusive && failure?.code === "EEXIST") fd = open();
    }
    if (fd < 0) throw openError(failure!);
    const descriptor = new FileDescriptor(platform, fd, path, created);
    if (opener) {
      descriptor.#remove = () => opener.remove();
      descriptor.#syncDirectory = () => opener.syncDirectory();
    }
    try {
      // The rules that judge the real file, not the text (Deno's for /dev,
      // /proc, /sys), on the descriptor itself: no link swapped in between.
      platform.checkOpenedFile(fd);
      descriptor.#assertRegularFile();
      if (request.truncate) {
        descriptor.setSize(0);
        descriptor.openedStat = descriptor.stat();
      }
    } catch (error) {
      descriptor.discard();
      throw error;
    }
    return descriptor;
  }

  #assertRegularFile(): void {
    this.openedStat = this.stat();
    const kind = this.openedStat.kind;
    if (kind === "file") return;
    const error = this.#platform.error(kind === "directory" ? "EISDIR" : "ENODEV", "open", this.path);
    if (kind !== "directory") error.message += `: it is ${fileTypeName(kind, this.openedStat.mode)}, and memmapfs maps only regular files`;
    throw error;
  }

  /**
   * Refuses a file whose size fstat reports as 0 but that has bytes to read:
   * the files of /proc (and some of /sys and other pseudo file systems)
   * generate their content on read, so a mapping of them would be silently
   * empty. One 1-byte pread tells them from a really empty file; a file this
   * open created is empty and costs no call.
   *
   * @throws {MmapError} ENODEV for such a file; the pread's own error when it fails.
   */
  assertMappableSize(): void {
    if (this.created || this.openedStat.size !== 0) return;
    const read = this.#platform.readAt(this.fd, new Uint8Array(1), 0, this.path);
    if (read === 0) return;
    throw new MmapError(
      `ENODEV: cannot map "${this.path}": fstat says it is empty but reading it gives bytes ` +
        "(a /proc or /sys file makes its content when read), so a mapping would be empty; read it with node:fs instead",
      { code: "ENODEV", errno: this.#platform.error("ENODEV", "mmap", this.path).errno, syscall: "mmap", path: this.path },
    );
  }

  /** @throws {MmapError} When fstat fails. */
  stat(): PlatformStat {
    return this.#platform.stat(this.fd, this.path);
  }

  /**
   * Makes the file `newSize` bytes. Growth reserves the blocks with
   * posix_fallocate so a full disk fails here rather than as SIGBUS later; on
   * failure the old size is put back.
   *
   * @throws {MmapError} When the file cannot take the new size.
   */
  setSize(newSize: number, oldSize = this.stat().size): void {
    this.#platform.setSize(this.fd, newSize, oldSize, this.path);
  }

  /**
   * Sets the size without reserving blocks (ftruncate): to put back a size
   * after a failure.
   *
   * @throws {MmapError} When ftruncate fails.
   */
  truncate(size: number): void {
    this.#platform.truncateFile(this.fd, size, this.path);
  }

  /**
   * True where flushing a mapped range leaves written pages in the drive's
   * cache (Darwin, Windows), so every durable sync must end with this
   * file's {@linkcode FileDescriptor.fsync}.
   */
  get needsFsyncAfterMsync(): boolean {
    return this.#platform.flushNeedsFileFlush;
  }

  /** @throws {MmapError} When fsync (F_FULLFSYNC on Darwin) fails. */
  fsync(): void {
    this.#platform.flushFile(this.fd, this.path);
  }

  /** fsync of the directory holding this file, so its creation survives a crash. */
  syncDirectory(): void {
    if (this.#syncDirectory) return this.#syncDirectory();
    this.#platform.syncParentDirectory(this.path);
  }

  /** One more holder: the descriptor stays open until each has called close(). */
  retain(): this {
    if (this.#closed) throw new Error(`Descriptor of "${this.path}" is already closed`);
    this.#holders++;
    return this;
  }

  /** Lets go of the descriptor; the last holder closes it. Returns the error instead of throwing. */
  close(): MmapError | undefined {
    if (this.#closed || --this.#holders > 0) return undefined;
    this.#closed = true;
    // Linux releases the descriptor even when close reports an error.
    return this.#platform.closeFile(this.fd, this.path);
  }

  /** Closes, and removes the file when this open created it: undoes the open. */
  discard(): void {
    this.close();
    if (!this.created) return;
    if (this.#remove) this.#remove();
    else this.#platform.removeFile(this.path);
  }
}

function openError(error: MmapError): MmapError {
  if (error.code !== "ELOOP") return error;
  error.message += ": memmapfs opens with O_NOFOLLOW and does not follow a symbolic link " +
    "as the last part of a path; pass the resolved path (realpath) instead";
  return error;
}

/** A file kind in words, for an error message. */
function fileTypeName(kind: FileKind, mode: number): string {
  const names: Partial<Record<FileKind, string>> = {
    "fifo": "a FIFO", "character-device": "a character device", "block-device": "a block device",
    "socket": "a socket", "symlink": "a symbolic link",
  };
  return names[kind] ?? `a file of an unknown type (mode 0o${mode.toString(8)})`;
}
