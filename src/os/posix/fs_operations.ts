/**
 * The directory and metadata operations of MemMapFS, each written against
 * one directory descriptor and one name (`fstatat`, `mkdirat`, `unlinkat`,
 * `renameat`, `fchmodat`, `fchownat`, `utimensat`, a listing from a
 * descriptor) and run through {@linkcode DescriptorRoot.at}, so the name
 * acted on is the one that was resolved, never a path looked at earlier.
 * None follows a final symbolic link in the kernel: those that follow one
 * answer {@linkcode FOLLOW} and the root resolves the target under its rules.
 *
 * @module
 */

import { errnoError, type MmapError } from "../../errors.ts";
import type { DirectoryEntry, FileStat, Libc } from "../../ffi/libc.ts";
import { nodeBuiltins } from "../../node_builtins.ts";
import { components, type DescriptorRoot, FOLLOW, openNotFollowing } from "./descriptor_root.ts";
import type { RootEntry, RootPlace as Place } from "../platform.ts";
import { fileKind } from "./posix_errors.ts";

const failure = (libc: Libc, syscall: string, path: string, errno = libc.errno): MmapError =>
  errnoError(errno, libc.constants.errnoNames, syscall, path);

const typeOf = (libc: Libc, stat: FileStat) => stat.mode & libc.constants.S_IFMT;

/**
 * `stat` (following a final link) or `lstat` of `place`.
 *
 * @throws {MmapError} ENOENT, ENOTDIR, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * const size = statAt(libc, root, place, true).size;
 * ```
 */
export function statAt(libc: Libc, root: DescriptorRoot, place: Place, follow: boolean): FileStat {
  const c = libc.constants;
  return root.at(place.relative, (dirFd, name) => {
    const stat = libc.fstatat(dirFd, name, c.AT_SYMLINK_NOFOLLOW);
    if (!stat) throw failure(libc, "fstatat", place.display);
    return follow && typeOf(libc, stat) === c.S_IFLNK ? FOLLOW : stat;
  }, place.display);
}

/**
 * The entries of the directory `place` leads to, sorted by name.
 *
 * @throws {MmapError} ENOTDIR, ENOENT, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * for (const entry of readDirAt(libc, root, place)) console.log(entry.name);
 * ```
 */
export function readDirAt(libc: Libc, root: DescriptorRoot, place: Place): RootEntry[] {
  const fd = openDirectoryAt(libc, root, place.relative, place.display);
  const c = libc.constants;
  try {
    const entries = listDescriptor(libc, fd, place.display).map(({ name, type }) => {
      const known = type === c.DT_DIR ? c.S_IFDIR : type === c.DT_REG ? c.S_IFREG : type === c.DT_LNK ? c.S_IFLNK : -1;
      return { name, type: known };
    });
    return entries.map(({ name, type }) => {
      // The file system did not say (DT_UNKNOWN): ask for this entry alone.
      const stat = type === -1 ? libc.fstatat(fd, name, c.AT_SYMLINK_NOFOLLOW) : null;
      return { name, kind: fileKind(stat ? typeOf(libc, stat) : type, c) };
    }).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  } finally {
    libc.close(fd);
  }
}

/** Opens the directory `relative` leads to (links inside followed), readable, for listing. */
function openDirectoryAt(libc: Libc, root: DescriptorRoot, relative: string, display: string): number {
  const c = libc.constants;
  const flags = c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW | c.O_CLOEXEC | c.O_NONBLOCK;
  return root.at(relative, (dirFd, name) => {
    const fd = openNotFollowing(libc, dirFd, name, flags, 0);
    if (fd === FOLLOW || fd >= 0) return fd;
    throw failure(libc, "openat", display, -fd);
  }, display);
}

/**
 * Names and types in the directory open as `fd` (which stays open: the
 * listing reads a second descriptor of the same directory).
 */
function listDescriptor(libc: Libc, fd: number, display: string): DirectoryEntry[] {
  const c = libc.constants;
  const own = libc.openat(fd, ".", c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0);
  if (own < 0) throw failure(libc, "openat", display);
  const dir = libc.fdopendir(own);
  if (dir === 0n) {
    const error = failure(libc, "fdopendir", display);
    libc.close(own);
    throw error;
  }
  const entries: DirectoryEntry[] = [];
  try {
    for (;;) {
      const entry = libc.readdir(dir);
      if (entry === null) break;
      if (entry === -1) throw failure(libc, "readdir", display);
      if (entry.name !== "." && entry.name !== "..") entries.push(entry);
    }
  } finally {
    libc.closedir(dir);
  }
  return entries;
}

