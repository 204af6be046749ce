/**
 * Whole-file replacement that never leaves a half-written file: the bytes go
 * to a temporary file in the same directory, which is fsynced, renamed over
 * the target and followed by an fsync of the directory. A reader — or a
 * crash — sees the old contents or the new, never a mix; a mapping of the
 * old file keeps the old bytes, because the rename leaves its inode alive.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import { nodeBuiltins } from "../node_builtins.ts";
import { fsCall } from "./fs_paths.ts";

/** What {@linkcode writeFileAtomically} needs besides the bytes. */
export interface AtomicWriteOptions {
  /** Mode of a file that does not exist yet; an existing file keeps its own. */
  readonly permissions: number;
}

/**
 * Replaces the contents of `target` with `bytes` atomically and durably.
 * A final symbolic link is followed, so the link stays and its file changes.
 * An existing file keeps its mode, and its owner where this process may set
 * it. Returns the path written (the link's target, for a link).
 *
 * @throws {MmapError} ENOENT for a missing directory, EISDIR for a directory,
 *   or the errno of the failing write, fsync or rename; the target is untouched.
 *
 * @example
 * ```ts ignore
 * writeFileAtomically("/srv/config.json", new TextEncoder().encode("{}"), { permissions: 0o600 });
 * ```
 */
export function writeFileAtomically(target: string, bytes: Uint8Array, options: AtomicWriteOptions): string {
  const { fs, path } = nodeBuiltins();
  let file = target;
  let existing = statOrNull(file, true);
  if (existing?.isSymbolicLink()) {
    file = fsCall("realpath", target, () => fs.realpathSync(target));
    existing = statOrNull(file, false);
  }
  if (existing?.isDirectory()) {
    throw new MmapError(`EISDIR: cannot write "${target}": it is a directory`, {
      code: "EISDIR", errno: 21, syscall: "open", path: target,
    });
  }
  const directory = path.dirname(file);
  // Hidden, unguessable, and short enough for NAME_MAX even when the file's name is long.
  const temporary = path.join(directory, `.${path.basename(file).slice(0, 50)}.${crypto.randomUUID()}.tmp`);
  // Created private; the final mode is set on the descriptor before any byte is written.
  const fd = fsCall("open", temporary, () => fs.openSync(temporary, "wx", 0o600));
  let closed = false;
  try {
    fs.fchmodSync(fd, existing ? existing.mode & 0o7777 : options.permissions);
    if (existing) keepOwner(fd, existing);
    for (let done = 0; done < bytes.length;) {
      done += fsCall("write", temporary, () => fs.writeSync(fd, bytes, done, bytes.length - done));
    }
    fsCall("fsync", temporary, () => fs.fsyncSync(fd));
    closed = true;
    fsCall("close", temporary, () => fs.closeSync(fd));
    fsCall("rename", target, () => fs.renameSync(temporary, file));
  } catch (error) {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch { /* closed already */ }
    }
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  syncDirectory(directory);
  return file;
}

/**
 * fsync of a directory, so a rename or creation in it survives a crash.
 *
 * @throws {MmapError} When the directory cannot be opened or synced.
 *
 * @example
 * ```ts ignore
 * syncDirectory("/srv");
 * ```
 */
export function syncDirectory(directory: string): void {
  const { fs } = nodeBuiltins();
  const fd = fsCall("open", directory, () => fs.openSync(directory, "r"));
  try {
    fsCall("fsync", directory, () => fs.fsyncSync(fd));
  } finally {
    fs.closeSync(fd);
  }
}

function statOrNull(file: string, link: boolean): import("node:fs").Stats | null {
  const { fs } = nodeBuiltins();
  const stat = fsCall(link ? "lstat" : "stat", file, () =>
    link ? fs.lstatSync(file, { throwIfNoEntry: false }) : fs.statSync(file, { throwIfNoEntry: false }));
  return stat ?? null;
}

/** Gives the new file the old one's owner; only root (or the owner, for the group) may. */
function keepOwner(fd: number, existing: import("node:fs").Stats): void {
  const { fs } = nodeBuiltins();
  // The new file's own owner, not the process's ids: that needs no --allow-sys
  // on Deno, and a set-group-ID directory gives new files its group.
  const made = fs.fstatSync(fd);
  if (existing.uid === made.uid && existing.gid === made.gid) return;
  try {
    fs.fchownSync(fd, existing.uid, existing.gid);
  } catch { /* not permitted: the replacement belongs to this process's user */ }
}
