/**
 * Platform numbers for the libc calls memmapfs makes. Every number that differs
 * between platforms lives here and nowhere else; the rest of the library asks
 * {@linkcode platformConstants} for the table of the machine it runs on.
 *
 * Values are taken from the system headers of each platform: glibc's
 * `bits/mman-linux.h`, `asm-generic/fcntl.h`, `asm/fcntl.h` (x86), `bits/stat.h`
 * and `asm-generic/errno*.h`; Darwin's `sys/mman.h`, `sys/fcntl.h`, `sys/stat.h`
 * and `sys/errno.h`.
 *
 * @module
 */

/** The platforms whose numbers are known. */
export type PlatformName = "linux-x64" | "linux-arm64" | "darwin-x64" | "darwin-arm64";

/** Byte offsets of the `struct stat` fields memmapfs reads after `fstat`. */
export interface StatLayout {
  /** `sizeof(struct stat)`. */
  readonly size: number;
  readonly dev: { readonly offset: number; readonly bytes: 4 | 8 };
  readonly ino: number;
  readonly mode: { readonly offset: number; readonly bytes: 2 | 4 };
  readonly uid: number;
  readonly gid: number;
  readonly fileSize: number;
  /** `st_atim` / `st_atimespec`: seconds at this offset, nanoseconds 8 bytes later. */
  readonly atime: number;
  /** `st_mtim` / `st_mtimespec`: seconds at this offset, nanoseconds 8 bytes later. */
  readonly mtime: number;
}

/** Every platform-dependent number memmapfs uses. */
export interface PlatformConstants {
  readonly name: PlatformName;
  /** File name to `dlopen` for libc. */
  readonly libcPaths: readonly string[];
  /**
   * Directories where a relative `libcPaths` entry usually lives, most likely
   * first: Deno's permission model wants an absolute path (`--allow-ffi=<path>`,
   * the interactive prompt resolves a bare name against the working directory).
   */
  readonly libcDirectories: readonly string[];
  /** `POSIX_FADV_DONTNEED` (fcntl.h): drop a file's clean pages from the page cache; 0 where there is no posix_fadvise. */
  readonly POSIX_FADV_DONTNEED: number;
  /** The auxiliary-vector tag of the page size (`AT_PAGESZ`, elf.h); 0 where there is no `/proc/self/auxv`. */
  readonly AT_PAGESZ: number;
  /** The function that returns the address of this thread's `errno`. */
  readonly errnoFunction: "__errno_location" | "__error";
  /** The exported name of the `fstat` that fills {@linkcode StatLayout}. */
  readonly fstatSymbol: string;
  /** The exported name of the matching `stat`. */
  readonly statSymbol: string;
  readonly stat: StatLayout;
  /**
   * The directory where `shm_open` keeps its objects as files (glibc and musl
   * both use `/dev/shm`), or `null` where they live outside the file system
   * (darwin). A name is checked against the permission model as this path.
   */
  readonly shmDirectory: string | null;
  /** Page size to report when no libc can be loaded (the real one comes from sysconf). */
  readonly defaultPageSize: number;
  readonly SC_PAGESIZE: number;
  readonly PROT_NONE: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_FIXED: number;
  readonly MAP_ANONYMOUS: number;
  /** 0 where the platform has no such flag. */
  readonly MAP_POPULATE: number;
  /** 0 where the platform has no such flag. */
  readonly MAP_HUGETLB: number;
  readonly MAP_NORESERVE: number;
  /** 0 where the platform has no `mremap`. */
  readonly MREMAP_MAYMOVE: number;
  /** `memfd_create` flags; 0 where the platform has no memfd. */
  readonly MFD_CLOEXEC: number;
  /** Linux 6.3+: the memfd is never executable (older kernels refuse it with EINVAL). */
  readonly MFD_NOEXEC_SEAL: number;
  readonly MS_ASYNC: number;
  readonly MS_INVALIDATE: number;
  readonly MS_SYNC: number;
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_TRUNC: number;
  readonly O_APPEND: number;
  readonly O_NOFOLLOW: number;
  readonly O_DIRECTORY: number;
  readonly O_CLOEXEC: number;
  /** Open without waiting: a FIFO with no writer or a device opens at once, to be refused. */
  readonly O_NONBLOCK: number;
  /** Opening a terminal never makes it this process's controlling terminal. */
  readonly O_NOCTTY: number;
  readonly S_IFMT: number;
  readonly S_IFREG: number;
  readonly S_IFDIR: number;
  /** `flock` operations (`sys/file.h`). */
  readonly LOCK_EX: number;
  readonly LOCK_NB: number;
  readonly LOCK_UN: number;
  readonly S_IFIFO: number;
  readonly S_IFCHR: number;
  readonly S_IFBLK: number;
  readonly S_IFSOCK: number;
  readonly S_IFLNK: number;
  /** Linux `O_PATH`: a descriptor that only names a file; 0 where the platform has none. */
  readonly O_PATH: number;
  /** The `*at` calls' "relative to the working directory" descriptor. */
  readonly AT_FDCWD: number;
  readonly AT_SYMLINK_NOFOLLOW: number;
  readonly AT_REMOVEDIR: number;
  /** `openat2` system call number; 0 where the platform has none (Darwin). */
  readonly SYS_openat2: number;
  /** `struct open_how.resolve` flags of `openat2`. */
  readonly RESOLVE_BENEATH: number;
  readonly RESOLVE_NO_MAGICLINKS: number;
  /** Exported names of `fstatat`, `fdopendir` and `readdir` matching the 64-bit-inode layouts. */
  readonly fstatatSymbol: string;
  readonly fdopendirSymbol: string;
  readonly readdirSymbol: string;
  /** Byte offsets in `struct dirent`: record length (u16), type (u8), name (NUL-terminated). */
  readonly dirent: { readonly reclen: number; readonly type: number; readonly name: number };
  /** `d_type` values. */
  readonly DT_UNKNOWN: number;
  readonly DT_DIR: number;
  readonly DT_REG: number;
  readonly DT_LNK: number;
  /** `madvise` advice numbers; an advice the platform lacks is absent. */
  readonly advice: Readonly<Partial<Record<AdviceName, number>>>;
  /** errno number → name. */
  readonly errnoNames: Readonly<Record<number, string>>;
  /**
   * Cross-process wait/notify numbers, or `undefined` where memmapfs has no
   * back-end for them (see {@linkcode FutexConstants}).
   */
  readonly futex?: FutexConstants;
  /**
   * Calling convention of C variadic functions (`open`, `shm_open`, `fcntl`,
   * `mremap`): `"registers"` where a variadic argument travels like a fixed
   * one (x86-64 System V, Linux AAPCS64), `"stack"` where every variadic
   * argument sits in its own 8-byte stack slot after the argument registers
   * (Apple arm64). See `variadic.ts`.
   */
  readonly variadicArguments: "registers" | "stack";
  /** Integer and pointer arguments passed in registers (x0-x7 on arm64, six on x86-64). */
  readonly integerArgumentRegisters: number;
  /** Largest shared-memory name with its leading slash, in bytes (Linux NAME_MAX + 1, Darwin PSHMNAMLEN). */
  readonly shmNameMaxBytes: number;
  /** True where a shared-memory object's size can be set only once (Darwin's ftruncate of a new object). */
  readonly shmSizeFixedOnce: boolean;
  /** `fcntl` command that flushes the drive's cache too; 0 where fsync already does (Linux). */
  readonly F_FULLFSYNC: number;
  /** `fcntl` command that reserves blocks (Darwin's posix_fallocate); 0 where posix_fallocate exists. */
  readonly F_PREALLOCATE: number;
  /** `fstore_t` for F_PREALLOCATE: its flags and byte offsets; absent without F_PREALLOCATE. */
  readonly fstore?: FstoreLayout;
}