/**
 * Makes the directory `place`; with `recursive`, each missing parent too, and
 * an existing directory (or a link to one inside) is fine.
 *
 * @throws {MmapError} EEXIST, ENOENT, ENOTDIR, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * mkdirAt(libc, root, place, 0o777, true);
 * ```
 */
export function mkdirAt(libc: Libc, root: DescriptorRoot, place: Place, mode: number, recursive: boolean): void {
  const c = libc.constants;
  if (!recursive) {
    root.at(place.relative, (dirFd, name) => {
      if (libc.mkdirat(dirFd, name, mode) !== 0) throw failure(libc, "mkdirat", place.display);
    }, place.display);
    return;
  }
  const parts = components(place.relative);
  const lead = root.confined ? "" : "/";
  for (let i = 1; i <= parts.length; i++) {
    const last = i === parts.length;
    root.at(lead + parts.slice(0, i).join("/"), (dirFd, name) => {
      if (libc.mkdirat(dirFd, name, mode) === 0) return;
      const errno = libc.errno;
      if (c.errnoNames[errno] !== "EEXIST") throw failure(libc, "mkdirat", place.display, errno);
      const stat = libc.fstatat(dirFd, name, c.AT_SYMLINK_NOFOLLOW);
      if (stat && typeOf(libc, stat) === c.S_IFDIR) return;
      if (stat && typeOf(libc, stat) === c.S_IFLNK) return FOLLOW;
      if (!stat && c.errnoNames[libc.errno] !== "ENOENT") throw failure(libc, "fstatat", place.display);
      throw failure(libc, "mkdirat", place.display, last ? errno : errnoOf(libc, "ENOTDIR"));
    }, place.display);
  }
}

/**
 * Removes the file, symbolic link (not what it points to) or empty directory `place`.
 *
 * @throws {MmapError} ENOENT, ENOTEMPTY, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * removeAt(libc, root, place);
 * ```
 */
export function removeAt(libc: Libc, root: DescriptorRoot, place: Place): void {
  root.at(place.relative, (dirFd, name) => {
    const error = removeEntry(libc, dirFd, name, place.display);
    if (error) throw error;
  }, place.display);
}

/** unlinkat, and rmdir when it is a directory: no look first, so nothing to race. */
function removeEntry(libc: Libc, dirFd: number, name: string, display: string): MmapError | undefined {
  const c = libc.constants;
  if (libc.unlinkat(dirFd, name, 0) === 0) return undefined;
  const first = libc.errno;
  // Linux answers EISDIR for a directory, POSIX (and Darwin) EPERM.
  if (c.errnoNames[first] === "EISDIR" || c.errnoNames[first] === "EPERM") {
    if (libc.unlinkat(dirFd, name, c.AT_REMOVEDIR) === 0) return undefined;
    if (c.errnoNames[libc.errno] !== "ENOTDIR") return failure(libc, "unlinkat", display);
  }
  return failure(libc, "unlinkat", display, first);
}

/**
 * Removes `place` and, for a directory, everything below it, descending
 * through directory descriptors opened with O_NOFOLLOW (a link met on the way
 * is removed, never followed). Nothing there is fine.
 *
 * @throws {MmapError} EACCES (escape), or what a removal fails with.
 *
 * @example
 * ```ts ignore
 * removeAllAt(libc, root, place);
 * ```
 */
export function removeAllAt(libc: Libc, root: DescriptorRoot, place: Place): void {
  root.at(place.relative, (dirFd, name) => removeTree(libc, dirFd, name, place.display), place.display);
}

