/**
 * `DescriptorRoot`: where MemMapFS paths lead, and the one place that walks
 * them. Every method of a MemMapFS hands its operation to {@linkcode
 * DescriptorRoot.at}, which calls it with a directory descriptor and a single
 * name (`unlinkat(dirFd, name)`, `fstatat(dirFd, name)`…), never with a path
 * it checked earlier.
 *
 * A confined root (`new MemMapFS({ root })`, `sub()`) holds its directory open
 * from construction and resolves every path beneath that descriptor in the
 * kernel: `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` where Linux has
 * it (5.6+), else a walk with `openat(O_NOFOLLOW)` one component at a time that
 * follows symbolic links itself, splicing the target into the rest of the path
 * and starting again at the root, and refuses any that would leave. An
 * operation never follows a final symbolic link in the kernel: it reports
 * {@linkcode FOLLOW}, and the root reads the link and resolves its target under
 * the same rules. Anchors: Go's `os.Root` (`root_openat.go`), cap-std
 * (`open_impl.rs`, `fs/manually/open.rs`) and `openat2(2)`.
 *
 * The unconfined root (a MemMapFS made without `root`) acts on absolute paths
 * relative to `AT_FDCWD` and may go anywhere, but it shares the same operations,
 * so it too never checks a path and then uses it again.
 *
 * @module
 */

import { errnoError, escapeError, MmapError } from "../../errors.ts";
import type { Libc } from "../../ffi/libc.ts";
import { errnoNumber } from "./posix_errors.ts";

/**
 * What an operation returns when the final name is a symbolic link it should
 * follow: the root reads the link and calls the operation again on its target.
 *
 * @example
 * ```ts ignore
 * root.at("a.txt", (dirFd, name) => isLink(libc.fstatat(dirFd, name, nofollow)) ? FOLLOW : name);
 * ```
 */
export const FOLLOW: unique symbol = Symbol("follow the final symbolic link");

/**
 * One operation on the last component of a path: `dirFd` is a directory
 * descriptor (or `AT_FDCWD`), `name` what to act on relative to it. It must
 * not follow a final symbolic link itself: it returns {@linkcode FOLLOW}.
 *
 * @example
 * ```ts ignore
 * const lstat: AtOperation<FileStat | null> = (dirFd, name) => libc.fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW);
 * ```
 */
export type AtOperation<T> = (dirFd: number, name: string) => T | typeof FOLLOW;

/** Links followed in one resolution before ELOOP, as Linux's own limit. */
const MAX_LINKS = 40;
/** Times an `openat2` that raced a rename (EAGAIN) is retried. */
const MAX_RETRIES = 64;
/** Times an open that looked like a link, then was not, is tried again. */
const MAX_RACE_RETRIES = 3;

/** Which libcs were found to lack a working openat2 (old kernel, seccomp). */
const withoutOpenat2 = new WeakSet<Libc>();

/**
 * A directory that paths resolve against: confined below a held descriptor,
 * or (with {@linkcode DescriptorRoot.unconfined}) anywhere.
 *
 * @example
 * ```ts ignore
 * const root = DescriptorRoot.open(libc(), "/srv/assets");
 * const size = root.at("css/site.css", (dirFd, name) => libc().fstatat(dirFd, name, 0)?.size);
 * root.close();
 * ```
 */
export class DescriptorRoot {
  readonly #libc: () => Libc;
  /** The held directory; `AT_FDCWD` when unconfined. */
  #fd: number;
  /** The absolute path the root was opened by: for messages and permission checks only. */
  readonly path: string;
  readonly confined: boolean;
  /** The call behind the last minus-errno {@linkcode DescriptorRoot.open} returned, for its error. */
  failedCall = "openat";

  /**
   * The libc the descriptor was opened with, which closes it: a root closed
   * by a FinalizationRegistry at any later moment must not reach whichever
   * libc is in use then (a test's fault-injecting one).
   */
  readonly #openedWith: Libc;

  private constructor(libc: () => Libc, fd: number, path: string, confined: boolean) {
    this.#libc = libc;
    this.#openedWith = libc();
    this.#fd = fd;
    this.path = path;
    this.confined = confined;
  }