/**
 * Numbers of the Linux futex system call (`linux/futex.h`, `asm/unistd.h`).
 * memmapfs never sets `FUTEX_PRIVATE_FLAG` (128): a private futex is keyed by
 * the virtual address in one process, a shared one by the page of the mapped
 * object, which is what lets two processes (or two mappings) meet.
 *
 * The other platforms' primitives, named here for the back-ends to come:
 * - Darwin: `os_sync_wait_on_address` / `os_sync_wake_by_address_any|all`
 *   with `OS_SYNC_WAIT_ON_ADDRESS_SHARED` (macOS 14.4+, libSystem), or the
 *   older private `__ulock_wait`/`__ulock_wake` with `UL_COMPARE_AND_WAIT_SHARED`.
 *   These are plain (non-variadic) functions, so no `syscall` is involved.
 * - Windows: `WaitOnAddress` only meets waiters of the same process; across
 *   processes it takes named events (`CreateEventW` + `WaitForSingleObject`).
 */
export interface FutexConstants {
  /** `SYS_futex`: 202 on x86-64, 98 on arm64 (asm-generic). */
  readonly SYS_futex: number;
  /** `SYS_gettid`: 186 on x86-64, 178 on arm64. */
  readonly SYS_gettid: number;
  readonly FUTEX_WAIT: number;
  readonly FUTEX_WAKE: number;
  /** errno of a wait whose word did not hold the expected value. */
  readonly EAGAIN: number;
  readonly ETIMEDOUT: number;
  readonly EINTR: number;
  /** errno of kill(pid, 0) for a process (or thread) that does not exist. */
  readonly ESRCH: number;
}

/** `fstore_t` of Darwin's `sys/fcntl.h`, and the flag values F_PREALLOCATE takes. */
export interface FstoreLayout {
  readonly size: number;
  readonly flags: number;
  readonly posmode: number;
  readonly offset: number;
  readonly length: number;
  readonly bytesalloc: number;
  readonly F_ALLOCATECONTIG: number;
  readonly F_ALLOCATEALL: number;
  readonly F_PEOFPOSMODE: number;
}