function removeTree(libc: Libc, dirFd: number, name: string, display: string): void {
  const c = libc.constants;
  const error = removeEntry(libc, dirFd, name, display);
  if (!error || error.code === "ENOENT") return;
  if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
  const fd = libc.openat(dirFd, name, c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW | c.O_CLOEXEC | c.O_NONBLOCK, 0);
  if (fd < 0) {
    if (c.errnoNames[libc.errno] === "ENOENT") return;
    throw failure(libc, "openat", display);
  }
  try {
    for (const entry of listDescriptor(libc, fd, display)) removeTree(libc, fd, entry.name, `${display}/${entry.name}`);
  } finally {
    libc.close(fd);
  }
  // A file system's own root ("." of the held descriptor) is emptied, not removed.
  if (name === ".") return;
  if (libc.unlinkat(dirFd, name, c.AT_REMOVEDIR) !== 0 && c.errnoNames[libc.errno] !== "ENOENT") {
    throw failure(libc, "unlinkat", display);
  }
}

/**
 * Renames `from` to `to`, both resolved beneath the root, with both parent
 * directories held while renameat runs. Neither final link is followed.
 *
 * @throws {MmapError} ENOENT, EXDEV, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * renameAt(libc, root, from, to);
 * ```
 */
export function renameAt(libc: Libc, root: DescriptorRoot, from: Place, to: Place): void {
  root.at(from.relative, (fromDir, fromName) =>
    root.at(to.relative, (toDir, toName) => {
      if (libc.renameat(fromDir, fromName, toDir, toName) !== 0) throw failure(libc, "renameat", from.display);
    }, to.display), from.display);
}

/**
 * chmod of what `place` leads to (a final link followed inside).
 *
 * @throws {MmapError} ENOENT, EPERM, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * chmodAt(libc, root, place, 0o644);
 * ```
 */
export function chmodAt(libc: Libc, root: DescriptorRoot, place: Place, mode: number): void {
  const c = libc.constants;
  root.at(place.relative, (dirFd, name) => {
    if (notFollowed(libc, dirFd, name, place.display)) return FOLLOW;
    if (libc.fchmodat(dirFd, name, mode, c.AT_SYMLINK_NOFOLLOW) === 0) return;
    const errno = libc.errno;
    const code = c.errnoNames[errno];
    if (code !== "EOPNOTSUPP" && code !== "ENOTSUP") throw failure(libc, "fchmodat", place.display, errno);
    // Linux refuses to chmod a link, and an old libc any file, without following:
    // become a link meanwhile → follow it; else change it through its own descriptor.
    const fd = openNotFollowing(libc, dirFd, name, c.O_RDONLY | c.O_CLOEXEC | c.O_NONBLOCK, 0);
    if (fd === FOLLOW) return FOLLOW;
    if (fd < 0) throw failure(libc, "openat", place.display, -fd);
    const result = libc.fchmod(fd, mode);
    const error = result === 0 ? undefined : failure(libc, "fchmod", place.display);
    libc.close(fd);
    if (error) throw error;
  }, place.display);
}

/**
 * chown of what `place` leads to (a final link followed inside); -1 keeps an id.
 *
 * @throws {MmapError} ENOENT, EPERM, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * chownAt(libc, root, place, 1000, -1);
 * ```
 */
export function chownAt(libc: Libc, root: DescriptorRoot, place: Place, uid: number, gid: number): void {
  const c = libc.constants;
  root.at(place.relative, (dirFd, name) => {
    if (notFollowed(libc, dirFd, name, place.display)) return FOLLOW;
    // Not following: if the name became a link meanwhile, the link itself changes, inside.
    if (libc.fchownat(dirFd, name, uid, gid, c.AT_SYMLINK_NOFOLLOW) !== 0) throw failure(libc, "fchownat", place.display);
  }, place.display);
}

/**
 * Sets access and modification times (ns since the epoch) of what `place` leads to.
 *
 * @throws {MmapError} ENOENT, EPERM, EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * utimesAt(libc, root, place, 0n, 1_000_000_000n);
 * ```
 */
export function utimesAt(libc: Libc, root: DescriptorRoot, place: Place, atimeNs: bigint, mtimeNs: bigint): void {
  const c = libc.constants;
  root.at(place.relative, (dirFd, name) => {
    if (notFollowed(libc, dirFd, name, place.display)) return FOLLOW;
    if (libc.utimensat(dirFd, name, atimeNs, mtimeNs, c.AT_SYMLINK_NOFOLLOW) !== 0) {
      throw failure(libc, "utimensat", place.display);
    }
  }, place.display);
}

