// Every number of the darwin tables against Apple's own headers. No Mac runs
// here, so tests/darwin_headers.txt holds the header lines (xnu and Libc, with
// path and line number) the numbers were checked against; this test derives
// each number from those lines — macros, struct layouts from their fields and
// typedefs, the $INODE64 symbol rule — and compares it with constants.ts.
// A field added to the tables without a header line fails the coverage check.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { constantsFor, type PlatformConstants } from "../src/ffi/constants.ts";
import { readHeaderLines } from "./header_lines.ts";

const headers = readHeaderLines(new URL("./darwin_headers.txt", import.meta.url));
const { lines, absent, macro } = headers;

/** C type sizes on LP64 Darwin, from the typedef lines of one architecture's _types.h. */
function typeSizes(arch: "arm" | "i386"): (type: string) => number {
  const base: Record<string, number> = {
    "char": 1, "unsigned char": 1, "unsigned short": 2, "int": 4, "unsigned int": 4, "long": 8, "long long": 8, "unsigned long long": 8,
  };
  const typedefs = new Map<string, string>();
  for (const { path, text } of lines) {
    const match = text.match(/^typedef (.+?)\s+(\w+);$/);
    if (!match) continue;
    if (path.startsWith("bsd/arm/") && arch !== "arm") continue;
    if (path.startsWith("bsd/i386/") && arch !== "i386") continue;
    typedefs.set(match[2], match[1]);
  }
  const size = (type: string): number => {
    if (type in base) return base[type];
    if (type === "struct timespec") return 2 * size(fieldType("tv_sec")); // tv_sec, tv_nsec: both long
    const target = typedefs.get(type);
    assert.ok(target, `no typedef line for ${type} (${arch})`);
    return size(target);
  };
  return size;
}

function fieldType(name: string): string {
  const line = lines.find(({ text }) => new RegExp(`^(.+?)\\s+${name};$`).test(text));
  assert.ok(line, `no field line for ${name}`);
  return line.text.match(new RegExp(`^(.+?)\\s+${name};$`))![1];
}

/** Offsets and size of a C struct laid out from consecutive field lines, natural alignment. */
function layout(fields: string[], size: (type: string) => number): { offsets: Record<string, number>; size: number } {
  const offsets: Record<string, number> = {};
  let at = 0;
  let widest = 1;
  for (const line of fields) {
    const match = line.match(/^(.+?)\s+(\w+)(?:\[(\w+)\])?;$/);
    assert.ok(match, `not a field: ${line}`);
    const [, type, name, count] = match;
    const bytes = size(type);
    const align = type === "struct timespec" ? 8 : bytes;
    widest = Math.max(widest, align);
    at = Math.ceil(at / align) * align;
    offsets[name] = at;
    at += bytes * (count === undefined ? 1 : /^\d+$/.test(count) ? Number(count) : macro(count));
  }
  return { offsets, size: Math.ceil(at / widest) * widest };
}

/** The field lines between two header lines (struct bodies), with a macro expanded in place. */
function body(from: RegExp, to: RegExp, expand: Record<string, string[]> = {}): string[] {
  const start = lines.findIndex(({ text }) => from.test(text));
  const end = lines.findIndex(({ text }, index) => index > start && to.test(text));
  assert.ok(start >= 0 && end > start, `struct between ${from} and ${to}`);
  return lines.slice(start + 1, end).flatMap(({ text }) => expand[text] ?? [text]);
}