/** Advice names as the public API spells them. */
export type AdviceName =
  | "normal" | "random" | "sequential" | "willneed" | "dontneed"
  | "free" | "remove" | "hugepage" | "nohugepage" | "populate-read" | "populate-write"
  | "cold" | "pageout" | "dontfork" | "dofork" | "mergeable" | "unmergeable";

// asm-generic/errno-base.h and asm-generic/errno.h (x86-64 and arm64 share them).
const LINUX_ERRNO: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
  8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
  14: "EFAULT", 15: "ENOTBLK", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV",
  20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY",
  26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK",
  32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG", 37: "ENOLCK",
  38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 75: "EOVERFLOW", 95: "EOPNOTSUPP",
  110: "ETIMEDOUT", 122: "EDQUOT",
};

const LINUX_ADVICE: Partial<Record<AdviceName, number>> = {
  normal: 0, random: 1, sequential: 2, willneed: 3, dontneed: 4, free: 8, remove: 9,
  dontfork: 10, dofork: 11, mergeable: 12, unmergeable: 13, hugepage: 14, nohugepage: 15,
  cold: 20, pageout: 21, "populate-read": 22, "populate-write": 23,
};

const LINUX_COMMON = {
  libcPaths: ["libc.so.6", "libc.so"],
  shmDirectory: "/dev/shm",
  errnoFunction: "__errno_location",
  fstatSymbol: "fstat",
  statSymbol: "stat",
  defaultPageSize: 4096,
  AT_PAGESZ: 6,
  POSIX_FADV_DONTNEED: 4,
  SC_PAGESIZE: 30,
  PROT_NONE: 0, PROT_READ: 1, PROT_WRITE: 2,
  MAP_SHARED: 0x01, MAP_PRIVATE: 0x02, MAP_FIXED: 0x10, MAP_ANONYMOUS: 0x20,
  MAP_POPULATE: 0x8000, MAP_HUGETLB: 0x40000, MAP_NORESERVE: 0x4000,
  MREMAP_MAYMOVE: 1,
  // include/uapi/linux/memfd.h
  MFD_CLOEXEC: 0x1, MFD_NOEXEC_SEAL: 0x8,
  MS_ASYNC: 1, MS_INVALIDATE: 2, MS_SYNC: 4,
  O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 0o100, O_EXCL: 0o200, O_TRUNC: 0o1000,
  O_APPEND: 0o2000, O_CLOEXEC: 0o2000000, O_NONBLOCK: 0o4000, O_NOCTTY: 0o400,
  S_IFMT: 0o170000, S_IFREG: 0o100000, S_IFDIR: 0o040000,
  // sys/file.h (glibc) and asm-generic/fcntl.h.
  LOCK_EX: 2, LOCK_NB: 4, LOCK_UN: 8,
  S_IFIFO: 0o010000, S_IFCHR: 0o020000, S_IFBLK: 0o060000, S_IFSOCK: 0o140000, S_IFLNK: 0o120000,
  O_PATH: 0o10000000,
  // linux/fcntl.h; linux/openat2.h; asm-generic/unistd.h (openat2 has one number on every arch).
  AT_FDCWD: -100, AT_SYMLINK_NOFOLLOW: 0x100, AT_REMOVEDIR: 0x200,
  SYS_openat2: 437, RESOLVE_BENEATH: 0x08, RESOLVE_NO_MAGICLINKS: 0x02,
  fstatatSymbol: "fstatat", fdopendirSymbol: "fdopendir", readdirSymbol: "readdir",
  // struct dirent (glibc, 64-bit): d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
  dirent: { reclen: 16, type: 18, name: 19 },
  DT_UNKNOWN: 0, DT_DIR: 4, DT_REG: 8, DT_LNK: 10,
  advice: LINUX_ADVICE,
  errnoNames: LINUX_ERRNO,
  variadicArguments: "registers",
  // NAME_MAX: glibc keeps shm objects as files in /dev/shm; plus the slash.
  shmNameMaxBytes: 256,
  shmSizeFixedOnce: false,
  F_FULLFSYNC: 0,
  F_PREALLOCATE: 0,
} as const;

const LINUX_X64: PlatformConstants = {
  ...LINUX_COMMON,
  name: "linux-x64",
  // Debian/Ubuntu multiarch, Fedora/Arch, then the plain directories.
  libcDirectories: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"],
  // asm/fcntl.h on x86 keeps the historic values.
  O_NOFOLLOW: 0o400000,
  O_DIRECTORY: 0o200000,
  // asm/unistd_64.h
  futex: { SYS_futex: 202, SYS_gettid: 186, FUTEX_WAIT: 0, FUTEX_WAKE: 1, EAGAIN: 11, ETIMEDOUT: 110, EINTR: 4, ESRCH: 3 },
  // x86-64 struct stat: dev, ino, nlink (8 each), mode, uid, gid, pad, rdev, size...
  stat: {
    size: 144, dev: { offset: 0, bytes: 8 }, ino: 8, mode: { offset: 24, bytes: 4 },
    uid: 28, gid: 32, fileSize: 48, atime: 72, mtime: 88,
  },
  integerArgumentRegisters: 6,
};