/** True when `name` is a symbolic link still to follow; throws when it is missing. */
function notFollowed(libc: Libc, dirFd: number, name: string, display: string): boolean {
  const stat = libc.fstatat(dirFd, name, libc.constants.AT_SYMLINK_NOFOLLOW);
  if (!stat) throw failure(libc, "fstatat", display);
  return typeOf(libc, stat) === libc.constants.S_IFLNK;
}

/**
 * Reads the whole file `place` leads to with pread, into a buffer of its own
 * (never out of a shared mapping another process could cut short: SIGBUS).
 * Reads the size fstat reports, as node:fs does (bytes appended after that
 * are not waited for); a file that reports size 0 (`/proc`) is read to its end.
 *
 * @throws {MmapError} ENOENT, EISDIR, ENODEV (not a regular file), EACCES (escape)…
 *
 * @example
 * ```ts ignore
 * const bytes = readFileAt(libc, root, place);
 * ```
 */
export function readFileAt(libc: Libc, root: DescriptorRoot, place: Place): Uint8Array {
  const c = libc.constants;
  const fd = root.open(place.relative, c.O_RDONLY | c.O_CLOEXEC | c.O_NONBLOCK | c.O_NOCTTY, 0, place.display);
  if (fd < 0) throw failure(libc, root.failedCall, place.display, -fd);
  try {
    // The rules that judge the real file, not the text (Deno's for /dev,
    // /proc, /sys), on the descriptor itself: no link swapped in between.
    libc.checkOpenedFile(fd, "open");
    const stat = libc.fstat(fd);
    if (!stat) throw failure(libc, "fstat", place.display);
    const type = typeOf(libc, stat);
    if (type !== c.S_IFREG) throw failure(libc, "open", place.display, errnoOf(libc, type === c.S_IFDIR ? "EISDIR" : "ENODEV"));
    let buffer = fileBuffer(stat.size);
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        // All fstat reported: the file as it was then, as node:fs reads it (no
        // extra read to ask whether it grew since).
        if (filled > 0 && filled === stat.size) break;
        // Size 0 (/proc) or more than reported: one more read says whether it ends here.
        const more = libc.pread(fd, probe, filled);
        if (more < 0) throw failure(libc, "pread", place.display);
        if (more === 0) break;
        const grown = new Uint8Array(Math.max(buffer.length * 2, filled + more));
        grown.set(buffer.subarray(0, filled));
        grown.set(probe.subarray(0, more), filled);
        buffer = grown;
        filled += more;
        continue;
      }
      const read = libc.pread(fd, buffer.subarray(filled), filled);
      if (read < 0) throw failure(libc, "pread", place.display);
      if (read === 0) break;
      filled += read;
    }
    return filled === buffer.length ? buffer : buffer.slice(0, filled);
  } finally {
    libc.close(fd);
  }
}

/**
 * A buffer of `size` bytes to read a file into, its whole `ArrayBuffer`. Not
 * zero-filled where the runtime can skip that (Node and Bun: zeroing 64 KiB
 * costs more than reading it from the page cache); readFileAt returns only
 * the bytes it read, so nothing left over from the allocator is ever handed out.
 */
function fileBuffer(size: number): Uint8Array {
  if (size < 4096) return new Uint8Array(size);
  const unfilled = nodeBuiltins().buffer.Buffer.allocUnsafeSlow(size);
  // A plain Uint8Array over the same memory: a Buffer's slice() would share it, not copy.
  return new Uint8Array(unfilled.buffer, unfilled.byteOffset, size);
}

/** Where readFileAt looks past what fstat said. */
const probe = new Uint8Array(16384);

/**
 * Replaces the contents of what `place` leads to atomically and durably: a
 * temporary file made with O_EXCL in the same directory descriptor, written,
 * fsynced, renamed over the name with renameat on that descriptor, and the
 * directory fsynced. A final link inside is followed (the link stays). An
 * existing file keeps its mode, and its owner where this process may set it.
 *
 * @throws {MmapError} ENOENT for a missing directory, EISDIR for a directory,
 *   EACCES (escape), or the errno of the failing write, fsync or rename; the
 *   target is untouched.
 *
 * @example
 * ```ts ignore
 * writeFileAt(libc, root, place, new TextEncoder().encode("{}"), 0o600);
 * ```
 */
