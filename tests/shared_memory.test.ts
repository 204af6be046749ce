// SharedMemory in one process: names like Python's, checked before libc; a
// lifecycle that never truncates, refuses strangers' objects and detaches
// views; file-backed regions.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ClosedError, MmapError, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";
import {
  descriptorFlags, descriptorsOn, mappingsOn, O_CLOEXEC, removeTracked, shmExists, track, uniqueName,
} from "./shared_memory_helpers.ts";

const directory = makeDirectory("memmapfs-shm-");
after(() => {
  removeTracked();
  removeDirectory(directory);
});

const isMmapError = (code: string, syscall?: string) => (error: unknown) =>
  error instanceof MmapError && error.code === code && (syscall === undefined || error.syscall === syscall);

/** Runs `fn` with a libc that counts calls, and returns it. */
function counting(fn: () => void): FaultyLibc {
  const faulty = new FaultyLibc(libc());
  useLibc(faulty);
  try {
    fn();
  } finally {
    useLibc(null);
  }
  return faulty;
}

describe("names", () => {
  // [what, name, refused by open too] — open reads a later slash as a path.
  const bad: [string, unknown, boolean][] = [
    ["empty", "", true], ["only a slash", "/", true], ["a slash inside", "a/b", false],
    ["a second slash", "/a/b", false], ["two leading slashes", "//a", false], ["dot", ".", true],
    ["slash dot", "/.", true], ["dot dot", "..", true], ["slash dot dot", "/..", true],
    ["NUL", "a\0b", true], ["256 bytes", "x".repeat(256), true],
    ["255 characters but 256 bytes", "é".repeat(128), true], ["a number", 42, true],
    ["null", null, true],
  ];
  for (const [what, name, byOpen] of bad) {
    it(`create refuses ${what} before calling libc`, () => {
      const faulty = counting(() => {
        assert.throws(() => SharedMemory.create({ name: name as string, size: 16 }), TypeError);
      });
      assert.equal(faulty.calls("shmOpen"), 0);
    });
    if (!byOpen) continue;
    it(`open refuses ${what} before calling libc`, () => {
      const faulty = counting(() => {
        assert.throws(() => SharedMemory.open(name as string), TypeError);
      });
      assert.equal(faulty.calls("shmOpen") + faulty.calls("open"), 0);
    });
  }

  const good: [string, string][] = [
    ["255 bytes", "m".repeat(255)], ["a slash and 255 bytes", `/${"n".repeat(255)}`],
    ["UTF-8", `psm_é_${process.pid}`], ["Python's style", `psm_${process.pid.toString(16)}ab`],
    // A backslash is an ordinary byte of a POSIX name (only Windows spells paths with it).
    ["a backslash", `psm_back\\slash_${process.pid}`], ["a drive-letter look", `C:psm_${process.pid}`],
  ];
  for (const [what, name] of good) {
    it(`accepts ${what}`, () => {
      track(name);
      using region = SharedMemory.create({ name, size: 16 });
      assert.equal(region.name, name.replace(/^\//, ""));
      assert.ok(shmExists(name));
      region.unlink();
    });
  }

  it('treats "psm_x" and "/psm_x" as one object, reported without the slash', () => {
    const name = uniqueName();
    using first = SharedMemory.create({ name: `/${name}`, size: 64 });
    assert.equal(first.name, name);
    assert.ok(shmExists(name), "the object lives at /dev/shm/<name without slash>");
    first.bytes[0] = 42;
    using second = SharedMemory.open(name);
    using third = SharedMemory.open(`/${name}`);
    assert.equal(second.bytes[0], 42);
    assert.equal(third.bytes[0], 42);
    assert.throws(() => SharedMemory.create({ name, size: 64 }), isMmapError("EEXIST", "shm_open"));
    first.unlink();
  });

  it("makes unguessable random names and retries a collision", () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      using region = SharedMemory.create({ size: 16 });
      track(region.name);
      assert.match(region.name!, /^psm_[0-9a-f]{16}$/);
      names.add(region.name!);
      region.unlink();
    }
    assert.equal(names.size, 5);
    const faulty = new FaultyLibc(libc());
    faulty.fail("shmOpen", { errno: 17 }); // EEXIST: as if the first pick was taken
    useLibc(faulty);
    try {
      using region = SharedMemory.create({ size: 16 });
      track(region.name);
      assert.equal(faulty.calls("shmOpen"), 2);
      region.unlink();
    } finally {
      useLibc(null);
    }
  });
});

