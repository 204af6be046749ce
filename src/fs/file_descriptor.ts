/**
 * `FileDescriptor`: an open descriptor of a regular file and the calls made on
 * it — open with safe flags, stat, grow, shrink, fsync, close. Mapping lives
 * elsewhere; this file only knows the file.
 *
 * @module
 */

import { errnoError, MmapError } from "../errors.ts";
import type { FileStat, Libc } from "../ffi/libc.ts";

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
 *   open: (flags, mode) => root.open("a.txt", flags, mode, "/srv/a.txt"),
 *   remove: () => root.at("a.txt", (dirFd, name) => libc.unlinkat(dirFd, name, 0), "/srv/a.txt"),
 *   syncDirectory: () => syncParentOf("a.txt"),
 * };
 * ```
 */
export interface Opener {
  /** Opens with `flags` (and `mode` when creating): the descriptor, or minus the errno. */
  open(flags: number, mode: number): number;
  /** The system call behind the last failure `open` reported, for its error. */
  failedCall(): string;
  /** Removes the file this opener created (a failed open undoes itself). */
  remove(): void;
  /** fsync of the directory holding the file, after creating it. */
  syncDirectory(): void;
}

/** An open descriptor of a regular file. */
export class FileDescriptor {
  readonly #libc: Libc;
  readonly fd: number;
  readonly path: string;
  /** True when this open created the file. */
  readonly created: boolean;
  #closed = false;
  /** Holders of this descriptor; it closes when the last one lets go. */
  #holders = 1;
  /** What fstat said right after opening. */
  openedStat!: FileStat;
  /** How to remove what this descriptor names; unlink(path) unless adopted. */
  #remove: (() => void) | undefined;
  /** How to fsync the directory holding the file; by its path unless opened by an Opener. */
  #syncDirectory: (() => void) | undefined;

  private constructor(libc: Libc, fd: number, path: string, created: boolean) {
    this.#libc = libc;
    this.fd = fd;
    this.path = path;
    this.created = created;
  }

  /**
   * Wraps a descriptor opened some other way (shm_open). `remove` undoes its
   * creation when `created` and the caller gives up. Refuses a non-regular file.
   *
   * @throws {MmapError} When fstat fails or the object is not a regular file.
   */
  static adopt(
    libc: Libc,
    fd: number,
    label: string,
    created: boolean,
    remove: () => void,
  ): FileDescriptor {
    const descriptor = new FileDescriptor(libc, fd, label, created);
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
   * Opens `requested` with `O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`,
   * creating it (mode 0600 unless told otherwise) when asked. Refuses
   * anything but a regular file. The descriptor's `path` is the path opened:
   * the one the runtime's permission model checked (see `Libc.checkPathAccess`).
   *
   * `O_NONBLOCK` is what keeps a FIFO someone planted from hanging the open
   * (a reader waits for a writer otherwise); the type check then refuses it
   * before anything reads. The flag stays set: on a regular file it changes
   * nothing memmapfs does (mmap, fstat, ftruncate, fsync ignore it), so no
   * fcntl (variadic, awkward on darwin-arm64) is needed to clear it. The one
   * visible difference: a file under another process's lease (`F_SETLEASE`)
   * fails with EWOULDBLOCK instead of waiting for the lease to be broken.
   *
   * With `opener`, the file is opened by it instead (a MemMapFS resolving
   * beneath its directory): it gets the flags without `O_NOFOLLOW` and
   * returns the descriptor or minus the errno.
   *
   * @throws {MmapError} With the errno of the failing call (ENXIO for a
   * socket), EISDIR for a directory, ENODEV for a FIFO or device.
   */
  static open(libc: Libc, requested: string, request: OpenRequest, opener?: Opener): FileDescriptor {
    const c = libc.constants;
    // Open exactly the string the runtime's permission model checked (absolute
    // and normalised under Deno or node --permission), never the raw text.
    const path = libc.checkPathAccess(requested, "read");
    if (request.write) libc.checkPathAccess(path, "write");
    const access = (request.write ? c.O_RDWR : c.O_RDONLY) | c.O_CLOEXEC | c.O_NONBLOCK | c.O_NOCTTY;
    const base = opener ? access : access | c.O_NOFOLLOW;
    let openErrno = 0;
    const open = (flags: number, mode: number): number => {
      if (!opener) {
        const fd = libc.open(path, flags, mode);
        if (fd < 0) openErrno = libc.errno;
        return fd;
      }
      const fd = opener.open(flags, mode);
      if (fd >= 0) return fd;
      openErrno = -fd;
      return -1;
    };
    let created = false;
    let fd = request.exclusive ? -1 : open(base, 0);
    if (fd < 0 && request.create && (request.exclusive || openErrno === enoent(libc))) {
      // O_EXCL tells us whether this call made the file, so a failure later
      // can remove exactly what it created and nothing else.
      fd = open(base | c.O_CREAT | c.O_EXCL, request.permissions ?? 0o600);
      created = fd >= 0;
      if (fd < 0 && !request.exclusive && openErrno === eexist(libc)) fd = open(base, 0);
    }
    if (fd < 0) throw openError(libc, openErrno, path, opener?.failedCall() ?? "open");
    const descriptor = new FileDescriptor(libc, fd, path, created);
    if (opener) {
      descriptor.#remove = () => opener.remove();
      descriptor.#syncDirectory = () => opener.syncDirectory();
    }
    try {
      // The rules that judge the real file, not the text (Deno's for /dev,
      // /proc, /sys), on the descriptor itself: no link swapped in between.
      libc.checkOpenedFile(fd);
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
    const c = this.#libc.constants;
    this.openedStat = this.stat();
    const type = this.openedStat.mode & c.S_IFMT;
    if (type === c.S_IFREG) return;
    const errno = type === c.S_IFDIR ? "EISDIR" : "ENODEV";
    const error = errnoError(errnoNumber(this.#libc, errno), c.errnoNames, "open", this.path);
    if (type !== c.S_IFDIR) error.message += `: it is ${fileTypeName(this.#libc, type)}, and memmapfs maps only regular files`;
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
    const libc = this.#libc;
    const read = libc.pread(this.fd, new Uint8Array(1), 0);
    if (read === 0) return;
    if (read < 0) throw this.#error("pread");
    throw new MmapError(
      `ENODEV: cannot map "${this.path}": fstat says it is empty but reading it gives bytes ` +
        "(a /proc or /sys file makes its content when read), so a mapping would be empty; read it with node:fs instead",
      { code: "ENODEV", errno: errnoNumber(libc, "ENODEV"), syscall: "mmap", path: this.path },
    );
  }

  /** @throws {MmapError} When fstat fails. */
  stat(): FileStat {
    const stat = this.#libc.fstat(this.fd);
    if (!stat) throw this.#error("fstat");
    return stat;
  }

  /**
   * Makes the file `newSize` bytes. Growth reserves the blocks with
   * posix_fallocate so a full disk fails here rather than as SIGBUS later; on
   * failure the old size is put back.
   *
   * @throws {MmapError} When the file cannot take the new size.
   */
  setSize(newSize: number, oldSize = this.stat().size): void {
    const libc = this.#libc;
    if (newSize > oldSize && libc.posixFallocate) {
      if (libc.posixFallocate(this.fd, oldSize, newSize - oldSize) === 0) return;
      const errno = libc.errno;
      // Filesystems without fallocate support say so; fall back to ftruncate.
      if (!["EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EINVAL"].includes(libc.constants.errnoNames[errno])) {
        const error = errnoError(errno, libc.constants.errnoNames, "posix_fallocate", this.path);
        libc.ftruncate(this.fd, oldSize);
        throw error;
      }
    }
    if (libc.ftruncate(this.fd, newSize) !== 0) throw this.#error("ftruncate");
  }

  /**
   * True where msync(MS_SYNC) leaves written pages in the drive's cache
   * (Darwin), so every durable sync must end with this file's fsync, which
   * the Libc makes an F_FULLFSYNC there.
   */
  get needsFsyncAfterMsync(): boolean {
    return this.#libc.constants.F_FULLFSYNC !== 0;
  }

  /** @throws {MmapError} When fsync (F_FULLFSYNC on Darwin) fails. */
  fsync(): void {
    if (this.#libc.fsync(this.fd) !== 0) throw this.#error("fsync");
  }

  /** fsync of the directory holding this file, so its creation survives a crash. */
  syncDirectory(): void {
    if (this.#syncDirectory) return this.#syncDirectory();
    const libc = this.#libc;
    const c = libc.constants;
    const slash = this.path.lastIndexOf("/");
    const directory = slash > 0 ? this.path.slice(0, slash) : slash === 0 ? "/" : ".";
    const fd = libc.open(directory, c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0);
    if (fd < 0) throw errnoError(libc.errno, c.errnoNames, "open", directory);
    let error = libc.fsync(fd) === 0 ? undefined : errnoError(libc.errno, c.errnoNames, "fsync", directory);
    // A close error after fsync is reported too: we cannot tell what it lost.
    if (libc.close(fd) !== 0) error ??= errnoError(libc.errno, c.errnoNames, "close", directory);
    if (error) throw error;
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
    return this.#libc.close(this.fd) === 0 ? undefined : this.#error("close");
  }

  /** Closes, and removes the file when this open created it: undoes the open. */
  discard(): void {
    this.close();
    if (!this.created) return;
    if (this.#remove) this.#remove();
    else this.#libc.unlink(this.path);
  }

  #error(syscall: string): MmapError {
    return errnoError(this.#libc.errno, this.#libc.constants.errnoNames, syscall, this.path);
  }
}

function openError(libc: Libc, errno: number, path: string, syscall: string): MmapError {
  const error = errnoError(errno, libc.constants.errnoNames, syscall, path);
  if (error.code !== "ELOOP") return error;
  error.message += ": memmapfs opens with O_NOFOLLOW and does not follow a symbolic link " +
    "as the last part of a path; pass the resolved path (realpath) instead";
  return error;
}

/** A file type (`st_mode & S_IFMT`) in words, for an error message. */
function fileTypeName(libc: Libc, type: number): string {
  const c = libc.constants;
  const names: [number, string][] = [
    [c.S_IFIFO, "a FIFO"], [c.S_IFCHR, "a character device"], [c.S_IFBLK, "a block device"],
    [c.S_IFSOCK, "a socket"], [c.S_IFLNK, "a symbolic link"],
  ];
  return names.find(([bits]) => bits === type)?.[1] ?? `a file of type 0o${type.toString(8)}`;
}

/** The platform's number for an errno name. */
export function errnoNumber(libc: Libc, name: string): number {
  for (const [number, candidate] of Object.entries(libc.constants.errnoNames)) {
    if (candidate === name) return Number(number);
  }
  throw new Error(`Unknown errno name ${name}`);
}

const enoent = (libc: Libc) => errnoNumber(libc, "ENOENT");
const eexist = (libc: Libc) => errnoNumber(libc, "EEXIST");
