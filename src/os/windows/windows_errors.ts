/**
 * Errors of the Windows platform: the `MmapError` of a kernel32 call that
 * failed (its Windows code under a POSIX name), and of a refusal made above
 * kernel32 by POSIX name.
 *
 * @module
 */

import { errnoError, type MmapError } from "../../errors.ts";
import { windowsErrorFor } from "../../ffi/constants.ts";
import type { Kernel32 } from "../../ffi/kernel32.ts";

/**
 * The {@linkcode MmapError} of the kernel32 call that just failed (its
 * `GetLastError`, read by the binding right after the call).
 *
 * @example
 * ```ts ignore
 * if (!k.flushFileBuffers(handle)) throw lastWindowsError(k, "FlushFileBuffers", path);
 * ```
 */
export function lastWindowsError(k: Kernel32, syscall: string, label: string | null, error = k.lastError): MmapError {
  return errnoError(error, k.constants.errorNames, syscall, label);
}

/**
 * An {@linkcode MmapError} for the POSIX name `code`, with the Windows code
 * kernel32 reports for it (`errno` 0 for names Windows has no code for, such
 * as `EISDIR`).
 *
 * @example
 * ```ts
 * import { WINDOWS_X64 } from "../../ffi/constants.ts";
 * const error = posixNamedError(WINDOWS_X64.errorNames, "ELOOP", "CreateFileW", "C:\\link");
 * console.log(error.code, error.errno); // "ELOOP" 1921
 * ```
 */
export function posixNamedError(
  names: Readonly<Record<number, string>>,
  code: string,
  syscall: string,
  label: string | null,
): MmapError {
  const number = windowsErrorFor(code);
  return number === undefined
    ? errnoError(0, { 0: code }, syscall, label)
    : errnoError(number, names, syscall, label);
}