describe("lifecycle", () => {
  it("creates exclusively by default, mode 0600, close-on-exec", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 4096 });
    assert.equal(fs.statSync(`/dev/shm/${name}`).mode & 0o777, 0o600);
    const [fd] = descriptorsOn(name);
    assert.ok((descriptorFlags(fd) & O_CLOEXEC) !== 0, "O_CLOEXEC");
    assert.throws(() => SharedMemory.create({ name, size: 4096 }), isMmapError("EEXIST", "shm_open"));
    region.unlink();
  });

  it("never truncates an object that exists, and grows one that is smaller", () => {
    const name = uniqueName();
    using big = SharedMemory.create({ name, size: 8192 });
    big.bytes[8191] = 7;
    using small = SharedMemory.create({ name, size: 16, exclusive: false });
    assert.equal(small.size, 8192, "the existing size wins");
    assert.equal(fs.statSync(`/dev/shm/${name}`).size, 8192);
    assert.equal(big.bytes[8191], 7, "the other mapping still reads its bytes");
    using grown = SharedMemory.create({ name, size: 16384, exclusive: false });
    assert.equal(grown.size, 16384);
    assert.equal(grown.bytes[8191], 7);
    big.unlink();
  });

  it("opens with the real size, read-only when asked, and sees later writes", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 12345 });
    using reader = SharedMemory.open(name, { readonly: true });
    assert.equal(reader.size, 12345);
    assert.equal(reader.readonly, true);
    assert.equal(reader.bytes[100], 0);
    region.bytes[100] = 9;
    assert.equal(reader.bytes[100], 9, "a page read before the write shows it");
    assert.throws(() => reader.sync(), TypeError);
    region.unlink();
  });

  it("keeps a stray write through a read-only view out of the object", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 8192 });
    region.bytes[0] = 1;
    using reader = SharedMemory.open(name, { readonly: true });
    reader.bytes[0] = 99; // mapped copy-on-write: no SIGSEGV, no effect on the object
    assert.equal(region.bytes[0], 1);
    region.bytes[4096] = 5;
    assert.equal(reader.bytes[4096], 5, "pages not written here still follow the object");
    region.unlink();
  });

  it("refuses an object that group or others may write unless trusted", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 64 });
    fs.chmodSync(`/dev/shm/${name}`, 0o620);
    const before = descriptorsOn(name).length;
    assert.throws(() => SharedMemory.open(name), (error: unknown) =>
      isMmapError("EACCES")(error) && /mode 0620/.test((error as Error).message) &&
      /trustAnyOwner/.test((error as Error).message));
    assert.equal(descriptorsOn(name).length, before, "the refused open closed its descriptor");
    assert.throws(() => SharedMemory.create({ name, size: 64, exclusive: false }), isMmapError("EACCES"));
    using trusted = SharedMemory.open(name, { trustAnyOwner: true });
    assert.equal(trusted.size, 64);
    using created = SharedMemory.create({ name, size: 64, exclusive: false, trustAnyOwner: true });
    assert.ok(shmExists(name), "refusing removed nothing");
    region.unlink();
  });

  it("refuses an object another user owns unless trusted", { skip: process.getuid?.() !== 0 && "needs root to chown" }, () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 64 });
    fs.chownSync(`/dev/shm/${name}`, 4321, 4321);
    assert.throws(() => SharedMemory.open(name), (error: unknown) =>
      isMmapError("EACCES")(error) && /belongs to user 4321/.test((error as Error).message));
    using trusted = SharedMemory.open(name, { trustAnyOwner: true });
    assert.equal(trusted.size, 64);
    region.unlink();
  });

  it("keeps mappings alive after unlink; new opens and a second unlink are ENOENT", () => {
    const name = uniqueName();
    const region = SharedMemory.create({ name, size: 64 });
    region.bytes[0] = 1;
    region.unlink();
    assert.equal(shmExists(name), false);
    region.bytes[1] = 2;
    assert.deepEqual([...region.bytes.subarray(0, 2)], [1, 2]);
    assert.throws(() => SharedMemory.open(name), isMmapError("ENOENT", "shm_open"));
    assert.throws(() => region.unlink(), isMmapError("ENOENT", "shm_unlink"));
    region.close();
  });

  it("closes once, detaches views and throws ClosedError after", () => {
    const name = uniqueName();
    const region = SharedMemory.create({ name, size: 3 * 4096 });
    const view = region.bytes;
    const part = region.subarray(4096, 8192);
    assert.equal(mappingsOn(name).length, 1);
    region.close();
    region.close();
    region[Symbol.dispose]();
    assert.equal(region.closed, true);
    assert.equal(view.byteLength, 0, "views detach on close");
    assert.equal(part.byteLength, 0);
    assert.deepEqual(mappingsOn(name), [], "unmapped");
    assert.deepEqual(descriptorsOn(name), [], "descriptor closed");
    assert.throws(() => region.bytes, ClosedError);
    assert.throws(() => region.subarray(0, 1), ClosedError);
    assert.throws(() => region.sync(), ClosedError);
    assert.ok(shmExists(name), "close leaves the object for others");
    region.unlink();
    assert.equal(shmExists(name), false, "unlink works after close");
  });

  it("gives zero-copy subarrays and checks their range", () => {
    using region = SharedMemory.create({ size: 8192 });
    track(region.name);
    region.subarray(4096, 4100).set([1, 2, 3, 4]);
    assert.deepEqual([...region.bytes.subarray(4096, 4100)], [1, 2, 3, 4]);
    assert.equal(region.subarray(8192).byteLength, 0);
    assert.throws(() => region.subarray(0, 8193), RangeError);
    assert.throws(() => region.subarray(10, 5), RangeError);
    region.sync();
    region.unlink();
  });
});

