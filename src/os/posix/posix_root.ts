/**
 * The POSIX {@linkcode DirectoryRoot}: a {@linkcode DescriptorRoot} (a held
 * directory descriptor, `openat2` or the `openat` walk) and the `*at`
 * operations of `fs_operations.ts` run through it.
 *
 * @module
 */

import { libc as activeLibc } from "../../ffi/mod.ts";
import type { DirectoryRoot, FileHandle, OpenFileRequest, PlatformStat, RootEntry, RootPlace } from "../platform.ts";
import { DescriptorRoot, FOLLOW } from "./descriptor_root.ts";
import {
  chmodAt,
  chownAt,
  mkdirAt,
  readDirAt,
  readFileAt,
  removeAllAt,
  removeAt,
  renameAt,
  statAt,
  syncDirectoryOf,
  utimesAt,
  writeFileAt,
} from "./fs_operations.ts";
import { errnoNumber, fileKind, lastError } from "./posix_errors.ts";
import { openFlags } from "./posix_platform.ts";

/**
 * A MemMapFS root on POSIX. Each call uses the libc active at that moment
 * (a test's fault-injecting one included), as the operations always did.
 *
 * @example
 * ```ts ignore
 * const root = PosixRoot.open("/srv/assets");
 * const size = root.stat({ relative: "css/site.css", display: "/srv/assets/css/site.css" }, true).size;
 * root.close();
 * ```
 */
export class PosixRoot implements DirectoryRoot {
  readonly #root: DescriptorRoot;

  private constructor(root: DescriptorRoot) {
    this.#root = root;
  }

  /** Opens `path` (absolute) as a confined root. @throws {MmapError} ENOENT, ENOTDIR, EACCES… */
  static open(path: string): PosixRoot {
    return new PosixRoot(DescriptorRoot.open(activeLibc, path));
  }

  /** A root that takes absolute paths and may go anywhere. */
  static unconfined(): PosixRoot {
    return new PosixRoot(DescriptorRoot.unconfined(activeLibc));
  }

  get path(): string {
    return this.#root.path;
  }

  get confined(): boolean {
    return this.#root.confined;
  }

  get closed(): boolean {
    return this.#root.closed;
  }

  close(): void {
    this.#root.close();
  }

  openBelow(place: RootPlace): DirectoryRoot {
    return new PosixRoot(this.#root.openBelow(place.relative, place.display));
  }

  openFile(place: RootPlace, request: OpenFileRequest): FileHandle {
    const libc = activeLibc();
    const mode = request.create ? request.permissions ?? 0o600 : 0;
    const fd = this.#root.open(place.relative, openFlags(libc, request, false), mode, place.display);
    if (fd < 0) throw lastError(libc, this.#root.failedCall, place.display, -fd);
    return fd;
  }

  stat(place: RootPlace, follow: boolean): PlatformStat {
    const libc = activeLibc();
    const stat = statAt(libc, this.#root, place, follow);
    return { ...stat, kind: fileKind(stat.mode, libc.constants) };
  }

  readDir(place: RootPlace): RootEntry[] {
    return readDirAt(activeLibc(), this.#root, place);
  }

  mkdir(place: RootPlace, mode: number, recursive: boolean): void {
    mkdirAt(activeLibc(), this.#root, place, mode, recursive);
  }

  remove(place: RootPlace): void {
    removeAt(activeLibc(), this.#root, place);
  }

  removeAll(place: RootPlace): void {
    removeAllAt(activeLibc(), this.#root, place);
  }

  rename(from: RootPlace, to: RootPlace): void {
    renameAt(activeLibc(), this.#root, from, to);
  }

  chmod(place: RootPlace, mode: number): void {
    chmodAt(activeLibc(), this.#root, place, mode);
  }

  chown(place: RootPlace, uid: number, gid: number): void {
    chownAt(activeLibc(), this.#root, place, uid, gid);
  }

  utimes(place: RootPlace, atimeNs: bigint, mtimeNs: bigint): void {
    utimesAt(activeLibc(), this.#root, place, atimeNs, mtimeNs);
  }

  readFile(place: RootPlace): Uint8Array {
    return readFileAt(activeLibc(), this.#root, place);
  }

  writeFile(place: RootPlace, bytes: Uint8Array, permissions: number): void {
    writeFileAt(activeLibc(), this.#root, place, bytes, permissions);
  }

  truncate(place: RootPlace, size: number, beforeCut?: (stat: PlatformStat) => void): void {
    const libc = activeLibc();
    const c = libc.constants;
    const fd = this.#root.open(place.relative, c.O_WRONLY | c.O_CLOEXEC | c.O_NONBLOCK, 0, place.display);
    if (fd < 0) throw lastError(libc, this.#root.failedCall, place.display, -fd);
    try {
      // Everything below is about this descriptor: the file checked is the file cut.
      const stat = libc.fstat(fd);
      if (!stat) throw lastError(libc, "fstat", place.display);
      if ((stat.mode & c.S_IFMT) !== c.S_IFREG) throw lastError(libc, "truncate", place.display, errnoNumber(libc, "EINVAL"));
      beforeCut?.({ ...stat, kind: "file" });
      if (libc.ftruncate(fd, size) !== 0) throw lastError(libc, "ftruncate", place.display);
    } finally {
      libc.close(fd);
    }
  }

  syncParentDirectory(place: RootPlace): void {
    this.#root.at(place.relative, (dirFd: number, name: string) => {
      const libc = activeLibc();
      const stat = libc.fstatat(dirFd, name, libc.constants.AT_SYMLINK_NOFOLLOW);
      if (stat && (stat.mode & libc.constants.S_IFMT) === libc.constants.S_IFLNK) return FOLLOW;
      syncDirectoryOf(libc, dirFd, name, place.display);
    }, place.display);
  }
}