  /**
   * Opens `path` (absolute) as a confined root. A symbolic link in `path` is
   * followed once, now: from then on the root is the directory it was.
   *
   * @throws {MmapError} ENOENT, ENOTDIR, EACCES… from the open.
   */
  static open(libc: () => Libc, path: string): DescriptorRoot {
    const l = libc();
    const c = l.constants;
    const fd = l.open(path, c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC | c.O_NONBLOCK, 0);
    if (fd < 0) throw errnoError(l.errno, c.errnoNames, "open", path);
    return new DescriptorRoot(libc, fd, path, true);
  }

  /** A root that takes absolute paths and may go anywhere. */
  static unconfined(libc: () => Libc): DescriptorRoot {
    return new DescriptorRoot(libc, libc().constants.AT_FDCWD, "/", false);
  }

  /** The held descriptor (`AT_FDCWD` when unconfined). */
  get fd(): number {
    if (this.#fd === -1) throw new MmapError(`EBADF: the directory "${this.path}" was closed`, {
      code: "EBADF", errno: 9, syscall: "openat", path: this.path,
    });
    return this.#fd;
  }

  /** Whether {@linkcode DescriptorRoot.close} was called. */
  get closed(): boolean {
    return this.#fd === -1;
  }

  /** Closes the held descriptor; later use throws EBADF. */
  close(): void {
    if (!this.confined || this.#fd === -1) return;
    this.#openedWith.close(this.#fd);
    this.#fd = -1;
  }

  /**
   * A new confined root for the directory `relative` leads to below this one
   * (following links inside), for `sub()`.
   *
   * @throws {MmapError} EACCES for an escape, ENOTDIR, ENOENT…
   */
  openBelow(relative: string, path: string): DescriptorRoot {
    const libc = this.#libc();
    const c = libc.constants;
    const flags = c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC | c.O_NONBLOCK;
    const fd = this.at(relative, (dirFd, name) => {
      const opened = openNotFollowing(libc, dirFd, name, flags, 0);
      if (opened === FOLLOW || opened >= 0) return opened;
      throw errnoError(-opened, c.errnoNames, "openat", path);
    }, path);
    return new DescriptorRoot(this.#libc, fd, path, true);
  }

  /**
   * Opens the file `relative` leads to with `flags` (no `O_NOFOLLOW`: links
   * inside are followed, and a confined root refuses those that leave).
   * Returns the descriptor, or minus the errno of a failure an opener may act
   * on (ENOENT, EEXIST…).
   *
   * @throws {MmapError} EACCES when the path leads outside a confined root.
   */
  open(relative: string, flags: number, mode: number, path: string): number {
    const libc = this.#libc();
    const c = libc.constants;
    this.failedCall = "openat";
    if (!this.confined) {
      const fd = libc.openat(c.AT_FDCWD, relative, flags, mode);
      return fd < 0 ? -libc.errno : fd;
    }
    if (this.#hasOpenat2(libc)) {
      const fd = this.#openat2(libc, relative === "" ? "." : relative, flags, mode, path);
      if (fd !== undefined) {
        this.failedCall = "openat2";
        return fd;
      }
    }
    return this.at(relative, (dirFd, name) => openNotFollowing(libc, dirFd, name, flags, mode), path);
  }

  /**
   * Runs `operation` on the last component of `relative`, with its parent
   * directory held open; when it answers {@linkcode FOLLOW}, reads the link
   * and runs it again where the link leads. `path` names the target in errors.
   *
   * @throws {MmapError} EACCES when a confined path leads outside, ELOOP after
   *   40 links, or what resolving a parent directory fails with.
   */
  at<T>(relative: string, operation: AtOperation<T>, path: string): T {
    const libc = this.#libc();
    let pending = relative;
    for (let links = 0;; links++) {
      if (links > MAX_LINKS) throw errnoError(errnoNumber(libc, "ELOOP"), libc.constants.errnoNames, "openat", path);
      const { dirFd, name, prefix, owned } = this.#parentOf(libc, pending, path);
      let target: string | null;
      try {
        const result = operation(dirFd, name);
        if (result !== FOLLOW) return result;
        target = libc.readlinkat(dirFd, name);
        // No longer a link (someone replaced it meanwhile): resolve the same path again.
        if (target === null && libc.errno === errnoNumber(libc, "EINVAL")) target = name;
        else if (target === null) throw errnoError(libc.errno, libc.constants.errnoNames, "readlinkat", path);
      } finally {
        if (owned) libc.close(dirFd);
      }
      if (target.startsWith("/")) {
        if (this.confined) throw escapeError(path, this.path);
        pending = target;
      } else {
        pending = prefix === "" ? target : `${prefix}/${target}`;
      }
    }
  }

  /**
   * The directory holding the last component of `relative`, and that
   * component. `prefix` is the directory's path as text to splice a relative
   * link target after (for the walk: the real directories it went through).
   */
  #parentOf(libc: Libc, relative: string, path: string): { dirFd: number; name: string; prefix: string; owned: boolean } {
    const c = libc.constants;
    if (!this.confined) {
      const slash = relative.lastIndexOf("/");
      return { dirFd: c.AT_FDCWD, name: relative, prefix: slash <= 0 ? "/" : relative.slice(0, slash), owned: false };
    }
    // One plain name (a file directly in the root, as most cache hits are):
    // no split, nothing to walk. Anything else takes the general path below.
    if (relative !== "" && relative !== "." && relative !== ".." && !relative.includes("/")) {
      return { dirFd: this.fd, name: relative, prefix: "", owned: false };
    }
    const parts = components(relative);
    let name = parts.pop() ?? ".";
    if (name === "..") {
      // "a/.." names a directory: act on "." inside it, never on ".." of a held one.
      parts.push(name);
      name = ".";
    }
    if (parts.length === 0) return { dirFd: this.fd, name, prefix: "", owned: false };
    const directory = parts.join("/");
    if (this.#hasOpenat2(libc)) {
      const flags = (c.O_PATH || c.O_RDONLY) | c.O_DIRECTORY | c.O_CLOEXEC;
      const fd = this.#openat2(libc, directory, flags, 0, path);
      if (fd !== undefined) {
        if (fd < 0) throw errnoError(-fd, c.errnoNames, "openat2", path);
        return { dirFd: fd, name, prefix: directory, owned: true };
      }
    }
    const walked = this.#walk(libc, parts, path);
    return { dirFd: walked.fd, name, prefix: walked.prefix, owned: walked.fd !== this.fd };
  }

  /**
   * openat2 beneath the root: the descriptor, minus an errno, or `undefined`
   * when this kernel has no usable openat2 (remembered: the walk takes over).
   */
  #openat2(libc: Libc, relative: string, flags: number, mode: number, path: string): number | undefined {
    const c = libc.constants;
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const fd = libc.openat2!(this.fd, relative, flags, mode, c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS);
      if (fd >= 0) return fd;
      const errno = libc.errno;
      const code = c.errnoNames[errno];
      // A rename elsewhere raced the lookup: the kernel asks to try again.
      if (code === "EAGAIN") continue;
      if (code === "EXDEV") throw escapeError(path, this.path);
      // The kernel's own link limits (nesting, 40 in all) are not ours to report:
      // the walk resolves this path and says EACCES, ELOOP or where it leads.
      if (code === "ELOOP") return undefined;
      if (code === "ENOSYS" || code === "EPERM" && !this.#openat2Works(libc)) {
        withoutOpenat2.add(libc);
        return undefined;
      }
      return -errno;
    }
    return -errnoNumber(libc, "EAGAIN");
  }

  #hasOpenat2(libc: Libc): boolean {
    return libc.openat2 !== undefined && !withoutOpenat2.has(libc);
  }

  /** EPERM from openat2 is a seccomp filter when opening the root itself fails the same way. */
  #openat2Works(libc: Libc): boolean {
    const c = libc.constants;
    const fd = libc.openat2!(this.fd, ".", (c.O_PATH || c.O_RDONLY) | c.O_CLOEXEC, 0, c.RESOLVE_BENEATH);
    if (fd < 0) return false;
    libc.close(fd);
    return true;
  }

  /**
   * The walk without openat2: opens each directory of `parts` with
   * O_NOFOLLOW below the last; a symbolic link's target replaces it in the
   * path and the walk starts again at the root; `..` pops a directory on the
   * text (never `openat(fd, "..")`) and starts again too.
   */
  #walk(libc: Libc, parts: string[], path: string): { fd: number; prefix: string } {
    const c = libc.constants;
    const flags = (c.O_PATH || c.O_RDONLY) | c.O_DIRECTORY | c.O_NOFOLLOW | c.O_CLOEXEC;
    let queue = [...parts];
    let prefix: string[] = [];
    let fd = this.fd;
    const restart = (replacement: string[]) => {
      queue = [...prefix, ...replacement, ...queue];
      prefix = [];
      if (fd !== this.fd) libc.close(fd);
      fd = this.fd;
    };
    try {
      for (let links = 0, retries = 0; queue.length > 0;) {
        const part = queue.shift()!;
        if (part === "..") {
          if (prefix.length === 0) throw escapeError(path, this.path);
          prefix.pop();
          restart([]);
          continue;
        }
        const next = libc.openat(fd, part, flags, 0);
        if (next >= 0) {
          if (fd !== this.fd) libc.close(fd);
          fd = next;
          prefix.push(part);
          continue;
        }
        const errno = libc.errno;
        if (!isLinkError(libc, errno)) throw errnoError(errno, c.errnoNames, "openat", path);
        if (++links > MAX_LINKS) throw errnoError(errnoNumber(libc, "ELOOP"), c.errnoNames, "openat", path);
        if (!this.#isLink(fd, part)) {
          // A link a moment ago and not now (swapped back), or really not a directory:
          // look again, a bounded number of times, before believing the error.
          if (++retries > MAX_RACE_RETRIES) throw errnoError(errno, c.errnoNames, "openat", path);
          queue.unshift(part);
          continue;
        }
        const target = libc.readlinkat(fd, part);
        if (target === null) {
          // Replaced by something else meanwhile: look at the same name again.
          if (libc.errno === errnoNumber(libc, "EINVAL")) queue.unshift(part);
          else throw errnoError(libc.errno, c.errnoNames, "readlinkat", path);
          continue;
        }
        if (target.startsWith("/")) throw escapeError(path, this.path);
        restart(components(target));
      }
    } catch (error) {
      if (fd !== this.fd) libc.close(fd);
      throw error;
    }
    return { fd, prefix: prefix.join("/") };
  }

  #isLink(dirFd: number, name: string): boolean {
    return isSymlinkAt(this.#libc(), dirFd, name);
  }
}