const LINUX_ARM64: PlatformConstants = {
  ...LINUX_COMMON,
  name: "linux-arm64",
  libcDirectories: ["/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"],
  // asm-generic/fcntl.h as overridden by arm64's asm/fcntl.h.
  O_NOFOLLOW: 0o100000,
  O_DIRECTORY: 0o40000,
  // asm-generic/unistd.h
  futex: { SYS_futex: 98, SYS_gettid: 178, FUTEX_WAIT: 0, FUTEX_WAKE: 1, EAGAIN: 11, ETIMEDOUT: 110, EINTR: 4, ESRCH: 3 },
  // asm-generic struct stat: dev, ino (8), mode, nlink, uid, gid (4), rdev, pad, size...
  stat: {
    size: 128, dev: { offset: 0, bytes: 8 }, ino: 8, mode: { offset: 16, bytes: 4 },
    uid: 24, gid: 28, fileSize: 48, atime: 72, mtime: 88,
  },
  // Kernels for arm64 are built with 4 KiB, 16 KiB or 64 KiB pages; sysconf tells.
  defaultPageSize: 4096,
  // AAPCS64 as Linux uses it: variadic arguments take x0-x7 like fixed ones.
  integerArgumentRegisters: 8,
};

// sys/errno.h on Darwin: 1-34 match Linux, the rest differ.
const DARWIN_ERRNO: Record<number, string> = {
  ...Object.fromEntries(Object.entries(LINUX_ERRNO).filter(([n]) => Number(n) <= 34)),
  11: "EDEADLK", 35: "EAGAIN", 45: "ENOTSUP", 62: "ELOOP", 63: "ENAMETOOLONG",
  60: "ETIMEDOUT", 66: "ENOTEMPTY", 69: "EDQUOT", 77: "ENOLCK", 78: "ENOSYS", 84: "EOVERFLOW",
  102: "EOPNOTSUPP",
};

const DARWIN_COMMON = {
  libcPaths: ["/usr/lib/libSystem.B.dylib"],
  libcDirectories: [],
  AT_PAGESZ: 0,
  POSIX_FADV_DONTNEED: 0,
  shmDirectory: null,
  errnoFunction: "__error",
  SC_PAGESIZE: 29,
  PROT_NONE: 0, PROT_READ: 1, PROT_WRITE: 2,
  MAP_SHARED: 0x01, MAP_PRIVATE: 0x02, MAP_FIXED: 0x10, MAP_ANONYMOUS: 0x1000,
  // Darwin has neither MAP_POPULATE nor MAP_HUGETLB nor mremap.
  MAP_POPULATE: 0, MAP_HUGETLB: 0, MAP_NORESERVE: 0x40,
  MREMAP_MAYMOVE: 0,
  // No memfd_create on Darwin.
  MFD_CLOEXEC: 0, MFD_NOEXEC_SEAL: 0,
  MS_ASYNC: 0x1, MS_INVALIDATE: 0x2, MS_SYNC: 0x10,
  O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 0x200, O_EXCL: 0x800, O_TRUNC: 0x400,
  O_APPEND: 0x8, O_NOFOLLOW: 0x100, O_DIRECTORY: 0x100000, O_CLOEXEC: 0x1000000,
  O_NONBLOCK: 0x4, O_NOCTTY: 0x20000,
  S_IFMT: 0o170000, S_IFREG: 0o100000, S_IFDIR: 0o040000,
  // sys/fcntl.h on Darwin: the same numbers as Linux.
  LOCK_EX: 2, LOCK_NB: 4, LOCK_UN: 8,
  S_IFIFO: 0o010000, S_IFCHR: 0o020000, S_IFBLK: 0o060000, S_IFSOCK: 0o140000, S_IFLNK: 0o120000,
  O_PATH: 0,
  // sys/fcntl.h; Darwin has no openat2: confined paths take the openat walk.
  AT_FDCWD: -2, AT_SYMLINK_NOFOLLOW: 0x20, AT_REMOVEDIR: 0x80,
  SYS_openat2: 0, RESOLVE_BENEATH: 0, RESOLVE_NO_MAGICLINKS: 0,
  // sys/dirent.h with 64-bit inodes: d_ino (8), d_seekoff (8), d_reclen (2), d_namlen (2), d_type (1), d_name.
  dirent: { reclen: 16, type: 20, name: 21 },
  DT_UNKNOWN: 0, DT_DIR: 4, DT_REG: 8, DT_LNK: 10,
  advice: {
    // MADV_PAGEOUT (10) is "internal only": release kernels answer ENOTSUP.
    normal: 0, random: 1, sequential: 2, willneed: 3, dontneed: 4, free: 5,
  },
  errnoNames: DARWIN_ERRNO,
  // struct stat with 64-bit inodes: dev (4), mode (2), nlink (2), ino (8), uid, gid,
  // rdev (4 each), pad, atime, mtime, ctime, birthtime (16 each), size...
  stat: {
    size: 144, dev: { offset: 0, bytes: 4 }, ino: 8, mode: { offset: 4, bytes: 2 },
    uid: 16, gid: 20, fileSize: 96, atime: 32, mtime: 48,
  },
  // PSHMNAMLEN: the kernel copies at most 31 bytes and the NUL.
  shmNameMaxBytes: 31,
  // pshm_truncate refuses a second ftruncate with EINVAL.
  shmSizeFixedOnce: true,
  // fsync leaves data in the drive's cache; F_FULLFSYNC flushes it.
  F_FULLFSYNC: 51,
  F_PREALLOCATE: 42,
  fstore: {
    size: 32, flags: 0, posmode: 4, offset: 8, length: 16, bytesalloc: 24,
    F_ALLOCATECONTIG: 0x2, F_ALLOCATEALL: 0x4, F_PEOFPOSMODE: 3,
  },
} as const;

