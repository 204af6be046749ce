/**
 * The Deno shim: binds libc with `Deno.dlopen`. One of the three files allowed
 * to name a runtime's FFI.
 *
 * Addresses are declared `usize`, so Deno hands them over as `bigint` and takes
 * them back the same way, with no pointer objects in between.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";
import { MmapError } from "../errors.ts";
import type { NativeCalls } from "./native.ts";
import { prepareBindings, type VariadicMark } from "./variadic.ts";

// The slice of Deno's FFI types this file needs, declared here so the shim also
// type-checks under tsc, which does not know the `Deno` namespace.
type DenoType = "i32" | "u32" | "i64" | "usize" | "buffer";
interface DenoSymbol extends VariadicMark {
  /** The C symbol when it differs from the key (one function bound twice). */
  name?: string;
  parameters: DenoType[];
  result: DenoType;
  optional?: boolean;
}
type DenoFunction = (...args: unknown[]) => unknown;
interface DenoApi {
  dlopen(path: string, symbols: Record<string, DenoSymbol>): {
    symbols: Record<string, DenoFunction | null>;
  };
  UnsafePointer: { create(value: bigint): unknown };
  UnsafePointerView: {
    new (pointer: unknown): { getInt32(offset?: number): number };
    getArrayBuffer(pointer: unknown, length: number): ArrayBuffer;
  };
  permissions: {
    querySync(descriptor: { name: "read" | "write"; path: string }): { state: string };
  };
}

/**
 * The libc symbols with their C prototypes; optional ones may be absent
 * (Darwin). `variadicFrom` marks where C's `...` starts (see variadic.ts).
 */