export function writeFileAt(libc: Libc, root: DescriptorRoot, place: Place, bytes: Uint8Array, permissions: number): void {
  const c = libc.constants;
  root.at(place.relative, (dirFd, name) => {
    const existing = libc.fstatat(dirFd, name, c.AT_SYMLINK_NOFOLLOW);
    if (!existing && c.errnoNames[libc.errno] !== "ENOENT") throw failure(libc, "fstatat", place.display);
    if (existing && typeOf(libc, existing) === c.S_IFLNK) return FOLLOW;
    if (existing && typeOf(libc, existing) === c.S_IFDIR) {
      throw failure(libc, "open", place.display, errnoOf(libc, "EISDIR"));
    }
    const slash = name.lastIndexOf("/");
    // Hidden, unguessable, and short enough for NAME_MAX even when the file's name is long.
    const temporary = `${name.slice(0, slash + 1)}.${name.slice(slash + 1).slice(0, 50)}.${crypto.randomUUID()}.tmp`;
    // Created private; the final mode is set on the descriptor before any byte is written.
    const fd = libc.openat(dirFd, temporary, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW | c.O_CLOEXEC, 0o600);
    if (fd < 0) throw failure(libc, "openat", place.display);
    let open = true;
    try {
      if (libc.fchmod(fd, existing ? existing.mode & 0o7777 : permissions) !== 0) throw failure(libc, "fchmod", place.display);
      if (existing) keepOwner(libc, dirFd, temporary, fd, existing, place.display);
      for (let done = 0; done < bytes.length;) {
        const written = libc.write(fd, bytes.subarray(done));
        if (written < 0) throw failure(libc, "write", place.display);
        done += written;
      }
      if (libc.fsync(fd) !== 0) throw failure(libc, "fsync", place.display);
      open = false;
      if (libc.close(fd) !== 0) throw failure(libc, "close", place.display);
      if (libc.renameat(dirFd, temporary, dirFd, name) !== 0) throw failure(libc, "renameat", place.display);
    } catch (error) {
      if (open) libc.close(fd);
      libc.unlinkat(dirFd, temporary, 0);
      throw error;
    }
    syncDirectoryOf(libc, dirFd, name, place.display);
  }, place.display);
}

/**
 * fsync of the directory holding `name` below `dirFd`, so a rename or
 * creation there survives a crash.
 *
 * @throws {MmapError} When the directory cannot be opened or synced.
 *
 * @example
 * ```ts ignore
 * syncDirectoryOf(libc, dirFd, "a.txt", "/srv/a.txt");
 * ```
 */
export function syncDirectoryOf(libc: Libc, dirFd: number, name: string, display: string): void {
  const c = libc.constants;
  const slash = name.lastIndexOf("/");
  const directory = slash < 0 ? "." : slash === 0 ? "/" : name.slice(0, slash);
  const fd = libc.openat(dirFd, directory, c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0);
  if (fd < 0) throw failure(libc, "openat", display);
  let error = libc.fsync(fd) === 0 ? undefined : failure(libc, "fsync", display);
  // A close error after fsync is reported too: we cannot tell what it lost.
  if (libc.close(fd) !== 0) error ??= failure(libc, "close", display);
  if (error) throw error;
}

/**
 * Gives the new file the old one's owner; only root (or the owner, for the
 * group) may. Compared with the new file's own owner, not the process's ids:
 * that needs no --allow-sys on Deno, and a set-group-ID directory gives new
 * files its group.
 */
function keepOwner(libc: Libc, dirFd: number, temporary: string, fd: number, existing: FileStat, display: string): void {
  const made = libc.fstat(fd);
  if (!made) throw failure(libc, "fstat", display);
  if (existing.uid === made.uid && existing.gid === made.gid) return;
  // Not permitted is fine: the replacement then belongs to this process's user.
  libc.fchownat(dirFd, temporary, existing.uid, existing.gid, libc.constants.AT_SYMLINK_NOFOLLOW);
}

function errnoOf(libc: Libc, name: string): number {
  for (const [number, candidate] of Object.entries(libc.constants.errnoNames)) if (candidate === name) return Number(number);
  throw new Error(`Unknown errno name ${name}`);
}
