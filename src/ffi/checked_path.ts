/**
 * The text of a path as the runtimes' permission models read it: absolute,
 * with `.`, `..` and repeated or trailing slashes resolved on the text alone,
 * never through the file system. Deno checks, and then opens, exactly this
 * string; Node's permission model checks it. memmapfs checks it too and
 * opens the same string, so the file checked is the file opened: `dir/..`
 * means the parent of `dir` even when `dir` is a symbolic link.
 *
 * @module
 */

/** A path with an empty, `.` or `..` part, or a trailing slash (other than the root itself). */
const NEEDS_WORK = /\/\/|(^|\/)\.\.?(\/|$)|.\/$/;

/**
 * `path` made absolute against `cwd` (asked for only when `path` is relative), with its dot parts resolved as text
 * (like node:path's `resolve`); `..` at the root stays at the root.
 *
 * @example
 * ```ts
 * import { normalizedAbsolutePath } from "./checked_path.ts";
 * console.log(normalizedAbsolutePath("/var/run/../etc/hostname", "/")); // "/var/etc/hostname"
 * console.log(normalizedAbsolutePath("a/./b//c/../d/", "/srv"));         // "/srv/a/b/d"
 * ```
 */
export function normalizedAbsolutePath(path: string, cwd: string | (() => string)): string {
  // Most paths are already absolute and clean; they cost one test, and no cwd.
  if (path.startsWith("/") && !NEEDS_WORK.test(path)) return path;
  if (typeof cwd === "function") cwd = path.startsWith("/") ? "/" : cwd();
  const parts: string[] = [];
  for (const part of `${path.startsWith("/") ? "" : `${cwd}/`}${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