const DARWIN_X64: PlatformConstants = {
  ...DARWIN_COMMON,
  name: "darwin-x64",
  // On x86-64 the 64-bit-inode stat is exported under its $INODE64 alias.
  fstatSymbol: "fstat$INODE64",
  statSymbol: "stat$INODE64",
  fstatatSymbol: "fstatat$INODE64",
  fdopendirSymbol: "fdopendir$INODE64",
  readdirSymbol: "readdir$INODE64",
  defaultPageSize: 4096,
  variadicArguments: "registers",
  integerArgumentRegisters: 6,
};

const DARWIN_ARM64: PlatformConstants = {
  ...DARWIN_COMMON,
  name: "darwin-arm64",
  fstatSymbol: "fstat",
  statSymbol: "stat",
  fstatatSymbol: "fstatat",
  fdopendirSymbol: "fdopendir",
  readdirSymbol: "readdir",
  defaultPageSize: 16384,
  // Apple's arm64 ABI: each variadic argument in its own 8-byte stack slot.
  variadicArguments: "stack",
  integerArgumentRegisters: 8,
};

const TABLES: Record<PlatformName, PlatformConstants> = {
  "linux-x64": LINUX_X64,
  "linux-arm64": LINUX_ARM64,
  "darwin-x64": DARWIN_X64,
  "darwin-arm64": DARWIN_ARM64,
};

/**
 * How messages name a platform to its user: "macOS (darwin-arm64)", "Linux (linux-x64)".
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * console.log(platformLabel(constantsFor("darwin", "arm64")!)); // "macOS (darwin-arm64)"
 * ```
 */
export function platformLabel(constants: Pick<PlatformConstants, "name">): string {
  return `${constants.name.startsWith("darwin") ? "macOS" : "Linux"} (${constants.name})`;
}

/** The largest address, which `mmap` returns as `MAP_FAILED` ((void *) -1). */
export const MAP_FAILED: bigint = 0xffff_ffff_ffff_ffffn;

/**
 * Returns the constants of a platform, or `undefined` when memmapfs does not
 * know its numbers.
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * console.log(constantsFor("linux", "x64")?.MAP_SHARED); // 1
 * ```
 */
export function constantsFor(os: string, arch: string): PlatformConstants | undefined {
  const normalizedArch = arch === "x86_64" ? "x64" : arch === "aarch64" ? "arm64" : arch;
  return TABLES[`${os}-${normalizedArch}` as PlatformName];
}

// ---- Windows (kernel32) ----
//
// Windows has no libc table: memmapfs calls kernel32 (see kernel32.ts). Its
// numbers come from the Windows SDK headers (winnt.h, winbase.h, fileapi.h,
// memoryapi.h, minwinbase.h, winerror.h); the layouts are those of x64.

