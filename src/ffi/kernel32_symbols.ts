/**
 * The kernel32 functions memmapfs calls on Windows, with their C prototypes,
 * in one table the three runtime shims translate into their FFI's types
 * (kernel32_bun.ts, kernel32_deno.ts, kernel32_node.ts): one list of
 * functions and argument shapes, so the Deno and Node bindings, which cannot
 * run under Wine, are the same table the Bun one tested there is.
 *
 * Argument kinds, and what the shims pass and return for each:
 * - `handle`: a `HANDLE` (64-bit), a `bigint`;
 * - `address`: a `void *` to memory, a `bigint` (0n for NULL);
 * - `usize`: `SIZE_T` / `ULONG_PTR`, a `bigint`;
 * - `i64`: `LARGE_INTEGER` by value, a `bigint`;
 * - `u32`: `DWORD`, `ULONG`, `UINT`, a `number`; `i32`: `BOOL` and `int`, a `number`;
 * - `buffer`: a pointer to bytes JavaScript owns for the call (a wide string,
 *   a struct to fill), a `Uint8Array`, or `null` for NULL;
 * - `void`: no result (returns `undefined`).
 *
 * @module
 */

/** How one argument or result crosses the FFI (see the module doc). */
export type Kernel32Type = "handle" | "address" | "usize" | "i64" | "u32" | "i32" | "buffer" | "void";

/** One kernel32 function: its argument kinds and its result kind. */
export interface Kernel32Symbol {
  readonly parameters: readonly Kernel32Type[];
  readonly result: Kernel32Type;
}

