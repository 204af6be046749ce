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
    "unsigned short": 2, "int": 4, "unsigned int": 4, "long": 8, "long long": 8, "unsigned long long": 8,
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
    const match = line.match(/^(.+?)\s+(\w+)(?:\[(\d+)\])?;$/);
    assert.ok(match, `not a field: ${line}`);
    const [, type, name, count] = match;
    const bytes = size(type);
    const align = type === "struct timespec" ? 8 : bytes;
    widest = Math.max(widest, align);
    at = Math.ceil(at / align) * align;
    offsets[name] = at;
    at += bytes * Number(count ?? 1);
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

/** `__DARWIN_ONLY_64_BIT_INO_T` for macOS on an architecture, from the cdefs.h branch lines. */
function only64BitInodes(arch: "x64" | "arm64"): number {
  const branch = lines.findIndex(({ text }) =>
    arch === "x64" ? text === "#elif defined(__x86_64__)" : text === "#else" && true);
  const value = lines.slice(branch + 1).find(({ text }) => text.includes("__DARWIN_ONLY_64_BIT_INO_T"));
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
};
// Fields that are 0 because Darwin has no such thing: the header search found none.
const ABSENT: Record<string, string> = { MAP_POPULATE: "MAP_POPULATE", MAP_HUGETLB: "MAP_HUGETLB", MREMAP_MAYMOVE: "MREMAP_MAYMOVE" };
// Fields checked by their own test below.
const DERIVED = ["stat", "fstatSymbol", "statSymbol", "errnoFunction", "errnoNames", "advice", "fstore",
  "defaultPageSize", "shmSizeFixedOnce", "variadicArguments", "integerArgumentRegisters"];
// Not in any header: the table's own name and where libSystem lives on disk.
const NOT_FROM_HEADERS = ["name", "libcPaths"];

const tables: [string, PlatformConstants, "x64" | "arm64"][] = [
  ["darwin-x64", constantsFor("darwin", "x64")!, "x64"],
  ["darwin-arm64", constantsFor("darwin", "arm64")!, "arm64"],
];

let verified = 0;

describe("darwin tables against xnu and Libc headers", () => {
  for (const [name, table, arch] of tables) {
    it(`${name}: every field has a header line or a stated reason`, () => {
      const known = [...Object.keys(FROM_MACRO), ...Object.keys(ABSENT), ...DERIVED, ...NOT_FROM_HEADERS];
      for (const field of Object.keys(table)) assert.ok(known.includes(field), `${name}.${field} is not checked`);
    });

    it(`${name}: macros`, () => {
      for (const [field, header] of Object.entries(FROM_MACRO)) {
        assert.equal((table as unknown as Record<string, number>)[field], macro(header), `${field} (${headers.source(header)})`);
        verified++;
      }
      for (const [field, header] of Object.entries(ABSENT)) {
        assert.ok(absent.has(header), `${header} searched for and absent`);
        assert.equal((table as unknown as Record<string, number>)[field], 0, field);
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
        fileSize: offsets.st_size,
        mtime: offsets.st_mtimespec,
      });
      const sizes = typeSizes("arm");
      assert.equal(sizes("dev_t"), table.stat.dev.bytes);
      assert.equal(sizes("mode_t"), table.stat.mode.bytes);
      verified += 8;
    });

    it(`${name}: fstat and stat symbols follow the $INODE64 rule`, () => {
      // __DARWIN_INODE64(sym) appends "$INODE64" unless only 64-bit inodes exist.
      assert.ok(lines.some(({ text }) => text.includes('__DARWIN_SUF_64_BIT_INO_T "$INODE64"')));
      const suffix = only64BitInodes(arch) === 1 ? "" : "$INODE64";
      for (const fn of ["fstat", "stat"] as const) {
        assert.ok(lines.some(({ text }) => text.startsWith(`int ${fn}(`) && text.endsWith(`__DARWIN_INODE64(${fn});`)));
        assert.equal(fn === "fstat" ? table.fstatSymbol : table.statSymbol, `${fn}${suffix}`);
        verified++;
      }
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