/** The kernel32 numbers memmapfs uses (Windows x64). */
export interface WindowsConstants {
  readonly name: "windows-x64";
  /** The library every call is bound from. */
  readonly library: "kernel32.dll";
  // dwDesiredAccess (winnt.h)
  readonly GENERIC_READ: number;
  readonly GENERIC_WRITE: number;
  readonly DELETE: number;
  readonly FILE_READ_ATTRIBUTES: number;
  readonly FILE_WRITE_ATTRIBUTES: number;
  // dwShareMode (winnt.h): all three let other processes open, write and delete, as POSIX does.
  readonly FILE_SHARE_READ: number;
  readonly FILE_SHARE_WRITE: number;
  readonly FILE_SHARE_DELETE: number;
  // dwCreationDisposition (fileapi.h)
  readonly CREATE_NEW: number;
  readonly CREATE_ALWAYS: number;
  readonly OPEN_EXISTING: number;
  readonly OPEN_ALWAYS: number;
  readonly TRUNCATE_EXISTING: number;
  // File attributes and flags (winnt.h, winbase.h)
  readonly FILE_ATTRIBUTE_READONLY: number;
  readonly FILE_ATTRIBUTE_DIRECTORY: number;
  readonly FILE_ATTRIBUTE_NORMAL: number;
  readonly FILE_ATTRIBUTE_REPARSE_POINT: number;
  /** Needed to open a directory at all. */
  readonly FILE_FLAG_BACKUP_SEMANTICS: number;
  /** Open a symbolic link or junction itself, as O_NOFOLLOW does for the last component. */
  readonly FILE_FLAG_OPEN_REPARSE_POINT: number;
  readonly FILE_FLAG_WRITE_THROUGH: number;
  readonly FILE_FLAG_DELETE_ON_CLOSE: number;
  // SetFilePointerEx dwMoveMethod (winbase.h)
  readonly FILE_BEGIN: number;
  readonly FILE_END: number;
  // Page protection (winnt.h)
  readonly PAGE_NOACCESS: number;
  readonly PAGE_READONLY: number;
  readonly PAGE_READWRITE: number;
  readonly PAGE_WRITECOPY: number;
  // CreateFileMapping section attributes (winnt.h)
  readonly SEC_COMMIT: number;
  readonly SEC_RESERVE: number;
  readonly SEC_LARGE_PAGES: number;
  // MapViewOfFile dwDesiredAccess (memoryapi.h)
  readonly FILE_MAP_COPY: number;
  readonly FILE_MAP_WRITE: number;
  readonly FILE_MAP_READ: number;
  readonly FILE_MAP_ALL_ACCESS: number;
  readonly FILE_MAP_LARGE_PAGES: number;
  // VirtualAlloc / VirtualFree (winnt.h)
  readonly MEM_COMMIT: number;
  readonly MEM_RESERVE: number;
  readonly MEM_RELEASE: number;
  // LockFileEx dwFlags (minwinbase.h)
  readonly LOCKFILE_FAIL_IMMEDIATELY: number;
  readonly LOCKFILE_EXCLUSIVE_LOCK: number;
  // MoveFileExW dwFlags (winbase.h)
  readonly MOVEFILE_REPLACE_EXISTING: number;
  readonly MOVEFILE_WRITE_THROUGH: number;
  // DuplicateHandle dwOptions (winnt.h)
  readonly DUPLICATE_SAME_ACCESS: number;
  /** GetFileInformationByHandleEx's FileStandardInfo class (minwinbase.h). */
  readonly FileStandardInfo: number;
  /** SetFileInformationByHandle's FileDispositionInfoEx class (minwinbase.h). */
  readonly FileDispositionInfoEx: number;
  /** FILE_DISPOSITION_INFO_EX flags (winbase.h): delete, with POSIX semantics, even if read-only. */
  readonly FILE_DISPOSITION_FLAG_DELETE: number;
  readonly FILE_DISPOSITION_FLAG_POSIX_SEMANTICS: number;
  readonly FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE: number;
  /** GetFileAttributesExW's GetFileExInfoStandard level (minwinbase.h). */
  readonly GetFileExInfoStandard: number;
  /** GetFinalPathNameByHandleW: the DOS path with its volume letter (fileapi.h). */
  readonly VOLUME_NAME_DOS: number;
  /** GetFileType's answers (fileapi.h): a file or directory on a disk, a character device, a pipe. */
  readonly FILE_TYPE_DISK: number;
  readonly FILE_TYPE_CHAR: number;
  readonly FILE_TYPE_PIPE: number;
  /**
   * The `st_mode` type bits Windows' C runtime reports (`_S_IFREG`, `_S_IFDIR`,
   * `_S_IFCHR`, `_S_IFIFO` in sys/stat.h): the values POSIX uses too.
   */
  readonly S_IFREG: number;
  readonly S_IFDIR: number;
  readonly S_IFCHR: number;
  readonly S_IFIFO: number;
  /** Returned by GetFileAttributesW on failure. */
  readonly INVALID_FILE_ATTRIBUTES: number;
  /** `QueryWorkingSetEx`'s flag of a page that is resident (the Valid bit). */
  readonly WORKING_SET_VALID: number;
  /** Error codes memmapfs acts on by number (winerror.h); `errorNames` names them all. */
  readonly ERROR_ACCESS_DENIED: number;
  readonly ERROR_NO_MORE_FILES: number;
  readonly ERROR_SHARING_VIOLATION: number;
  readonly ERROR_LOCK_VIOLATION: number;
  readonly ERROR_HANDLE_EOF: number;
  readonly ERROR_NOT_LOCKED: number;
  readonly ERROR_ALREADY_EXISTS: number;
  /** OpenProcess access that is enough to read an exit code (winnt.h). */
  readonly PROCESS_QUERY_LIMITED_INFORMATION: number;
  /** GetExitCodeProcess's code of a process still running (minwinbase.h). */
  readonly STILL_ACTIVE: number;
  /** Page size and allocation granularity of every x64 Windows (GetSystemInfo reports them too). */
  readonly defaultPageSize: number;
  readonly defaultGranularity: number;
  /** Windows error codes (winerror.h) and the POSIX names memmapfs reports them as. */
  readonly errorNames: Readonly<Record<number, string>>;
}

