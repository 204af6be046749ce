// The platform table against independent witnesses on this machine: Python's
// mmap/os/errno modules for the numbers, node:fs for the struct stat layout.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { execFileSync } from "node:child_process";
import { constantsFor } from "../src/ffi/constants.ts";
import { libc } from "../src/ffi/mod.ts";

const here = constantsFor(process.platform, process.arch);

describe("constants of the running platform", () => {
  it("are known", () => {
    assert.ok(here, `${process.platform}-${process.arch} has a table`);
  });

  it("match Python's mmap, os and errno modules", () => {
    const python = JSON.parse(execFileSync("python3", ["-c", `
import errno, json, mmap, os
names = ["MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_POPULATE", "PROT_READ", "PROT_WRITE",
         "MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL", "MADV_WILLNEED", "MADV_DONTNEED",
         "MADV_FREE", "MADV_REMOVE", "MADV_DONTFORK", "MADV_DOFORK", "MADV_MERGEABLE",
         "MADV_UNMERGEABLE", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE"]
flags = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_CREAT", "O_EXCL", "O_TRUNC", "O_APPEND",
         "O_NOFOLLOW", "O_DIRECTORY", "O_CLOEXEC", "O_NONBLOCK", "O_NOCTTY", "O_PATH"]
print(json.dumps({
  "mmap": {n: getattr(mmap, n) for n in names if hasattr(mmap, n)},
  "os": {n: getattr(os, n) for n in flags},
  "errno": {str(k): v for k, v in errno.errorcode.items()},
  "pagesize": os.sysconf("SC_PAGESIZE"),
}))
`], { encoding: "utf8" }));
    const c = here!;
    const advice = (name: string) => c.advice[name.slice(5).toLowerCase() as keyof typeof c.advice];
    for (const [name, value] of Object.entries(python.mmap as Record<string, number>)) {
      const ours = name.startsWith("MADV_") ? advice(name) : (c as unknown as Record<string, number>)[name];
      assert.equal(ours, value, name);
    }
    for (const [name, value] of Object.entries(python.os as Record<string, number>)) {
      assert.equal((c as unknown as Record<string, number>)[name], value, name);
    }
    for (const [number, name] of Object.entries(c.errnoNames)) {
      const theirs = python.errno[number];
      // Linux has two names for 95 and for 35; Python reports either.
      if (number === "95") assert.ok(["EOPNOTSUPP", "ENOTSUP"].includes(theirs));
      else if (number === "35") assert.ok(["EDEADLK", "EDEADLOCK"].includes(theirs));
      else assert.equal(name, theirs, `errno ${number}`);
    }
    assert.equal(libc().pageSize(), python.pagesize);
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
