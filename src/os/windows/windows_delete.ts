/**
 * Removing a file on Windows as close to POSIX `unlink` as the system
 * allows.
 *
 * @module
 */

import { INVALID_HANDLE_VALUE } from "../../ffi/constants.ts";
import type { Kernel32 } from "../../ffi/kernel32.ts";
import { lastWindowsError } from "./windows_errors.ts";

/**
 * Removes the file (or link) at the kernel path `full`, without following
 * a final link. First with POSIX semantics (`FileDispositionInfoEx`,
 * Windows 10 1709+ on NTFS): the name goes at once, as `unlink` does, while
 * handles and mappings others hold keep the file. Where that is not
 * available (older Windows, FAT, Wine), `DeleteFileW`: the file is then only
 * marked, and its name stays — so its directory cannot be removed, nor the
 * name reused — until the last handle to it closes. Returns false with the
 * error in `k.lastError`.
 *
 * @example
 * ```ts ignore
 * if (!deleteFile(k, "C:\\data\\old.bin")) throw lastWindowsError(k, "DeleteFileW", path);
 * ```
 */
export function deleteFile(k: Kernel32, full: string): boolean {
  const c = k.constants;
  const share = c.FILE_SHARE_READ | c.FILE_SHARE_WRITE | c.FILE_SHARE_DELETE;
  const flags = c.FILE_FLAG_OPEN_REPARSE_POINT | c.FILE_FLAG_BACKUP_SEMANTICS;
  const handle = k.createFile(full, c.DELETE | c.FILE_READ_ATTRIBUTES, share, c.OPEN_EXISTING, flags);
  if (handle !== INVALID_HANDLE_VALUE) {
    const posix = c.FILE_DISPOSITION_FLAG_DELETE | c.FILE_DISPOSITION_FLAG_POSIX_SEMANTICS |
      c.FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE;
    const done = k.setDisposition(handle, posix);
    k.closeHandle(handle);
    if (done) return true;
  }
  // Whatever stopped the POSIX way (no support, no DELETE access), DeleteFileW says it in its own error.
  return k.deleteFile(full);
}

/**
 * Removes the file, link or empty directory at the kernel path `full`,
 * never following a final link. A read-only file goes too, as POSIX
 * `unlink` ignores a file's mode.
 *
 * @example
 * ```ts ignore
 * removeEntry(k, "C:\\data\\old.bin", "C:\\data\\old.bin");
 * ```
 *
 * @throws {MmapError} ENOENT, ENOTEMPTY, EACCES…
 */
export function removeEntry(k: Kernel32, full: string, display: string): void {
  const c = k.constants;
  const attributes = k.pathAttributes(full);
  if (!attributes) throw lastWindowsError(k, "GetFileAttributesExW", display);
  if ((attributes.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0) {
    if (!k.removeDirectory(full)) throw lastWindowsError(k, "RemoveDirectoryW", display);
    return;
  }
  if (deleteFile(k, full)) return;
  // DeleteFileW refuses a read-only file until the bit is cleared.
  if ((attributes.attributes & c.FILE_ATTRIBUTE_READONLY) !== 0 && c.errorNames[k.lastError] === "EACCES") {
    if (k.setFileAttributes(full, attributes.attributes & ~c.FILE_ATTRIBUTE_READONLY) && k.deleteFile(full)) return;
  }
  throw lastWindowsError(k, "DeleteFileW", display);
}

/**
 * Removes the tree at the kernel path `full` without following links or
 * junctions (they go as entries); a missing path is fine.
 *
 * @example
 * ```ts ignore
 * removeTree(k, "C:\\data\\cache", "C:\\data\\cache");
 * ```
 *
 * @throws {MmapError} When an entry cannot be removed.
 */
export function removeTree(k: Kernel32, full: string, display: string): void {
  const c = k.constants;
  const attributes = k.pathAttributes(full);
  if (!attributes) return;
  const directory = (attributes.attributes & c.FILE_ATTRIBUTE_DIRECTORY) !== 0;
  const link = (attributes.attributes & c.FILE_ATTRIBUTE_REPARSE_POINT) !== 0;
  if (directory && !link) {
    const entries = k.listDirectory(full);
    if (!entries) throw lastWindowsError(k, "FindFirstFileW", display);
    for (const { name } of entries) {
      if (name !== "." && name !== "..") removeTree(k, `${full}\\${name}`, display);
    }
  }
  removeEntry(k, full, display);
}
