/**
 * A MemMapFS root on Windows: a directory held open, paths resolved beneath
 * it. Win32 has no `openat`, so confinement rests on two things Windows does
 * offer:
 * - **the handle acted on is the handle checked**: a file is opened first
 *   (following links, as the call asks), then `GetFinalPathNameByHandleW`
 *   says where it really is, and anything outside the root is closed unused
 *   and refused with `EACCES`, whatever link or junction led there;
 * - **a held directory cannot move**: the root, and the parent directory of
 *   an entry being made, removed or renamed, are opened without
 *   `FILE_SHARE_DELETE` for the length of the call, so nobody can rename
 *   them (or a directory above them) away while the path is used.
 * `..` is resolved on the text and may not climb above the root.
 *
 * @module
 */

import type { MmapError } from "../../errors.ts";
import { INVALID_HANDLE_VALUE } from "../../ffi/constants.ts";
import type { Kernel32 } from "../../ffi/kernel32.ts";
import type { DirectoryRoot, FileHandle, FileKind, OpenFileRequest, PlatformStat, RootEntry, RootPlace } from "../platform.ts";
import { removeEntry, removeTree } from "./windows_delete.ts";
import { lastWindowsError, posixNamedError } from "./windows_errors.ts";
import { isDevicePath, kernelPath } from "./windows_paths.ts";
import type { WindowsPlatform } from "./windows_platform.ts";


/** A path as `GetFinalPathNameByHandleW` reports it, without `\\?\` (or `\\?\UNC\`), for comparison. */
function comparable(path: string): string {
  const plain = path.startsWith("\\\\?\\UNC\\") ? `\\\\${path.slice(8)}` : path.replace(/^\\\\\?\\/, "");
  return plain.replaceAll("/", "\\").replace(/\\+$/, "").toLowerCase();
}

/**
 * A {@linkcode DirectoryRoot} over kernel32.
 *
 * @example
 * ```ts ignore
 * const root = WindowsRoot.open(platform, "C:\\srv");
 * const file = root.openFile({ relative: "data.bin", display: "C:\\srv\\data.bin" }, { write: false });
 * ```
 */
export class WindowsRoot implements DirectoryRoot {
  readonly #platform: WindowsPlatform;
  readonly #k: Kernel32;
  /** The held directory; `null` for the unconfined root. */
  #handle: bigint | null;
  /** The root's real location, comparable form (see `comparable`). */
  readonly #real: string;
  readonly path: string;
  readonly confined: boolean;
  /** Others may read and write; no FILE_SHARE_DELETE: a directory held so cannot be renamed or removed. */
  readonly #pinned: number;
  /** Others may read, write, rename and delete, as on POSIX. */
  readonly #shareAll: number;

  private constructor(platform: WindowsPlatform, handle: bigint | null, path: string, real: string) {
    this.#platform = platform;
    this.#k = platform.kernel32;
    this.#handle = handle;
    this.path = path;
    this.#real = real;
    this.confined = handle !== null;
    const c = this.#k.constants;
    this.#pinned = c.FILE_SHARE_READ | c.FILE_SHARE_WRITE;
    this.#shareAll = this.#pinned | c.FILE_SHARE_DELETE;
  }

  /**
   * Opens the directory `path` as a confined root.
   *
   * @throws {MmapError} ENOENT, ENOTDIR, EACCES.
   */
  static open(platform: WindowsPlatform, path: string): WindowsRoot {
    const k = platform.kernel32;
    const c = k.constants;
    // Others may read and write; no FILE_SHARE_DELETE: the directory cannot be renamed or removed while held.
    const pinned = c.FILE_SHARE_READ | c.FILE_SHARE_WRITE;
    const handle = k.createFile(kernelPath(path), c.FILE_READ_ATTRIBUTES, pinned, c.OPEN_EXISTING, c.FILE_FLAG_BACKUP_SEMANTICS);
    if (handle === INVALID_HANDLE_VALUE) throw lastWindowsError(k, "CreateFileW", path);
    return WindowsRoot.#adopt(platform, handle, path);
  }

