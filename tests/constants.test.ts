// The platform table against independent witnesses on this machine: Python's
// mmap/os/errno modules for the numbers, node:fs for the struct stat layout.
// When the suite runs emulated (linux-arm64 under qemu-user) the host's
// python3 is an x86-64 program and reports x86-64 numbers; the arm64 numbers
// then come from the arm64 headers' lines committed in linux_arm64_headers.txt,
// which are also checked on every run, emulated or not.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { constantsFor, type PlatformConstants } from "../src/ffi/constants.ts";
import { libc } from "../src/ffi/mod.ts";
import { readHeaderLines } from "./header_lines.ts";

const here = constantsFor(process.platform, process.arch);
const arm64Headers = readHeaderLines(new URL("./linux_arm64_headers.txt", import.meta.url));

const MMAP_NAMES = ["MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_POPULATE", "PROT_READ", "PROT_WRITE",
  "MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED", "MADV_DONTNEED",
  "MADV_FREE", "MADV_REMOVE", "MADV_DONTFORK", "MADV_DOFORK", "MADV_MERGEABLE",
  "MADV_UNMERGEABLE", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE"];
const OPEN_FLAGS = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND",
  "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC"];

/** What Python's modules report, in the shape the checks below read. */
interface Witness {
  mmap: Record<string, number>;
  os: Record<string, number>;
  errno: Record<string, string>;
}

/** Checks a table's numbers against a witness: Python's modules, or header lines. */
function assertMatches(c: PlatformConstants, witness: Witness): void {
  const advice = (name: string) => c.advice[name.slice(5).toLowerCase() as keyof typeof c.advice];
  for (const [name, value] of Object.entries(witness.mmap)) {
    const ours = name.startsWith("MADV_") ? advice(name) : (c as unknown as Record<string, number>)[name];
    assert.equal(ours, value, name);
  }
  for (const [name, value] of Object.entries(witness.os)) {
    assert.equal((c as unknown as Record<string, number>)[name], value, name);
  }
  for (const [number, name] of Object.entries(c.errnoNames)) {
    const theirs = witness.errno[number];
    // Linux has two names for 95 and for 35; either may be reported.
    if (number === "95") assert.ok(["EOPNOTSUPP", "ENOTSUP"].includes(theirs));
    else if (number === "35") assert.ok(["EDEADLK", "EDEADLOCK"].includes(theirs));
    else assert.equal(name, theirs, `errno ${number}`);
  }
}