/** The functions every Windows memmapfs needs. */
export const KERNEL32_SYMBOLS = {
  // HANDLE CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
  //   LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
  //   DWORD dwFlagsAndAttributes, HANDLE hTemplateFile)
  CreateFileW: { parameters: ["buffer", "u32", "u32", "address", "u32", "u32", "handle"], result: "handle" },
  // BOOL CloseHandle(HANDLE hObject)
  CloseHandle: { parameters: ["handle"], result: "i32" },
  // BOOL DuplicateHandle(HANDLE hSourceProcessHandle, HANDLE hSourceHandle, HANDLE hTargetProcessHandle,
  //   LPHANDLE lpTargetHandle, DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwOptions)
  DuplicateHandle: { parameters: ["handle", "handle", "handle", "buffer", "u32", "i32", "u32"], result: "i32" },
  // BOOL GetFileSizeEx(HANDLE hFile, PLARGE_INTEGER lpFileSize)
  GetFileSizeEx: { parameters: ["handle", "buffer"], result: "i32" },
  // BOOL GetFileInformationByHandle(HANDLE hFile, LPBY_HANDLE_FILE_INFORMATION lpFileInformation)
  GetFileInformationByHandle: { parameters: ["handle", "buffer"], result: "i32" },
  // BOOL GetFileInformationByHandleEx(HANDLE hFile, FILE_INFO_BY_HANDLE_CLASS FileInformationClass,
  //   LPVOID lpFileInformation, DWORD dwBufferSize)
  GetFileInformationByHandleEx: { parameters: ["handle", "i32", "buffer", "u32"], result: "i32" },
  // BOOL GetFileAttributesExW(LPCWSTR lpFileName, GET_FILEEX_INFO_LEVELS fInfoLevelId, LPVOID lpFileInformation)
  GetFileAttributesExW: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  // DWORD GetFinalPathNameByHandleW(HANDLE hFile, LPWSTR lpszFilePath, DWORD cchFilePath, DWORD dwFlags)
  GetFinalPathNameByHandleW: { parameters: ["handle", "buffer", "u32", "u32"], result: "u32" },
  // BOOL SetFilePointerEx(HANDLE hFile, LARGE_INTEGER liDistanceToMove, PLARGE_INTEGER lpNewFilePointer,
  //   DWORD dwMoveMethod)
  SetFilePointerEx: { parameters: ["handle", "i64", "buffer", "u32"], result: "i32" },
  // BOOL SetEndOfFile(HANDLE hFile)
  SetEndOfFile: { parameters: ["handle"], result: "i32" },
  // BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
  //   LPOVERLAPPED lpOverlapped)
  ReadFile: { parameters: ["handle", "buffer", "u32", "buffer", "buffer"], result: "i32" },
  // BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten,
  //   LPOVERLAPPED lpOverlapped)
  WriteFile: { parameters: ["handle", "buffer", "u32", "buffer", "buffer"], result: "i32" },
  // DWORD GetFileType(HANDLE hFile)
  GetFileType: { parameters: ["handle"], result: "u32" },
  // BOOL FlushFileBuffers(HANDLE hFile)
  FlushFileBuffers: { parameters: ["handle"], result: "i32" },
  // BOOL LockFileEx(HANDLE hFile, DWORD dwFlags, DWORD dwReserved, DWORD nNumberOfBytesToLockLow,
  //   DWORD nNumberOfBytesToLockHigh, LPOVERLAPPED lpOverlapped)
  LockFileEx: { parameters: ["handle", "u32", "u32", "u32", "u32", "buffer"], result: "i32" },
  // BOOL UnlockFileEx(HANDLE hFile, DWORD dwReserved, DWORD nNumberOfBytesToUnlockLow,
  //   DWORD nNumberOfBytesToUnlockHigh, LPOVERLAPPED lpOverlapped)
  UnlockFileEx: { parameters: ["handle", "u32", "u32", "u32", "buffer"], result: "i32" },
  // BOOL SetFileInformationByHandle(HANDLE hFile, FILE_INFO_BY_HANDLE_CLASS FileInformationClass,
  //   LPVOID lpFileInformation, DWORD dwBufferSize)
  SetFileInformationByHandle: { parameters: ["handle", "i32", "buffer", "u32"], result: "i32" },
  // BOOL SetFileAttributesW(LPCWSTR lpFileName, DWORD dwFileAttributes)
  SetFileAttributesW: { parameters: ["buffer", "u32"], result: "i32" },
  // BOOL SetFileTime(HANDLE hFile, const FILETIME *lpCreationTime, const FILETIME *lpLastAccessTime,
  //   const FILETIME *lpLastWriteTime)
  SetFileTime: { parameters: ["handle", "buffer", "buffer", "buffer"], result: "i32" },
  // BOOL DeleteFileW(LPCWSTR lpFileName)
  DeleteFileW: { parameters: ["buffer"], result: "i32" },
  // BOOL MoveFileExW(LPCWSTR lpExistingFileName, LPCWSTR lpNewFileName, DWORD dwFlags)
  MoveFileExW: { parameters: ["buffer", "buffer", "u32"], result: "i32" },
  // BOOL CreateDirectoryW(LPCWSTR lpPathName, LPSECURITY_ATTRIBUTES lpSecurityAttributes)
  CreateDirectoryW: { parameters: ["buffer", "address"], result: "i32" },
  // BOOL RemoveDirectoryW(LPCWSTR lpPathName)
  RemoveDirectoryW: { parameters: ["buffer"], result: "i32" },
  // HANDLE FindFirstFileW(LPCWSTR lpFileName, LPWIN32_FIND_DATAW lpFindFileData)
  FindFirstFileW: { parameters: ["buffer", "buffer"], result: "handle" },
  // BOOL FindNextFileW(HANDLE hFindFile, LPWIN32_FIND_DATAW lpFindFileData)
  FindNextFileW: { parameters: ["handle", "buffer"], result: "i32" },
  // BOOL FindClose(HANDLE hFindFile)
  FindClose: { parameters: ["handle"], result: "i32" },
  // HANDLE CreateFileMappingW(HANDLE hFile, LPSECURITY_ATTRIBUTES lpFileMappingAttributes, DWORD flProtect,
  //   DWORD dwMaximumSizeHigh, DWORD dwMaximumSizeLow, LPCWSTR lpName)
  CreateFileMappingW: { parameters: ["handle", "address", "u32", "u32", "u32", "buffer"], result: "handle" },
  // HANDLE OpenFileMappingW(DWORD dwDesiredAccess, BOOL bInheritHandle, LPCWSTR lpName)
  OpenFileMappingW: { parameters: ["u32", "i32", "buffer"], result: "handle" },
  // LPVOID MapViewOfFileEx(HANDLE hFileMappingObject, DWORD dwDesiredAccess, DWORD dwFileOffsetHigh,
  //   DWORD dwFileOffsetLow, SIZE_T dwNumberOfBytesToMap, LPVOID lpBaseAddress)
  MapViewOfFileEx: { parameters: ["handle", "u32", "u32", "u32", "usize", "address"], result: "address" },
  // BOOL UnmapViewOfFile(LPCVOID lpBaseAddress)
  UnmapViewOfFile: { parameters: ["address"], result: "i32" },
  // BOOL FlushViewOfFile(LPCVOID lpBaseAddress, SIZE_T dwNumberOfBytesToFlush)
  FlushViewOfFile: { parameters: ["address", "usize"], result: "i32" },
  // BOOL VirtualLock(LPVOID lpAddress, SIZE_T dwSize)
  VirtualLock: { parameters: ["address", "usize"], result: "i32" },
  // BOOL VirtualUnlock(LPVOID lpAddress, SIZE_T dwSize)
  VirtualUnlock: { parameters: ["address", "usize"], result: "i32" },
  // BOOL VirtualProtect(LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect, PDWORD lpflOldProtect)
  VirtualProtect: { parameters: ["address", "usize", "u32", "buffer"], result: "i32" },
  // SIZE_T VirtualQuery(LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength)
  VirtualQuery: { parameters: ["address", "buffer", "usize"], result: "usize" },
  // LPVOID VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect)
  VirtualAlloc: { parameters: ["address", "usize", "u32", "u32"], result: "address" },
  // BOOL VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType)
  VirtualFree: { parameters: ["address", "usize", "u32"], result: "i32" },
  // void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo)
  GetSystemInfo: { parameters: ["buffer"], result: "void" },
  // DWORD GetLastError(void)
  GetLastError: { parameters: [], result: "u32" },
  // DWORD GetCurrentProcessId(void)
  GetCurrentProcessId: { parameters: [], result: "u32" },
  // DWORD GetCurrentThreadId(void)
  GetCurrentThreadId: { parameters: [], result: "u32" },
  // HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId)
  OpenProcess: { parameters: ["u32", "i32", "u32"], result: "handle" },
  // BOOL GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode)
  GetExitCodeProcess: { parameters: ["handle", "buffer"], result: "i32" },
} as const satisfies Record<string, Kernel32Symbol>;