/** `INVALID_HANDLE_VALUE` ((HANDLE) -1), as the unsigned 64-bit value the shims return. */
export const INVALID_HANDLE_VALUE: bigint = 0xffff_ffff_ffff_ffffn;

/**
 * `GetCurrentProcess()`: the pseudo handle of the calling process, the same
 * value on every Windows ((HANDLE) -1).
 */
export const CURRENT_PROCESS: bigint = 0xffff_ffff_ffff_ffffn;

/**
 * Windows error codes (winerror.h) → the POSIX errno names users already
 * handle, after libuv's table (`uv_translate_sys_error`) where it has one.
 * `MmapError.errno` keeps the Windows number; `code` is the POSIX name.
 */
const WINDOWS_ERROR_NAMES: Record<number, string> = {
  1: "EINVAL", // ERROR_INVALID_FUNCTION
  2: "ENOENT", // ERROR_FILE_NOT_FOUND
  3: "ENOENT", // ERROR_PATH_NOT_FOUND
  4: "EMFILE", // ERROR_TOO_MANY_OPEN_FILES
  5: "EACCES", // ERROR_ACCESS_DENIED
  6: "EBADF", // ERROR_INVALID_HANDLE
  8: "ENOMEM", // ERROR_NOT_ENOUGH_MEMORY
  14: "ENOMEM", // ERROR_OUTOFMEMORY
  15: "ENOENT", // ERROR_INVALID_DRIVE
  17: "EXDEV", // ERROR_NOT_SAME_DEVICE
  19: "EROFS", // ERROR_WRITE_PROTECT
  23: "EIO", // ERROR_CRC
  32: "EBUSY", // ERROR_SHARING_VIOLATION: another handle's share mode refuses this one
  33: "EBUSY", // ERROR_LOCK_VIOLATION: a byte range another handle locked
  39: "ENOSPC", // ERROR_HANDLE_DISK_FULL
  50: "ENOTSUP", // ERROR_NOT_SUPPORTED
  53: "ENOENT", // ERROR_BAD_NETPATH
  67: "ENOENT", // ERROR_BAD_NET_NAME
  80: "EEXIST", // ERROR_FILE_EXISTS
  87: "EINVAL", // ERROR_INVALID_PARAMETER
  109: "EPIPE", // ERROR_BROKEN_PIPE
  112: "ENOSPC", // ERROR_DISK_FULL
  123: "ENOENT", // ERROR_INVALID_NAME
  145: "ENOTEMPTY", // ERROR_DIR_NOT_EMPTY
  158: "ENOLCK", // ERROR_NOT_LOCKED
  161: "ENOENT", // ERROR_BAD_PATHNAME
  170: "EBUSY", // ERROR_BUSY
  183: "EEXIST", // ERROR_ALREADY_EXISTS
  206: "ENAMETOOLONG", // ERROR_FILENAME_EXCED_RANGE
  267: "ENOTDIR", // ERROR_DIRECTORY
  487: "EINVAL", // ERROR_INVALID_ADDRESS
  998: "EFAULT", // ERROR_NOACCESS
  1006: "EIO", // ERROR_FILE_INVALID: the file under a view was cut or its volume changed
  1117: "EIO", // ERROR_IO_DEVICE
  1132: "EINVAL", // ERROR_MAPPED_ALIGNMENT: a view's offset off the allocation granularity
  1224: "EBUSY", // ERROR_USER_MAPPED_FILE: resizing or cutting a file with a view open
  1314: "EPERM", // ERROR_PRIVILEGE_NOT_HELD (Global\ names, large pages)
  1392: "EIO", // ERROR_FILE_CORRUPT
  1450: "ENOMEM", // ERROR_NO_SYSTEM_RESOURCES
  1453: "ENOMEM", // ERROR_WORKING_SET_QUOTA: VirtualLock past the working set (mlock's ENOMEM)
  1455: "ENOMEM", // ERROR_COMMITMENT_LIMIT: the paging file is full
  1460: "ETIMEDOUT", // ERROR_TIMEOUT
  1920: "EACCES", // ERROR_CANT_ACCESS_FILE
  1921: "ELOOP", // ERROR_CANT_RESOLVE_FILENAME: too many reparse points
  4390: "EINVAL", // ERROR_NOT_A_REPARSE_POINT
};

