/**
 * Paths and names as kernel32 wants them: backslashes, the `\\?\` prefix
 * that lifts the 260-character limit, and the kernel object names of named
 * shared memory.
 *
 * @module
 */

/**
 * Longest path the plain Win32 form takes (MAX_PATH less the NUL); longer
 * absolute paths get the `\\?\` prefix, which turns off Win32 parsing and
 * allows 32,767 characters.
 */
const PLAIN_PATH_MAX = 259;

/**
 * `path` in the form to hand a `W` function: `/` becomes `\`; an absolute
 * path longer than MAX_PATH gets `\\?\` (`\\?\UNC\` for a share), after the
 * `.` and `..` components are resolved as text, since the prefix turns that
 * resolution off.
 *
 * @example
 * ```ts
 * import { kernelPath } from "./windows_paths.ts";
 * console.log(kernelPath("C:/data/file.bin")); // "C:\data\file.bin"
 * console.log(kernelPath("C:\\" + "a\\".repeat(200)).startsWith("\\\\?\\C:\\")); // true
 * ```
 */
export function kernelPath(path: string): string {
  const backslashed = path.replaceAll("/", "\\");
  if (backslashed.length <= PLAIN_PATH_MAX || backslashed.startsWith("\\\\?\\")) return backslashed;
  const drive = /^[A-Za-z]:\\/.exec(backslashed);
  if (drive) return `\\\\?\\${drive[0]}${normalizeComponents(backslashed.slice(3))}`;
  if (backslashed.startsWith("\\\\") && !backslashed.startsWith("\\\\.\\")) {
    return `\\\\?\\UNC\\${normalizeComponents(backslashed.slice(2))}`;
  }
  return backslashed;
}

/** `a\.\b\..\c` → `a\c`; `..` never climbs above the start. */
function normalizeComponents(rest: string): string {
  const kept: string[] = [];
  for (const component of rest.split("\\")) {
    if (component === "" || component === ".") continue;
    if (component === "..") kept.pop();
    else kept.push(component);
  }
  return kept.join("\\");
}

/**
 * The kernel object name of the named shared memory `name` (given without a
 * leading slash). `Local\` puts it in this session's namespace, which is
 * where an unprefixed name goes too: Python's
 * `multiprocessing.shared_memory.SharedMemory("wnsm_1234")` on Windows opens
 * the same object as `Local\wnsm_1234`. (`Global\` needs the
 * SeCreateGlobalPrivilege that services have.)
 *
 * @example
 * ```ts
 * import { sharedMemoryObjectName } from "./windows_paths.ts";
 * console.log(sharedMemoryObjectName("wnsm_1234")); // "Local\wnsm_1234"
 * ```
 */
export function sharedMemoryObjectName(name: string): string {
  return `Local\\${name}`;
}

/**
 * Whether `path` is a Win32 device name rather than a file: `\\.\` paths and
 * the reserved DOS names (`CON`, `NUL`, `COM1`, `LPT1`, … with any extension,
 * in any directory), which CreateFileW opens as devices, never as files.
 *
 * @example
 * ```ts
 * import { isDevicePath } from "./windows_paths.ts";
 * console.log(isDevicePath("C:\\data\\nul.txt"), isDevicePath("C:\\data\\null.txt")); // true false
 * ```
 */
export function isDevicePath(path: string): boolean {
  const backslashed = path.replaceAll("/", "\\");
  if (backslashed.startsWith("\\\\.\\")) return true;
  const last = backslashed.slice(backslashed.lastIndexOf("\\") + 1);
  const stem = last.split(".")[0]!.replace(/[ ]+$/, "").toUpperCase();
  return /^(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(COM|LPT)[0-9¹²³])$/.test(stem);
}