/**
 * Functions older Windows (or Wine) may lack: each is bound on its own, and
 * a miss leaves only that power out.
 */
export const KERNEL32_OPTIONAL_SYMBOLS = {
  // BOOL PrefetchVirtualMemory(HANDLE hProcess, ULONG_PTR NumberOfEntries,
  //   PWIN32_MEMORY_RANGE_ENTRY VirtualAddresses, ULONG Flags)   (Windows 8+)
  PrefetchVirtualMemory: { parameters: ["handle", "usize", "buffer", "u32"], result: "i32" },
  // BOOL K32QueryWorkingSetEx(HANDLE hProcess, PVOID pv, DWORD cb)   (psapi's QueryWorkingSetEx, Windows 7+)
  K32QueryWorkingSetEx: { parameters: ["handle", "buffer", "u32"], result: "i32" },
} as const satisfies Record<string, Kernel32Symbol>;

/** Names of the functions that must be there. */
export type Kernel32Name = keyof typeof KERNEL32_SYMBOLS;
/** Names of the functions that may be missing. */
export type Kernel32OptionalName = keyof typeof KERNEL32_OPTIONAL_SYMBOLS;

/** A bound kernel32 function; arguments and result as the module doc says. */
export type Kernel32Function = (...args: unknown[]) => unknown;

/**
 * kernel32 as one runtime's FFI binds it: what a shim hands to
 * `bindKernel32`. Results of kind `handle`, `address` and `usize` are
 * `bigint`, `u32`/`i32` a `number`, whatever the runtime returned natively.
 */
export interface Kernel32Native {
  readonly runtime: "deno" | "bun" | "node";
  readonly maxArrayBufferLength: number;
  readonly calls: { readonly [name in Kernel32Name]: Kernel32Function };
  readonly optional: { readonly [name in Kernel32OptionalName]?: Kernel32Function };
  /** A zero-copy `ArrayBuffer` over foreign memory (the runtime's own function). */
  arrayBuffer(address: bigint, length: number): ArrayBuffer;
  /**
   * Whether the runtime's permission model lets this program `access` the
   * absolute `path` (asking where the runtime itself would prompt). Absent
   * where nothing limits file access (Bun).
   */
  readonly permits?: (path: string, access: "read" | "write") => boolean;
}

/**
 * Wraps a runtime's raw function so results come back in one shape (the
 * runtimes differ on whether a 64-bit result is a `number` or a `bigint`).
 */
export function normalizeResult(fn: Kernel32Function, result: Kernel32Type): Kernel32Function {
  switch (result) {
    case "handle":
    case "address":
    case "usize":
    case "i64":
      return (...args) => BigInt(fn(...args) as number | bigint);
    case "void":
      return (...args) => {
        fn(...args);
      };
    default:
      return (...args) => Number(fn(...args));
  }
}