/** The Windows x64 table. */
export const WINDOWS_X64: WindowsConstants = {
  name: "windows-x64",
  library: "kernel32.dll",
  GENERIC_READ: 0x8000_0000,
  GENERIC_WRITE: 0x4000_0000,
  DELETE: 0x0001_0000,
  FILE_READ_ATTRIBUTES: 0x80,
  FILE_WRITE_ATTRIBUTES: 0x100,
  FILE_SHARE_READ: 0x1,
  FILE_SHARE_WRITE: 0x2,
  FILE_SHARE_DELETE: 0x4,
  CREATE_NEW: 1,
  CREATE_ALWAYS: 2,
  OPEN_EXISTING: 3,
  OPEN_ALWAYS: 4,
  TRUNCATE_EXISTING: 5,
  FILE_ATTRIBUTE_READONLY: 0x1,
  FILE_ATTRIBUTE_DIRECTORY: 0x10,
  FILE_ATTRIBUTE_NORMAL: 0x80,
  FILE_ATTRIBUTE_REPARSE_POINT: 0x400,
  FILE_FLAG_BACKUP_SEMANTICS: 0x0200_0000,
  FILE_FLAG_OPEN_REPARSE_POINT: 0x0020_0000,
  FILE_FLAG_WRITE_THROUGH: 0x8000_0000,
  FILE_FLAG_DELETE_ON_CLOSE: 0x0400_0000,
  FILE_BEGIN: 0,
  FILE_END: 2,
  PAGE_NOACCESS: 0x01,
  PAGE_READONLY: 0x02,
  PAGE_READWRITE: 0x04,
  PAGE_WRITECOPY: 0x08,
  SEC_COMMIT: 0x0800_0000,
  SEC_RESERVE: 0x0400_0000,
  SEC_LARGE_PAGES: 0x8000_0000,
  FILE_MAP_COPY: 0x1,
  FILE_MAP_WRITE: 0x2,
  FILE_MAP_READ: 0x4,
  FILE_MAP_ALL_ACCESS: 0x000f_001f,
  FILE_MAP_LARGE_PAGES: 0x2000_0000,
  MEM_COMMIT: 0x1000,
  MEM_RESERVE: 0x2000,
  MEM_RELEASE: 0x8000,
  LOCKFILE_FAIL_IMMEDIATELY: 0x1,
  LOCKFILE_EXCLUSIVE_LOCK: 0x2,
  MOVEFILE_REPLACE_EXISTING: 0x1,
  MOVEFILE_WRITE_THROUGH: 0x8,
  DUPLICATE_SAME_ACCESS: 0x2,
  FileStandardInfo: 1,
  FileDispositionInfoEx: 21,
  FILE_DISPOSITION_FLAG_DELETE: 0x1,
  FILE_DISPOSITION_FLAG_POSIX_SEMANTICS: 0x2,
  FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE: 0x10,
  GetFileExInfoStandard: 0,
  VOLUME_NAME_DOS: 0,
  FILE_TYPE_DISK: 1,
  FILE_TYPE_CHAR: 2,
  FILE_TYPE_PIPE: 3,
  S_IFREG: 0o100000,
  S_IFDIR: 0o040000,
  S_IFCHR: 0o020000,
  S_IFIFO: 0o010000,
  INVALID_FILE_ATTRIBUTES: 0xffff_ffff,
  WORKING_SET_VALID: 0x1,
  ERROR_ACCESS_DENIED: 5,
  ERROR_NO_MORE_FILES: 18,
  ERROR_SHARING_VIOLATION: 32,
  ERROR_LOCK_VIOLATION: 33,
  ERROR_HANDLE_EOF: 38,
  ERROR_NOT_LOCKED: 158,
  ERROR_ALREADY_EXISTS: 183,
  PROCESS_QUERY_LIMITED_INFORMATION: 0x1000,
  STILL_ACTIVE: 259,
  defaultPageSize: 4096,
  defaultGranularity: 65536,
  errorNames: WINDOWS_ERROR_NAMES,
};

/**
 * The kernel32 table of a platform, or `undefined` when it is not Windows on
 * x64 (the only Windows memmapfs knows).
 *
 * @example
 * ```ts
 * import { windowsConstantsFor } from "./constants.ts";
 * console.log(windowsConstantsFor("win32", "x64")?.errorNames[2]); // "ENOENT"
 * ```
 */
export function windowsConstantsFor(os: string, arch: string): WindowsConstants | undefined {
  const windows = os === "win32" || os === "windows";
  const x64 = arch === "x64" || arch === "x86_64";
  return windows && x64 ? WINDOWS_X64 : undefined;
}

/**
 * The Windows error code memmapfs reports for a POSIX name: the first code
 * the table maps to it (`ENOENT` → 2, ERROR_FILE_NOT_FOUND), or `undefined`.
 * How a check above kernel32 refuses something with the number kernel32
 * would have given.
 *
 * @example
 * ```ts
 * import { windowsErrorFor } from "./constants.ts";
 * console.log(windowsErrorFor("EBUSY")); // 32
 * ```
 */
export function windowsErrorFor(code: string): number | undefined {
  for (const [number, name] of Object.entries(WINDOWS_ERROR_NAMES)) if (name === code) return Number(number);
  return undefined;
}