describe("file-backed regions", () => {
  it("creates the file exclusively with mode 0600 and makes it durable on sync", () => {
    const file = path.join(directory, "region.bin");
    using region = SharedMemory.create({ path: file, size: 4096 });
    assert.equal(region.path, file);
    assert.equal(region.name, null);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.ok((descriptorFlags(descriptorsOn(file)[0]) & O_CLOEXEC) !== 0, "O_CLOEXEC");
    new TextEncoder().encodeInto("on disk", region.bytes);
    region.sync();
    assert.equal(fs.readFileSync(file).subarray(0, 7).toString(), "on disk");
    assert.throws(() => SharedMemory.create({ path: file, size: 4096 }), isMmapError("EEXIST", "open"));
    region.unlink();
    assert.equal(fs.existsSync(file), false);
    assert.throws(() => region.unlink(), isMmapError("ENOENT", "unlink"));
  });

  it("never truncates a file that exists and opens by path or URL", () => {
    const file = path.join(directory, "existing.bin");
    fs.writeFileSync(file, "x".repeat(10000), { mode: 0o600 });
    using region = SharedMemory.create({ path: file, size: 100, exclusive: false });
    assert.equal(region.size, 10000);
    assert.equal(fs.statSync(file).size, 10000);
    using grown = SharedMemory.create({ path: new URL(`file://${file}`), size: 20000, exclusive: false });
    assert.equal(grown.size, 20000);
    grown.sync();
    using byPath = SharedMemory.open(file, { readonly: true });
    assert.equal(byPath.size, 20000);
    assert.equal(byPath.bytes[9999], "x".charCodeAt(0));
    using byUrl = SharedMemory.open(new URL(`file://${file}`));
    assert.equal(byUrl.path, file);
    const relative = path.relative(process.cwd(), file);
    using byRelative = SharedMemory.open(relative.startsWith(".") ? relative : `./${relative}`);
    assert.equal(byRelative.size, 20000);
  });

  it("refuses a file others may write and a symbolic link", () => {
    const file = path.join(directory, "open-to-all.bin");
    fs.writeFileSync(file, new Uint8Array(64));
    fs.chmodSync(file, 0o666);
    assert.throws(() => SharedMemory.open(file), isMmapError("EACCES"));
    using trusted = SharedMemory.open(file, { trustAnyOwner: true });
    assert.equal(trusted.size, 64);
    const link = path.join(directory, "link.bin");
    fs.symlinkSync(file, link);
    assert.throws(() => SharedMemory.open(link, { trustAnyOwner: true }), isMmapError("ELOOP", "open"));
  });
});

describe("arguments", () => {
  it("are checked before any syscall", () => {
    const faulty = counting(() => {
      assert.throws(() => SharedMemory.create({ size: -1 }), RangeError);
      assert.throws(() => SharedMemory.create({ size: 0 }), RangeError);
      assert.throws(() => SharedMemory.create({ size: 1.5 }), RangeError);
      assert.throws(() => SharedMemory.create({ size: Number.NaN }), RangeError);
      assert.throws(() => SharedMemory.create({ size: "8" as unknown as number }), TypeError);
      assert.throws(() => SharedMemory.create(undefined as unknown as { size: number }), TypeError);
      assert.throws(() => SharedMemory.create({ name: "a", path: "/tmp/a", size: 8 }), TypeError);
      assert.throws(() => SharedMemory.create({ size: 8, exclusive: "yes" as unknown as boolean }), TypeError);
      assert.throws(() => SharedMemory.create({ size: 8, permissions: 0o10000 }), RangeError);
      assert.throws(() => SharedMemory.create({ size: 8, permissions: -1 }), RangeError);
      assert.throws(() => SharedMemory.create({ path: "", size: 8 }), TypeError);
      assert.throws(() => SharedMemory.open(7 as unknown as string), TypeError);
      assert.throws(() => SharedMemory.open("psm_x", { readonly: 1 as unknown as boolean }), TypeError);
      assert.throws(() => SharedMemory.open("psm_x", null as unknown as object), TypeError);
    });
    assert.equal(faulty.calls("shmOpen") + faulty.calls("open"), 0);
  });

  it("name the argument in sentence case", () => {
    assert.throws(() => SharedMemory.create({ size: -1 }), /^RangeError: Size must/);
    assert.throws(() => SharedMemory.create({ name: "", size: 1 }), /^TypeError: Name must not be empty/);
    assert.throws(() => SharedMemory.open(7 as unknown as string), /^TypeError: NameOrPath must/);
  });
});