const statTimes = body(/^#define __DARWIN_STRUCT_STAT64_TIMES$/, /^#define __DARWIN_STRUCT_STAT64 \{$/);
const statFields = body(/^#define __DARWIN_STRUCT_STAT64 \{$/, /^\}$/, { __DARWIN_STRUCT_STAT64_TIMES: statTimes });
const fstoreFields = body(/^typedef struct fstore \{$/, /^\} fstore_t;$/);
const direntFields = body(/^#define __DARWIN_STRUCT_DIRENTRY \{$/, /^\}$/);

/** A `__DARWIN_ONLY_*` setting for macOS on an architecture, from the cdefs.h branch lines. */
function macOSSetting(arch: "x64" | "arm64", name = "__DARWIN_ONLY_64_BIT_INO_T"): number {
  const branch = lines.findIndex(({ text }) =>
    arch === "x64" ? text === "#elif defined(__x86_64__)" : text === "#else" && true);
  const value = lines.slice(branch + 1).find(({ text }) => text.includes(name));
  return Number(value!.text.match(/(\d+)$/)![1]);
}

// Table field → the macro that gives it.
const FROM_MACRO: Record<string, string> = {
  SC_PAGESIZE: "_SC_PAGESIZE", PROT_NONE: "PROT_NONE", PROT_READ: "PROT_READ", PROT_WRITE: "PROT_WRITE",
  MAP_SHARED: "MAP_SHARED", MAP_PRIVATE: "MAP_PRIVATE", MAP_FIXED: "MAP_FIXED", MAP_ANONYMOUS: "MAP_ANONYMOUS",
  MAP_NORESERVE: "MAP_NORESERVE", MS_ASYNC: "MS_ASYNC", MS_INVALIDATE: "MS_INVALIDATE", MS_SYNC: "MS_SYNC",
  O_RDONLY: "O_RDONLY", O_WRONLY: "O_WRONLY", O_RDWR: "O_RDWR", O_CREAT: "O_CREAT", O_EXCL: "O_EXCL",
  O_TRUNC: "O_TRUNC", O_APPEND: "O_APPEND", O_NOFOLLOW: "O_NOFOLLOW", O_DIRECTORY: "O_DIRECTORY",
  O_CLOEXEC: "O_CLOEXEC", S_IFMT: "S_IFMT", S_IFREG: "S_IFREG", S_IFDIR: "S_IFDIR",
  F_FULLFSYNC: "F_FULLFSYNC", F_PREALLOCATE: "F_PREALLOCATE", shmNameMaxBytes: "PSHMNAMLEN",
  O_NONBLOCK: "O_NONBLOCK", O_NOCTTY: "O_NOCTTY", LOCK_EX: "LOCK_EX", LOCK_NB: "LOCK_NB", LOCK_UN: "LOCK_UN",
  S_IFIFO: "S_IFIFO", S_IFCHR: "S_IFCHR", S_IFBLK: "S_IFBLK", S_IFSOCK: "S_IFSOCK", S_IFLNK: "S_IFLNK",
  AT_FDCWD: "AT_FDCWD", AT_SYMLINK_NOFOLLOW: "AT_SYMLINK_NOFOLLOW", AT_REMOVEDIR: "AT_REMOVEDIR",
  DT_UNKNOWN: "DT_UNKNOWN", DT_DIR: "DT_DIR", DT_REG: "DT_REG", DT_LNK: "DT_LNK",
};
// Fields that are 0 because Darwin has no such thing: the header search found none.
const ABSENT: Record<string, string> = {
  MAP_POPULATE: "MAP_POPULATE", MAP_HUGETLB: "MAP_HUGETLB", MREMAP_MAYMOVE: "MREMAP_MAYMOVE",
  // No memfd, no posix_fadvise, no O_PATH, no openat2 (Darwin's O_RESOLVE_BENEATH is an open flag, not
  // openat2's RESOLVE_BENEATH), no auxiliary vector: exec passes "apple" strings instead.
  MFD_CLOEXEC: "MFD_CLOEXEC", MFD_NOEXEC_SEAL: "MFD_NOEXEC_SEAL", POSIX_FADV_DONTNEED: "POSIX_FADV_DONTNEED",
  O_PATH: "O_PATH", SYS_openat2: "openat2", RESOLVE_BENEATH: "RESOLVE_BENEATH",
  RESOLVE_NO_MAGICLINKS: "RESOLVE_NO_MAGICLINKS", AT_PAGESZ: "AT_PAGESZ",
};
// Fields checked by their own test below.
const DERIVED = ["stat", "fstatSymbol", "statSymbol", "errnoFunction", "errnoNames", "advice", "fstore",
  "defaultPageSize", "shmSizeFixedOnce", "variadicArguments", "integerArgumentRegisters",
  "fstatatSymbol", "fdopendirSymbol", "readdirSymbol", "dirent", "shmDirectory", "futex"];
// Not in any header: the table's own name and where libSystem lives on disk (an absolute path,
// so no directories to search).
const NOT_FROM_HEADERS = ["name", "libcPaths", "libcDirectories"];

const tables: [string, PlatformConstants, "x64" | "arm64"][] = [
  ["darwin-x64", constantsFor("darwin", "x64")!, "x64"],
  ["darwin-arm64", constantsFor("darwin", "arm64")!, "arm64"],
];

let verified = 0;

/** A table field by name, whether or not this branch's PlatformConstants declares it. */
const field = (table: PlatformConstants, name: string): unknown => (table as unknown as Record<string, unknown>)[name];
/**
 * Whether the table has the fields of the confinement, permission and shared-sync work (dirent,
 * *at calls, flock, file types...). Where it has them, every one of them is required; a table
 * from before them is checked on the rest.
 */
const hasDirectoryFields = (table: PlatformConstants): boolean => "dirent" in table;

describe("darwin tables against xnu and Libc headers", () => {
  for (const [name, table, arch] of tables) {
    it(`${name}: every field has a header line or a stated reason`, () => {
      const known = [...Object.keys(FROM_MACRO), ...Object.keys(ABSENT), ...DERIVED, ...NOT_FROM_HEADERS];
      for (const field of Object.keys(table)) assert.ok(known.includes(field), `${name}.${field} is not checked`);
    });

    it(`${name}: macros`, () => {
      const required = (name: string) => hasDirectoryFields(table) || name in table;
      for (const [name, header] of Object.entries(FROM_MACRO)) {
        if (!required(name)) continue;
        assert.equal(field(table, name), macro(header), `${name} (${headers.source(header)})`);
        verified++;
      }
      for (const [name, header] of Object.entries(ABSENT)) {
        if (!required(name)) continue;
        assert.ok(absent.has(header), `${header} searched for and absent`);
        assert.equal(field(table, name), 0, name);
        verified++;
      }
    });

    it(`${name}: madvise advice, with MADV_PAGEOUT left out because release kernels refuse it`, () => {
      for (const [advice, value] of Object.entries(table.advice)) {
        assert.equal(value, macro(`MADV_${advice.toUpperCase().replace("-", "_")}`), advice);
        verified++;
      }
      assert.equal(table.advice.pageout, undefined);
      assert.ok(lines.some(({ text }) => text === "case MADV_PAGEOUT:") && lines.some(({ text }) => text === "return ENOTSUP;"));
      for (const missing of ["MADV_HUGEPAGE", "MADV_REMOVE", "MADV_POPULATE_READ", "MADV_COLD"]) assert.ok(absent.has(missing));
    });

    it(`${name}: errno numbers and __error`, () => {
      for (const [number, errno] of Object.entries(table.errnoNames)) {
        assert.equal(macro(errno), Number(number), `${errno} (${headers.source(errno)})`);
        verified++;
      }
      assert.ok(lines.some(({ text }) => text === `extern int * ${table.errnoFunction}(void);`));
      verified++;
    });

    it(`${name}: struct stat (64-bit inodes) laid out from its fields and typedefs`, () => {
      const { offsets, size } = layout(statFields, typeSizes(arch === "arm64" ? "arm" : "i386"));
      assert.deepEqual(table.stat, {
        size,
        dev: { offset: offsets.st_dev, bytes: 4 },
        ino: offsets.st_ino,
        mode: { offset: offsets.st_mode, bytes: 2 },
        uid: offsets.st_uid,
        ...(hasDirectoryFields(table) ? { gid: offsets.st_gid, atime: offsets.st_atimespec } : {}),
        fileSize: offsets.st_size,
        mtime: offsets.st_mtimespec,
      });
      const sizes = typeSizes("arm");
      assert.equal(sizes("dev_t"), table.stat.dev.bytes);
      assert.equal(sizes("mode_t"), table.stat.mode.bytes);
      verified += 8;
    });

    it(`${name}: fstat, stat, fstatat, readdir and fdopendir symbols follow the $INODE64 rule`, () => {
      // __DARWIN_INODE64(sym) appends "$INODE64" unless only 64-bit inodes exist.
      assert.ok(lines.some(({ text }) => text.includes('__DARWIN_SUF_64_BIT_INO_T "$INODE64"')));
      const suffix = macOSSetting(arch) === 1 ? "" : "$INODE64";
      const inode64: [string, string, string][] = [["fstat", "int ", "fstatSymbol"], ["stat", "int ", "statSymbol"]];
      if (hasDirectoryFields(table)) inode64.push(["fstatat", "int ", "fstatatSymbol"], ["readdir", "struct dirent *", "readdirSymbol"]);
      for (const [fn, returns, key] of inode64) {
        assert.ok(lines.some(({ text }) => text.startsWith(`${returns}${fn}(`) && text.includes(`__DARWIN_INODE64(${fn})`)), fn);
        assert.equal(field(table, key), `${fn}${suffix}`, key);
        verified++;
      }
      if (!hasDirectoryFields(table)) return;
      // fdopendir is __DARWIN_ALIAS_I: the $INODE64 suffix, then "$UNIX2003" unless macOS on the
      // architecture is UNIX-conformant only (x86-64 and arm64 both are: nothing).
      assert.ok(lines.some(({ text }) => text === "DIR *fdopendir(int) __DARWIN_ALIAS_I(fdopendir);"));
      assert.ok(lines.some(({ text }) => text.includes("__DARWIN_ALIAS_I(sym) __asm(\"_\" __STRING(sym) __DARWIN_SUF_64_BIT_INO_T __DARWIN_SUF_UNIX03)")));
      assert.ok(lines.some(({ text }) => text === "# define __DARWIN_SUF_UNIX03"));
      assert.equal(macOSSetting(arch, "__DARWIN_ONLY_UNIX_CONFORMANCE"), 1);
      assert.equal(field(table, "fdopendirSymbol"), `fdopendir${suffix}`);
      verified++;
    });

    it(`${name}: struct dirent (64-bit inodes) laid out from its fields, and the things Darwin has none of`, (t) => {
      if (!hasDirectoryFields(table)) return t.skip("this table predates the dirent fields");
      // The 64-bit-inode struct dirent, declared after "#pragma pack()": natural alignment.
      assert.ok(lines.some(({ text }) => text === "struct dirent __DARWIN_STRUCT_DIRENTRY;"));
      const sizes = typeSizes(arch === "arm64" ? "arm" : "i386");
      const { offsets } = layout(direntFields, sizes);
      assert.deepEqual(field(table, "dirent"), { reclen: offsets.d_reclen, type: offsets.d_type, name: offsets.d_name });
      assert.equal(sizes(fieldType("d_reclen")), 2);
      assert.equal(sizes(fieldType("d_type")), 1);
      // POSIX shared memory lives in the kernel's name cache, not a file system.
      assert.ok(absent.has("/dev/shm"));
      assert.equal(field(table, "shmDirectory"), null);
      assert.deepEqual(field(table, "libcDirectories"), []);
      // No futex: wait/notify has no Darwin back-end yet (os_sync_wait_on_address is for later).
      assert.equal(field(table, "futex"), undefined);
      verified += 6;
    });

    it(`${name}: fstore_t for F_PREALLOCATE, and its flags`, () => {
      const { offsets, size } = layout(fstoreFields, typeSizes(arch === "arm64" ? "arm" : "i386"));
      const store = table.fstore!;
      assert.deepEqual(
        { size: store.size, flags: store.flags, posmode: store.posmode, offset: store.offset, length: store.length, bytesalloc: store.bytesalloc },
        { size, flags: offsets.fst_flags, posmode: offsets.fst_posmode, offset: offsets.fst_offset, length: offsets.fst_length, bytesalloc: offsets.fst_bytesalloc },
      );
      for (const flag of ["F_ALLOCATECONTIG", "F_ALLOCATEALL", "F_PEOFPOSMODE"] as const) {
        assert.equal(store[flag], macro(flag), flag);
      }
      verified += 9;
    });

    it(`${name}: page size, shm semantics and the variadic convention`, () => {
      // arm64 macOS runs 16 KiB pages (PAGE_MAX_SHIFT); x86-64 4 KiB. sysconf gives the real one.
      assert.equal(table.defaultPageSize, arch === "arm64" ? 1 << macro("PAGE_MAX_SHIFT") : 1 << macro("I386_PGSHIFT"));
      // pshm_truncate: "only one ftruncate() per lifetime of the shm object", else EINVAL.
      assert.ok(lines.some(({ path, text }) => path === "bsd/kern/posix_shm.c" && text.includes("PSHM_ALLOCATED")));
      assert.equal(table.shmSizeFixedOnce, true);
      // Apple's arm64 ABI (not a header: "Writing ARM64 code for Apple platforms").
      assert.equal(table.variadicArguments, arch === "arm64" ? "stack" : "registers");
      assert.equal(table.integerArgumentRegisters, arch === "arm64" ? 8 : 6);
      verified += 2;
    });
  }

  it("counts what it verified", () => {
    // Printed for the report; fails only if the tests above checked nothing.
    console.log(`darwin header check: ${verified} values verified against ${lines.length} header lines`);
    assert.ok(verified > 100);
  });
});