  static #adopt(platform: WindowsPlatform, handle: bigint, path: string): WindowsRoot {
    const k = platform.kernel32;
    const info = k.fileInformation(handle);
    const real = info && k.finalPath(handle);
    if (!info || real === null) {
      const error = lastWindowsError(k, "GetFinalPathNameByHandleW", path);
      k.closeHandle(handle);
      throw error;
    }
    if ((info.attributes & k.constants.FILE_ATTRIBUTE_DIRECTORY) === 0) {
      k.closeHandle(handle);
      throw posixNamedError(k.constants.errorNames, "ENOTDIR", "CreateFileW", path);
    }
    return new WindowsRoot(platform, handle, path.replaceAll("/", "\\").replace(/\\+$/, "") || path, comparable(real));
  }

  /** The root of an unconfined MemMapFS: absolute paths, nothing held. */
  static unconfined(platform: WindowsPlatform): WindowsRoot {
    return new WindowsRoot(platform, null, "/", "");
  }

  get closed(): boolean {
    return this.confined && this.#handle === null;
  }

  close(): void {
    if (this.#handle === null) return;
    this.#k.closeHandle(this.#handle);
    this.#handle = null;
  }

  openBelow(place: RootPlace): DirectoryRoot {
    const c = this.#k.constants;
    const handle = this.#open(place, c.FILE_READ_ATTRIBUTES, this.#pinned, c.OPEN_EXISTING, 0, true);
    return WindowsRoot.#adopt(this.#platform, handle, this.#resolve(place).replace(/^\\\\\?\\/, ""));
  }

  openFile(place: RootPlace, request: OpenFileRequest): FileHandle {
    const k = this.#k;
    const c = k.constants;
    const access = c.GENERIC_READ | (request.write ? c.GENERIC_WRITE : 0);
    const disposition = request.create === "exclusive" ? c.CREATE_NEW : c.OPEN_EXISTING;
    let handle: bigint;
    try {
      handle = this.#open(place, access, this.#shareAll, disposition, c.FILE_ATTRIBUTE_NORMAL, true);
    } catch (error) {
      const attributes = (error as MmapError).code === "EACCES" ? k.pathAttributes(this.#resolve(place)) : null;
      if (attributes && (attributes.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) {
        throw posixNamedError(c.errorNames, "EISDIR", "CreateFileW", place.display);
      }
      throw error;
    }
    // Windows opens a directory for writing; POSIX says EISDIR, and so does memmapfs.
    const info = request.write ? k.fileInformation(handle) : null;
    if (info && (info.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) {
      k.closeHandle(handle);
      throw posixNamedError(c.errorNames, "EISDIR", "CreateFileW", place.display);
    }
    return Number(handle);
  }

  stat(place: RootPlace, follow: boolean): PlatformStat {
    const c = this.#k.constants;
    return this.#with(place, c.FILE_READ_ATTRIBUTES, follow, (handle) => this.#platform.stat(Number(handle), place.display));
  }

  readDir(place: RootPlace): RootEntry[] {
    const k = this.#k;
    const c = k.constants;
    // Held without FILE_SHARE_DELETE while listed: the directory listed is the one checked.
    const handle = this.#open(place, c.FILE_READ_ATTRIBUTES, this.#pinned, c.OPEN_EXISTING, 0, true);
    try {
      const entries = k.listDirectory(this.#resolve(place));
      if (!entries) throw lastWindowsError(k, "FindFirstFileW", place.display);
      return entries.filter(({ name }) => name !== "." && name !== "..")
        .map(({ name, attributes }) => ({ name, kind: kindOf(attributes, c) }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } finally {
      k.closeHandle(handle);
    }
  }

  mkdir(place: RootPlace, _mode: number, recursive: boolean): void {
    const k = this.#k;
    const c = k.constants;
    const steps = recursive ? this.#ancestry(place) : [place];
    for (const step of steps) {
      this.#inParent(step, (full) => {
        if (k.createDirectory(full)) return;
        const error = k.lastError;
        const existing = recursive && c.errorNames[error] === "EEXIST" ? k.pathAttributes(full) : null;
        if (existing && (existing.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) return;
        throw lastWindowsError(k, "CreateDirectoryW", step.display, error);
      });
    }
  }

  remove(place: RootPlace): void {
    const k = this.#k;
    this.#inParent(place, (full) => removeEntry(k, full, place.display));
  }

  removeAll(place: RootPlace): void {
    const k = this.#k;
    this.#inParent(place, (full) => {
      if (k.pathAttributes(full) === null && k.constants.errorNames[k.lastError] === "ENOENT") return;
      removeTree(k, full, place.display);
    });
  }

  rename(from: RootPlace, to: RootPlace): void {
    const k = this.#k;
    const c = k.constants;
    this.#inParent(from, (source) =>
      this.#inParent(to, (target) => {
        if (!k.moveFile(source, target, c.MOVEFILE_REPLACE_EXISTING | c.MOVEFILE_WRITE_THROUGH)) {
          throw lastWindowsError(k, "MoveFileExW", from.display);
        }
      })
    );
  }

  /** Windows keeps one permission bit: read-only. A mode without any write bit sets it, any other clears it. */
  chmod(place: RootPlace, mode: number): void {
    const k = this.#k;
    const c = k.constants;
    this.#with(place, c.FILE_READ_ATTRIBUTES, true, () => {
      const full = this.#resolve(place);
      const current = k.pathAttributes(full);
      if (!current) throw lastWindowsError(k, "GetFileAttributesExW", place.display);
      let attributes = (mode & 0o222) === 0
        ? current.attributes | c.FILE_ATTRIBUTE_READONLY
        : current.attributes & ~c.FILE_ATTRIBUTE_READONLY;
      if (attributes === 0) attributes = c.FILE_ATTRIBUTE_NORMAL;
      if (!k.setFileAttributes(full, attributes)) throw lastWindowsError(k, "SetFileAttributesW", place.display);
    });
  }

  /** Windows files have owners in their ACLs, not uids: only "change nothing" (-1, -1) succeeds. */
  chown(place: RootPlace, uid: number, gid: number): void {
    this.stat(place, true);
    if (uid !== -1 || gid !== -1) throw posixNamedError(this.#k.constants.errorNames, "ENOTSUP", "chown", place.display);
  }

  utimes(place: RootPlace, atimeNs: bigint, mtimeNs: bigint): void {
    const k = this.#k;
    this.#with(place, k.constants.FILE_WRITE_ATTRIBUTES, true, (handle) => {
      if (!k.setFileTimes(handle, atimeNs, mtimeNs)) throw lastWindowsError(k, "SetFileTime", place.display);
    });
  }

  readFile(place: RootPlace): Uint8Array {
    const k = this.#k;
    return this.#with(place, k.constants.GENERIC_READ, true, (handle) => {
      const stat = this.#platform.stat(Number(handle), place.display);
      if (stat.kind === "directory") throw posixNamedError(k.constants.errorNames, "EISDIR", "ReadFile", place.display);
      let bytes = new Uint8Array(stat.size);
      let filled = 0;
      for (;;) {
        // The file may have grown since it was measured: read until a read returns nothing.
        if (filled === bytes.length) {
          const larger = new Uint8Array(Math.max(bytes.length * 2, 65536));
          larger.set(bytes);
          bytes = larger;
        }
        const read = k.readAt(handle, bytes.subarray(filled), filled);
        if (read < 0) throw lastWindowsError(k, "ReadFile", place.display);
        if (read === 0) return bytes.slice(0, filled);
        filled += read;
      }
    });
  }

  /**
   * Writes a hidden temporary file beside the target and moves it over the
   * target (`MoveFileExW` with `MOVEFILE_REPLACE_EXISTING |
   * MOVEFILE_WRITE_THROUGH`): readers see the old content or the new, never
   * a mix. The new file takes its directory's inherited ACL; a `permissions`
   * without write bits makes it read-only.
   */
  writeFile(place: RootPlace, bytes: Uint8Array, permissions: number): void {
    const k = this.#k;
    const c = k.constants;
    this.#inParent(place, (full) => {
      const existing = k.pathAttributes(full);
      if (existing && (existing.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) {
        throw posixNamedError(c.errorNames, "EISDIR", "CreateFileW", place.display);
      }
      const slash = full.lastIndexOf("\\");
      const temporary = `${full.slice(0, slash + 1)}.${full.slice(slash + 1).slice(0, 50)}.${crypto.randomUUID()}.tmp`;
      const handle = k.createFile(temporary, c.GENERIC_WRITE, 0, c.CREATE_NEW, c.FILE_ATTRIBUTE_NORMAL);
      if (handle === INVALID_HANDLE_VALUE) throw lastWindowsError(k, "CreateFileW", place.display);
      let open = true;
      try {
        for (let done = 0; done < bytes.length;) {
          const written = k.writeAt(handle, bytes.subarray(done), done);
          if (written < 0) throw lastWindowsError(k, "WriteFile", place.display);
          done += written;
        }
        if (!k.flushFileBuffers(handle)) throw lastWindowsError(k, "FlushFileBuffers", place.display);
        open = false;
        if (!k.closeHandle(handle)) throw lastWindowsError(k, "CloseHandle", place.display);
        const readOnly = existing ? (existing.attributes & c.FILE_ATTRIBUTE_READONLY) !== 0 : (permissions & 0o222) === 0;
        if (existing && readOnly) k.setFileAttributes(full, existing.attributes & ~c.FILE_ATTRIBUTE_READONLY);
        if (!k.moveFile(temporary, full, c.MOVEFILE_REPLACE_EXISTING | c.MOVEFILE_WRITE_THROUGH)) {
          throw lastWindowsError(k, "MoveFileExW", place.display);
        }
        if (readOnly) k.setFileAttributes(full, c.FILE_ATTRIBUTE_READONLY);
      } catch (error) {
        if (open) k.closeHandle(handle);
        k.deleteFile(temporary);
        throw error;
      }
    });
  }

  truncate(place: RootPlace, size: number, beforeCut?: (stat: PlatformStat) => void): void {
    const k = this.#k;
    this.#with(place, k.constants.GENERIC_WRITE, true, (handle) => {
      // Everything below is about this handle: the file checked is the file cut.
      const stat = this.#platform.stat(Number(handle), place.display);
      if (stat.kind !== "file") throw posixNamedError(k.constants.errorNames, "EINVAL", "SetEndOfFile", place.display);
      beforeCut?.(stat);
      if (!k.setFileSize(handle, size)) throw lastWindowsError(k, "SetEndOfFile", place.display);
    });
  }

  syncParentDirectory(_place: RootPlace): void {
    this.#live(_place.display);
    // NTFS journals directory entries itself; Windows has no fsync of a directory.
  }

  // ---- Resolution ----

  /** Throws EBADF when the root was closed. */
  #live(display: string): void {
    if (this.closed) throw posixNamedError(this.#k.constants.errorNames, "EBADF", "CreateFileW", display);
  }

  /** The components of `place` beneath the root, `..` resolved as text (EACCES when it climbs out). */
  #parts(place: RootPlace): string[] {
    this.#live(place.display);
    if (!this.confined) return [];
    const parts: string[] = [];
    for (const component of place.relative.split(/[\\/]+/)) {
      if (component === "" || component === ".") continue;
      if (component === "..") {
        if (parts.length === 0) throw posixNamedError(this.#k.constants.errorNames, "EACCES", "CreateFileW", place.display);
        parts.pop();
      } else {
        parts.push(component);
      }
    }
    return parts;
  }

  /** The kernel path `place` leads to. */
  #resolve(place: RootPlace): string {
    if (!this.confined) {
      this.#live(place.display);
      return kernelPath(place.relative);
    }
    const parts = this.#parts(place);
    return kernelPath(parts.length === 0 ? this.path : `${this.path}\\${parts.join("\\")}`);
  }

  /**
   * The places of `place` and of each directory above it, outermost first,
   * up to the root (or, unconfined, up to the drive or share): what a
   * recursive mkdir makes.
   */
  #ancestry(place: RootPlace): RootPlace[] {
    if (this.confined) {
      const parts = this.#parts(place);
      return parts.map((_, at) => {
        const relative = parts.slice(0, at + 1).join("\\");
        return at === parts.length - 1 ? place : { relative, display: `${this.path}\\${relative}` };
      });
    }
    const full = this.#resolve(place).replace(/^\\\\\?\\/, "");
    const parts = full.split("\\");
    // "C:" or, for \\server\share, the four parts up to the share.
    const rootParts = full.startsWith("\\\\") ? 4 : 1;
    const places: RootPlace[] = [];
    for (let count = rootParts + 1; count <= parts.length; count++) {
      const prefix = parts.slice(0, count).join("\\");
      places.push(count === parts.length ? place : { relative: prefix, display: prefix });
    }
    return places;
  }

  /**
   * Opens what `place` leads to (following a final link when `follow`) and
   * refuses it, closed, when it lies outside the root.
   */
  #open(place: RootPlace, access: number, share: number, disposition: number, attributes: number, follow: boolean): bigint {
    const k = this.#k;
    const c = k.constants;
    const full = this.#resolve(place);
    if (isDevicePath(full)) throw posixNamedError(c.errorNames, "ENODEV", "CreateFileW", place.display);
    const flags = attributes | c.FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : c.FILE_FLAG_OPEN_REPARSE_POINT);
    const handle = k.createFile(full, access, share, disposition, flags);
    if (handle === INVALID_HANDLE_VALUE) throw lastWindowsError(k, "CreateFileW", place.display);
    if (this.confined) {
      const real = k.finalPath(handle);
      const where = real === null ? null : comparable(real);
      if (where === null || (where !== this.#real && !where.startsWith(`${this.#real}\\`))) {
        k.closeHandle(handle);
        throw posixNamedError(c.errorNames, "EACCES", "CreateFileW", place.display);
      }
    }
    return handle;
  }

  /** Runs `work` with `place` opened for `access`; closes it after. */
  #with<T>(place: RootPlace, access: number, follow: boolean, work: (handle: bigint) => T): T {
    const handle = this.#open(place, access, this.#shareAll, this.#k.constants.OPEN_EXISTING, 0, follow);
    try {
      return work(handle);
    } finally {
      this.#k.closeHandle(handle);
    }
  }

  /**
   * Runs `work` on the path of `place` while its parent directory is held
   * open without FILE_SHARE_DELETE (checked beneath the root), so the entry
   * acted on is in the directory checked.
   */
  #inParent<T>(place: RootPlace, work: (full: string) => T): T {
    const parts = this.#parts(place);
    if (this.confined && parts.length === 0) {
      throw posixNamedError(this.#k.constants.errorNames, "EBUSY", "CreateFileW", place.display);
    }
    const full = this.#resolve(place);
    const parentParts = parts.slice(0, -1);
    const parentRelative = this.confined ? parentParts.join("\\") : full.slice(0, Math.max(full.lastIndexOf("\\"), 3));
    const parentPlace = { relative: parentRelative, display: place.display };
    const c = this.#k.constants;
    const parent = this.#open(parentPlace, c.FILE_READ_ATTRIBUTES, this.#pinned, c.OPEN_EXISTING, 0, true);
    try {
      return work(full);
    } finally {
      this.#k.closeHandle(parent);
    }
  }
}

/** What a directory entry is, by its attributes. */
function kindOf(attributes: number, c: Kernel32["constants"]): FileKind {
  if ((attributes & c.FILE_ATTRIBUTE_REPARSE_POINT) !== 0) return "symlink";
  return (attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0 ? "directory" : "file";
}