/** The same witness read from the committed linux-arm64 header lines. */
function arm64HeaderWitness(): Witness {
  const { macro, lines } = arm64Headers;
  const errno: Record<string, string> = {};
  for (const { text } of lines) {
    const match = text.match(/^#define (E[A-Z0-9]+) (\d+)$/);
    if (match) errno[match[2]] ??= match[1];
  }
  return {
    mmap: Object.fromEntries(MMAP_NAMES.map((name) => [name, macro(name)])),
    os: Object.fromEntries(OPEN_FLAGS.map((name) => [name, macro(name)])),
    errno,
  };
}

describe("constants of the running platform", () => {
  it("are known", () => {
    assert.ok(here, `${process.platform}-${process.arch} has a table`);
  });

  it("match Python's mmap, os and errno modules", () => {
    const python = JSON.parse(execFileSync("python3", ["-c", `
import errno, json, mmap, os, platform, sys
names, flags = json.loads(sys.argv[1])
print(json.dumps({
  "machine": platform.machine(),
  "mmap": {n: getattr(mmap, n) for n in names if hasattr(mmap, n)},
  "os": {n: getattr(os, n) for n in flags},
  "errno": {str(k): v for k, v in errno.errorcode.items()},
  "pagesize": os.sysconf("SC_PAGESIZE"),
}))
`, JSON.stringify([MMAP_NAMES, OPEN_FLAGS])], { encoding: "utf8" }));
    const pythonArch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[python.machine] ?? python.machine;
    if (pythonArch === process.arch) {
      assertMatches(here!, python);
    } else {
      // Emulated: python3 is the host's. Our table against the arm64 headers instead.
      assert.equal(`${process.platform}-${process.arch}`, "linux-arm64", `no header witness for ${process.platform}-${process.arch}`);
      assertMatches(here!, arm64HeaderWitness());
    }
    // qemu-user reports the host's page size to the guest, as Python sees it.
    assert.equal(libc().pageSize(), python.pagesize);
  });

  it("the linux-arm64 table matches the arm64 headers (checked on every machine)", () => {
    assertMatches(constantsFor("linux", "arm64")!, arm64HeaderWitness());
    const { macro } = arm64Headers;
    const arm = constantsFor("linux", "arm64")!;
    for (const name of ["PROT_NONE", "MAP_FIXED", "MAP_NORESERVE", "MAP_HUGETLB", "MREMAP_MAYMOVE", "MS_ASYNC", "MS_SYNC", "MS_INVALIDATE"]) {
      assert.equal((arm as unknown as Record<string, number>)[name], macro(name), name);
    }
    for (const name of ["cold", "pageout", "populate-read", "populate-write"] as const) {
      assert.equal(arm.advice[name], macro(`MADV_${name.toUpperCase().replace("-", "_")}`), name);
    }
    // Where arm64 differs from x86-64: its bits/fcntl.h.
    assert.notEqual(arm.O_DIRECTORY, constantsFor("linux", "x64")!.O_DIRECTORY);
  });

  it("read struct stat the way node:fs reports it", () => {
    const file = new URL(import.meta.url).pathname;
    const c = libc();
    const fd = c.open(file, c.constants.O_RDONLY | c.constants.O_CLOEXEC, 0);
    assert.ok(fd >= 0);
    try {
      const ours = c.fstat(fd)!;
      const theirs = fs.statSync(file, { bigint: true });
      assert.equal(BigInt(ours.size), theirs.size);
      assert.equal(BigInt(ours.mode), theirs.mode);
      assert.equal(BigInt(ours.uid), theirs.uid);
      assert.equal(BigInt(ours.gid), theirs.gid);
      assert.equal(ours.ino, theirs.ino);
      assert.equal(ours.dev, theirs.dev);
      // Deno's node:fs rounds nanoseconds to milliseconds; allow for that.
      const difference = ours.mtimeNs - theirs.mtimeNs;
      assert.ok(difference >= 0n && difference < 1_000_000n, `mtime ${ours.mtimeNs} vs ${theirs.mtimeNs}`);
      const atime = ours.atimeNs - theirs.atimeNs;
      assert.ok(atime >= 0n && atime < 1_000_000n, `atime ${ours.atimeNs} vs ${theirs.atimeNs}`);
      // fstatat fills the same layout, following or not.
      const at = c.fstatat(c.constants.AT_FDCWD, file, c.constants.AT_SYMLINK_NOFOLLOW)!;
      assert.deepEqual([at.ino, at.size, at.mode, at.gid], [ours.ino, ours.size, ours.mode, ours.gid]);
    } finally {
      c.close(fd);
    }
  });

  it("the *at numbers match this kernel: a dirent, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW and openat2's RESOLVE_BENEATH", () => {
    const c = libc();
    const k = c.constants;
    const directory = fs.mkdtempSync(`${fs.realpathSync("/tmp")}/memmapfs-constants-`);
    try {
      fs.mkdirSync(`${directory}/sub`);
      fs.symlinkSync("/", `${directory}/link`);
      const link = c.fstatat(k.AT_FDCWD, `${directory}/link`, k.AT_SYMLINK_NOFOLLOW)!;
      assert.equal(link.mode & k.S_IFMT, k.S_IFLNK);
      const fd = c.openat(k.AT_FDCWD, directory, k.O_RDONLY | k.O_DIRECTORY | k.O_CLOEXEC, 0);
      assert.ok(fd >= 0);
      const dir = c.fdopendir(fd);
      const seen: Record<string, number> = {};
      for (let entry = c.readdir(dir); entry !== null && entry !== -1; entry = c.readdir(dir)) seen[entry.name] = entry.type;
      c.closedir(dir);
      assert.deepEqual(seen, { ".": k.DT_DIR, "..": k.DT_DIR, sub: k.DT_DIR, link: k.DT_LNK });
      assert.equal(c.unlinkat(k.AT_FDCWD, `${directory}/sub`, k.AT_REMOVEDIR), 0);
      if (c.openat2) {
        const root = c.openat(k.AT_FDCWD, directory, k.O_RDONLY | k.O_DIRECTORY | k.O_CLOEXEC, 0);
        const escaped = c.openat2(root, "link", k.O_RDONLY | k.O_CLOEXEC, 0, k.RESOLVE_BENEATH);
        const errno = c.errno;
        c.close(root);
        // EXDEV: the link leads outside; ENOSYS only on a kernel before 5.6.
        assert.ok(escaped < 0 && ["EXDEV", "ENOSYS"].includes(k.errnoNames[errno]), `openat2 gave ${escaped} ${k.errnoNames[errno]}`);
      }
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });

  it("darwin and arm64 tables differ where their headers differ", () => {
    const darwin = constantsFor("darwin", "arm64")!;
    const arm = constantsFor("linux", "arm64")!;
    assert.equal(darwin.MAP_ANONYMOUS, 0x1000);
    assert.equal(darwin.MS_SYNC, 0x10);
    assert.equal(darwin.MAP_POPULATE, 0, "no MAP_POPULATE on darwin");
    assert.equal(darwin.errnoNames[35], "EAGAIN");
    assert.equal(darwin.defaultPageSize, 16384);
    // sys/fcntl.h and sys/dirent.h on Darwin; asm-generic on arm64 Linux.
    assert.deepEqual([darwin.AT_FDCWD, darwin.AT_SYMLINK_NOFOLLOW, darwin.AT_REMOVEDIR, darwin.O_NONBLOCK], [-2, 0x20, 0x80, 0x4]);
    assert.equal(darwin.SYS_openat2, 0, "no openat2 on darwin: the walk resolves");
    assert.deepEqual([darwin.dirent.reclen, darwin.dirent.type, darwin.dirent.name], [16, 20, 21]);
    assert.equal(constantsFor("darwin", "x64")!.readdirSymbol, "readdir$INODE64");
    assert.deepEqual([arm.AT_FDCWD, arm.AT_REMOVEDIR, arm.SYS_openat2, arm.O_NONBLOCK, arm.O_PATH], [-100, 0x200, 437, 0o4000, 0o10000000]);
    assert.equal(constantsFor("darwin", "x64")!.fstatSymbol, "fstat$INODE64");
    assert.equal(arm.O_DIRECTORY, 0o40000);
    assert.equal(arm.O_NOFOLLOW, 0o100000);
    assert.equal(arm.stat.mode.offset, 16);
    assert.equal(constantsFor("win32", "x64"), undefined);
  });
});