/**
 * openat of `name` below `dirFd` with `O_NOFOLLOW`: the descriptor, minus the
 * errno, or {@linkcode FOLLOW} when `name` is a symbolic link. An answer that
 * looks like a link's (ELOOP, ENOTDIR) from a name that is no link when looked
 * at is a swap in progress: the open is tried again a few times.
 *
 * @example
 * ```ts ignore
 * root.at("a.txt", (dirFd, name) => openNotFollowing(libc, dirFd, name, O_RDONLY, 0), "/srv/a.txt");
 * ```
 */
export function openNotFollowing(libc: Libc, dirFd: number, name: string, flags: number, mode: number): number | typeof FOLLOW {
  for (let attempt = 0;; attempt++) {
    const fd = libc.openat(dirFd, name, flags | libc.constants.O_NOFOLLOW, mode);
    if (fd >= 0) return fd;
    const errno = libc.errno;
    if (!isLinkError(libc, errno)) return -errno;
    if (isSymlinkAt(libc, dirFd, name)) return FOLLOW;
    if (attempt >= MAX_RACE_RETRIES) return -errno;
  }
}

/**
 * Whether `name` below `dirFd` is a symbolic link now (not following it).
 *
 * @example
 * ```ts ignore
 * if (isSymlinkAt(libc, dirFd, "current")) return FOLLOW;
 * ```
 */
export function isSymlinkAt(libc: Libc, dirFd: number, name: string): boolean {
  const c = libc.constants;
  const stat = libc.fstatat(dirFd, name, c.AT_SYMLINK_NOFOLLOW);
  return stat !== null && (stat.mode & c.S_IFMT) === c.S_IFLNK;
}

/**
 * The parts of a path, without empty ones and ".".
 *
 * @example
 * ```ts ignore
 * components("a//./b/"); // ["a", "b"]
 * ```
 */
export function components(relative: string): string[] {
  return relative.split("/").filter((part) => part !== "" && part !== ".");
}

/**
 * Whether `errno` is what an O_NOFOLLOW open of a symbolic link may answer
 * (ELOOP; ENOTDIR with O_DIRECTORY; EMLINK on some BSDs): then ask {@linkcode isSymlinkAt}.
 *
 * @example
 * ```ts ignore
 * if (fd < 0 && isLinkError(libc, libc.errno) && isSymlinkAt(libc, dirFd, name)) return FOLLOW;
 * ```
 */
export function isLinkError(libc: Libc, errno: number): boolean {
  const code = libc.constants.errnoNames[errno];
  return code === "ELOOP" || code === "ENOTDIR" || code === "EMLINK";
}