const SYMBOLS = {
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
  mmap: { parameters: ["usize", "usize", "i32", "i32", "i32", "i64"], result: "usize" },
  // int munmap(void *addr, size_t length)
  munmap: { parameters: ["usize", "usize"], result: "i32" },
  // void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
  mremap: { parameters: ["usize", "usize", "usize", "i32"], result: "usize", optional: true, variadicFrom: 4 },
  // int mprotect(void *addr, size_t len, int prot)
  mprotect: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int madvise(void *addr, size_t length, int advice)
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int msync(void *addr, size_t length, int flags)
  msync: { parameters: ["usize", "usize", "i32"], result: "i32" },
  // int mlock(const void *addr, size_t len)
  mlock: { parameters: ["usize", "usize"], result: "i32" },
  // int munlock(const void *addr, size_t len)
  munlock: { parameters: ["usize", "usize"], result: "i32" },
  // int mincore(void *addr, size_t length, unsigned char *vec)
  mincore: { parameters: ["usize", "usize", "buffer"], result: "i32" },
  // int open(const char *pathname, int flags, ... /* mode_t mode */)
  open: { parameters: ["buffer", "i32", "u32"], result: "i32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* int arg */)
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32", variadicFrom: 2 },
  // int fcntl(int fd, int cmd, ... /* struct *arg */)
  fcntl_pointer: { name: "fcntl", parameters: ["i32", "i32", "buffer"], result: "i32", variadicFrom: 2 },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  // int ftruncate(int fd, off_t length)
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // int posix_fallocate(int fd, off_t offset, off_t len)
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32", optional: true },
  // int fsync(int fd)
  fsync: { parameters: ["i32"], result: "i32" },
  // int unlink(const char *pathname)
  unlink: { parameters: ["buffer"], result: "i32" },
  // int shm_open(const char *name, int oflag, ... /* mode_t mode */)
  shm_open: { parameters: ["buffer", "i32", "u32"], result: "i32", optional: true, variadicFrom: 2 },
  // int shm_unlink(const char *name)
  shm_unlink: { parameters: ["buffer"], result: "i32", optional: true },
  // int memfd_create(const char *name, unsigned int flags)
  memfd_create: { parameters: ["buffer", "u32"], result: "i32", optional: true },
  // long sysconf(int name)
  sysconf: { parameters: ["i32"], result: "i64" },
} satisfies Record<string, DenoSymbol>;

/** Deno's names for the types variadic.ts rearranges. */
const DENO_TYPES = { key: "parameters", wide: "i64" as DenoType, slotSized: ["i64", "usize", "buffer"] as DenoType[] };

/**
 * The table handed to `Deno.dlopen` on the platform of `constants`, and the
 * adapter that keeps variadic calls right there. Exported for the ABI test.
 */
export function denoBindings(constants: PlatformConstants): ReturnType<typeof prepareBindings<DenoSymbol, DenoType>> {
  return prepareBindings<DenoSymbol, DenoType>({
    ...SYMBOLS,
    // int fstat(int fd, struct stat *statbuf)
    [constants.fstatSymbol]: { parameters: ["i32", "buffer"], result: "i32" },
    // int stat(const char *path, struct stat *statbuf)
    [constants.statSymbol]: { parameters: ["buffer", "buffer"], result: "i32" },
    // int *__errno_location(void) on glibc/musl, int *__error(void) on Darwin
    [constants.errnoFunction]: { parameters: [], result: "usize" },
  }, constants, DENO_TYPES);
}

/** Binds libc through `Deno.dlopen`; throws when FFI is not permitted. */
export function denoNativeCalls(constants: PlatformConstants): NativeCalls {
  const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
  const { symbols, adapt } = denoBindings(constants);
  const lib = openFirst(deno, constants.libcPaths, symbols);
  if (!lib.shm_open && constants.name.startsWith("linux")) {
    // glibc before 2.34 keeps shm_open in librt.
    try {
      Object.assign(lib, deno.dlopen("librt.so.1", {
        shm_open: symbols.shm_open,
        shm_unlink: symbols.shm_unlink,
      }).symbols);
    } catch { /* stays unbound: named shared memory then fails with ENOSYS */ }
  }
  const call = (name: string) => adapt(name, lib[name] as DenoFunction);
  const optional = (name: string) => (lib[name] ? adapt(name, lib[name]) : undefined);

  // errno is thread-local and its address is fixed for the thread's life.
  const errnoAddress = call(constants.errnoFunction)() as bigint;
  const errnoView = new deno.UnsafePointerView(deno.UnsafePointer.create(errnoAddress));

  const mmap = call("mmap"), munmap = call("munmap"), mprotect = call("mprotect");
  const madvise = call("madvise"), msync = call("msync"), mlock = call("mlock");
  const munlock = call("munlock"), mincore = call("mincore"), open = call("open");
  const close = call("close"), fstat = call(constants.fstatSymbol), stat = call(constants.statSymbol);
  const ftruncate = call("ftruncate"), fsync = call("fsync"), sysconf = call("sysconf");
  const unlink = call("unlink"), fcntl = call("fcntl"), fcntlPointer = call("fcntl_pointer");
  const mremap = optional("mremap"), fallocate = optional("posix_fallocate");
  const shmOpen = optional("shm_open"), shmUnlink = optional("shm_unlink");
  const memfdCreate = optional("memfd_create");

  return {
    runtime: "deno",
    maxArrayBufferLength: Number.MAX_SAFE_INTEGER,
    mmap: (addr, length, prot, flags, fd, offset) =>
      mmap(addr, BigInt(length), prot, flags, fd, BigInt(offset)) as bigint,
    munmap: (addr, length) => munmap(addr, BigInt(length)) as number,
    mremap: mremap &&
      ((addr, oldLength, newLength, flags) =>
        mremap(addr, BigInt(oldLength), BigInt(newLength), flags) as bigint),
    mprotect: (addr, length, prot) => mprotect(addr, BigInt(length), prot) as number,
    madvise: (addr, length, advice) => madvise(addr, BigInt(length), advice) as number,
    msync: (addr, length, flags) => msync(addr, BigInt(length), flags) as number,
    mlock: (addr, length) => mlock(addr, BigInt(length)) as number,
    munlock: (addr, length) => munlock(addr, BigInt(length)) as number,
    mincore: (addr, length, vec) => mincore(addr, BigInt(length), vec) as number,
    open: (path, flags, mode) => open(path, flags, mode) as number,
    close: (fd) => close(fd) as number,
    fstat: (fd, buffer) => fstat(fd, buffer) as number,
    stat: (path, buffer) => stat(path, buffer) as number,
    ftruncate: (fd, length) => ftruncate(fd, BigInt(length)) as number,
    posixFallocate: fallocate &&
      ((fd, offset, length) => fallocate(fd, BigInt(offset), BigInt(length)) as number),
    fsync: (fd) => fsync(fd) as number,
    fcntl: (fd, command, arg) => fcntl(fd, command, BigInt(arg)) as number,
    fcntlPointer: (fd, command, buffer) => fcntlPointer(fd, command, buffer) as number,
    unlink: (path) => unlink(path) as number,
    shmOpen: shmOpen && ((name, flags, mode) => shmOpen(name, flags, mode) as number),
    shmUnlink: shmUnlink && ((name) => shmUnlink(name) as number),
    memfdCreate: memfdCreate && ((name, flags) => memfdCreate(name, flags) as number),
    sysconf: (name) => Number(sysconf(name)),
    errno: () => errnoView.getInt32(),
    arrayBuffer: (addr, length) =>
      deno.UnsafePointerView.getArrayBuffer(deno.UnsafePointer.create(addr), length),
    checkPathAccess(path, access) {
      // FFI bypasses Deno's permission model, so ask it before opening.
      if (deno.permissions.querySync({ name: access, path }).state === "granted") return;
      throw new MmapError(
        `Deno denies ${access} access to "${path}": run with --allow-${access}`,
        { code: "EACCES", errno: 13, syscall: "open", path },
      );
    },
  };
}

function openFirst(
  deno: DenoApi,
  paths: readonly string[],
  table: Record<string, DenoSymbol>,
): Record<string, DenoFunction | null> {
  let lastError: unknown;
  for (const path of paths) {
    try {
      return { ...deno.dlopen(path, table).symbols };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
