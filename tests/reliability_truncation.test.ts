// Truncation by another process and growth on a full filesystem (issue 7,
// deliverable 2). Every cut here is made by a separate process — coreutils'
// `truncate` — never through the object under test:
// - with `checked: true`, copying reads and writes past the new end throw
//   FileTruncatedError in every mode (windowed too); growing the file back or
//   remap() brings the object back to work with the file's size;
// - without it, only a process that touches a lost page dies (SIGBUS), not the
//   others mapping the same file;
// - MemMapFS drops a cached entry whose file was cut behind its back;
// - growth on a full filesystem (a 1 MiB tmpfs, or injected ENOSPC where
//   mounting is refused) fails at resize time and changes nothing.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { FileTruncatedError, MappedFile, MemMapFS, MmapError, pageSize, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";
import { makeDirectory, mappingsOf, newDescriptors, openDescriptors, pattern, removeDirectory, startScript, withLibc } from "./helpers.ts";
import { until } from "./reliability_helpers.ts";

const directory = makeDirectory("memmapfs-cut-elsewhere-");
/** Undone first, before the directory holding its mount point is removed. */
let unmountSmall = () => {};
after(() => {
  unmountSmall();
  removeDirectory(directory);
});
let counter = 0;

function freshFile(bytes: Uint8Array): string {
  const file = path.join(directory, `file-${counter++}.bin`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Sets the size of `file` from another process (coreutils truncate). */
function truncateElsewhere(file: string, size: number): void {
  const result = spawnSync("truncate", ["-s", String(size), file], { encoding: "utf8" });
  assert.equal(result.status, 0, `truncate -s ${size}: ${result.error ?? result.stderr}`);
}

const truncated = (file: string) => (error: unknown) => {
  assert.ok(error instanceof FileTruncatedError, `expected FileTruncatedError, got ${error}`);
  assert.ok(error instanceof MmapError);
  assert.equal(error.path, file);
  assert.match(error.message, /remap\(\)/);
  return true;
};

describe("cut by another process, checked: true", () => {
  const SIZE = 8 * pageSize;
  const CUT = 2 * pageSize;
  const configurations = [
    { name: "read-only", options: { mode: "readonly" as const } },
    { name: "read-write", options: { mode: "readwrite" as const } },
    { name: "copy-on-write", options: { mode: "copyonwrite" as const } },
    { name: "read-only, windowed", options: { mode: "readonly" as const, window: 2 * pageSize } },
    { name: "read-write, windowed", options: { mode: "readwrite" as const, window: 2 * pageSize } },
  ];
  for (const { name, options } of configurations) {
    it(`${name}: copying reads and writes past the cut throw FileTruncatedError; regrowth and remap() recover`, () => {
      const data = pattern(SIZE, counter);
      const file = freshFile(data);
      using mapped = MappedFile.open(file, { ...options, checked: true });
      const writable = options.mode !== "readonly";
      // Touch the far pages first so they are in memory, and the window is away from the start.
      assert.equal(mapped.getUint8(SIZE - 1), data[SIZE - 1]);
      truncateElsewhere(file, CUT);

      const check = truncated(file);
      assert.throws(() => mapped.readAt(new Uint8Array(16), 3 * pageSize), check);
      assert.throws(() => mapped.readAt(new Uint8Array(16), CUT - 8), check, "a read straddling the new end");
      mapped.seek(5 * pageSize);
      assert.throws(() => mapped.read(new Uint8Array(100)), check);
      assert.equal(mapped.position, 5 * pageSize, "a refused read does not move the position");
      assert.throws(() => mapped.getUint32(SIZE - 4), check);
      assert.throws(() => mapped.getFloat64(CUT), check);
      if (writable) {
        assert.throws(() => mapped.writeAt("lost", 4 * pageSize), check);
        assert.throws(() => mapped.write(new Uint8Array(10)), check);
        assert.throws(() => mapped.setUint16(CUT + 1, 7), check);
      }
      assert.equal(fs.statSync(file).size, CUT, "nothing the object did changed the file's size");
      // Bytes still in the file read and write fine, windowed or not.
      const head = new Uint8Array(CUT);
      assert.equal(mapped.readAt(head, 0), CUT);
      assert.deepEqual(head, data.subarray(0, CUT));
      if (writable) assert.equal(mapped.writeAt("kept", 100), 4);

      // Another process grows the file back: the pages exist again (as zeros) and checks pass.
      truncateElsewhere(file, SIZE);
      const back = new Uint8Array(pageSize);
      assert.equal(mapped.readAt(back, 3 * pageSize), pageSize);
      assert.ok(back.every((byte) => byte === 0), "the cut bytes are gone; the regrown ones read as zeros");
      assert.equal(mapped.getUint32(SIZE - 4), 0);
      if (writable) assert.equal(mapped.writeAt("back", 4 * pageSize), 4);

      // Cut again, to a size that is not a page multiple; remap() takes the new size.
      const newSize = 3 * pageSize + 100;
      truncateElsewhere(file, newSize);
      assert.throws(() => mapped.readAt(new Uint8Array(16), 4 * pageSize), check);
      mapped.remap();
      assert.equal(mapped.size, newSize);
      assert.equal(mapped.readAt(new Uint8Array(16), 4 * pageSize), 0, "past the end is the end of file now");
      const tail = new Uint8Array(200);
      assert.equal(mapped.readAt(tail, newSize - 200), 200, "up to the new end reads fine");
      assert.equal(mapped.getUint8(newSize - 1), 0);
      assert.throws(() => mapped.getUint8(newSize), RangeError);
      if (options.mode === "readwrite") {
        const end = newSize + 50;
        mapped.writeAt("grown", end - 5);
        mapped.sync();
        assert.equal(fs.statSync(file).size, end, "a write past the new end grows the file from there");
        const onDisk = fs.readFileSync(file);
        assert.equal(onDisk.subarray(end - 5).toString(), "grown");
        assert.equal(onDisk.subarray(100, 104).toString(), "kept", "what was written below the cut stayed");
      } else if (writable) {
        mapped.writeAt("private", newSize - 7);
        assert.equal(fs.statSync(file).size, newSize, "copy-on-write writes never reach the file");
      }
    });
  }
});

describe("cut by another process, unchecked", () => {
  it("only the process that touches a lost page dies (SIGBUS); others mapping the file carry on", async () => {
    const data = pattern(8 * pageSize, 3);
    const file = freshFile(data);
    const signals = path.join(directory, `signals-${counter++}`);
    fs.mkdirSync(signals);
    using mapped = MappedFile.open(file); // this process maps it too
    const view = mapped.bytes;
    const reader = (name: string, offsets: number[]) => `
      import * as fs from "node:fs";
      import * as path from "node:path";
      import { MappedFile } from "../mod.ts";
      const signals = ${JSON.stringify(signals)};
      const mapped = MappedFile.open(${JSON.stringify(file)});
      const view = mapped.bytes; // no checks: plain loads from the mapping
      let sum = 0;
      for (let i = 0; i < view.length; i += ${pageSize}) sum += view[i]; // every page in memory
      fs.writeFileSync(path.join(signals, ${JSON.stringify(name)}), String(sum));
      while (!fs.existsSync(path.join(signals, "go"))) await new Promise((resolve) => setTimeout(resolve, 2));
      for (const offset of ${JSON.stringify(offsets)}) console.log(offset, view[offset]);
      console.log("survived");
    `;
    const victim = startScript(reader("victim", [10, 6 * pageSize + 5]));
    const bystander = startScript(reader("bystander", [10, pageSize + 7]));
    await until(() => fs.existsSync(path.join(signals, "victim")) && fs.existsSync(path.join(signals, "bystander")),
      "both children to map the file");
    truncateElsewhere(file, 2 * pageSize);
    fs.writeFileSync(path.join(signals, "go"), "");
    const [died, lived] = await Promise.all([victim, bystander]);

    assert.equal(died.signal, "SIGBUS", `the child touching a lost page dies of SIGBUS: ${died.status} ${died.stderr}`);
    assert.deepEqual(died.stdout.split("\n").filter(Boolean), [`10 ${data[10]}`], "it read a kept page first");
    assert.equal(lived.status, 0, lived.stderr);
    assert.equal(lived.signal, null);
    assert.deepEqual(lived.stdout.split("\n").filter(Boolean), [`10 ${data[10]}`, `${pageSize + 7} ${data[pageSize + 7]}`, "survived"]);
    assert.deepEqual(view.subarray(0, 2 * pageSize), data.subarray(0, 2 * pageSize), "this process is unharmed");
    mapped.remap();
    assert.equal(mapped.size, 2 * pageSize);
    assert.equal(view.byteLength, 0, "remap() detached the view over the lost pages");
  });
});

describe("MemMapFS, a file cut by another process", () => {
  it("drops the cached entry: readFile and open see the new size and bytes", () => {
    const root = path.join(directory, `root-${counter++}`);
    fs.mkdirSync(root);
    const data = pattern(64 * 1024, 5);
    fs.writeFileSync(path.join(root, "cached.bin"), data);
    using mfs = new MemMapFS({ root });
    mfs.open("cached.bin").close(); // mapped into the cache on first open
    assert.deepEqual(mfs.readFile("cached.bin"), data);
    const before = mfs.cacheStats();
    assert.equal(before.files, 1);

    // Copying out of the old entry now would be SIGBUS for this very process:
    // readFile reads its own descriptor with pread, never the cached mapping.
    truncateElsewhere(path.join(root, "cached.bin"), 10_000);
    const copy = mfs.readFile("cached.bin");
    assert.equal(copy.length, 10_000);
    assert.deepEqual(copy, data.subarray(0, 10_000));
    {
      using file = mfs.open("cached.bin");
      assert.equal(mfs.cacheStats().invalidations, before.invalidations + 1, "the open dropped the stale entry");
      assert.equal(file.size, 10_000);
      assert.deepEqual(file.bytes, data.subarray(0, 10_000));
    }
    assert.equal(mfs.cacheStats().bytes, 10_000, "the cache holds the new, shorter mapping only");

    // Cut to nothing and rewritten to the same size by another process: the new bytes show.
    const replacement = pattern(10_000, 77);
    fs.writeFileSync(path.join(directory, "replacement.bin"), replacement);
    const rewrite = spawnSync("sh", ["-c", 'truncate -s 0 "$1" && cat "$2" >> "$1"', "sh",
      path.join(root, "cached.bin"), path.join(directory, "replacement.bin")], { encoding: "utf8" });
    assert.equal(rewrite.status, 0, rewrite.stderr);
    assert.deepEqual(mfs.readFile("cached.bin"), replacement);
    using again = mfs.open("cached.bin");
    assert.deepEqual(again.bytes, replacement);
  });

  it("a checked handle from MemMapFS throws FileTruncatedError, and remap() recovers", () => {
    const root = path.join(directory, `root-${counter++}`);
    fs.mkdirSync(root);
    const data = pattern(6 * pageSize, 6);
    const file = path.join(root, "checked.bin");
    fs.writeFileSync(file, data);
    using mfs = new MemMapFS({ root });
    using handle = mfs.open("checked.bin", { checked: true });
    truncateElsewhere(file, pageSize);
    assert.throws(() => handle.readAt(new Uint8Array(8), 3 * pageSize), truncated(file));
    handle.remap();
    assert.equal(handle.size, pageSize);
    assert.deepEqual(mfs.readFile("checked.bin"), data.subarray(0, pageSize));
  });
});

/**
 * A 1 MiB tmpfs to fill up, when this process may mount one (root, outside a
 * restricted sandbox); otherwise why not, and the test injects ENOSPC instead.
 */
function mountSmallTmpfs(): { mountPoint: string } | { refused: string } {
  const mountPoint = path.join(directory, "small-tmpfs");
  fs.mkdirSync(mountPoint);
  const result = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "memmapfs-test", mountPoint], { encoding: "utf8" });
  if (result.status === 0) return { mountPoint };
  return { refused: (result.error?.message ?? result.stderr.trim()) || `mount exited ${result.status}` };
}

function unmount(mountPoint: string): void {
  if (spawnSync("umount", [mountPoint]).status !== 0) spawnSync("umount", ["-l", mountPoint]);
}

const small = mountSmallTmpfs();
if ("mountPoint" in small) unmountSmall = () => unmount(small.mountPoint);
const fullPath = "mountPoint" in small ? "a full 1 MiB tmpfs" : `injected ENOSPC (mount refused: ${small.refused})`;

/** Writes `filler` until the filesystem is full, then gives `leave` bytes back. */
function fillUp(filler: string, leave: number): void {
  const fd = fs.openSync(filler, "w");
  try {
    for (const chunk of [new Uint8Array(64 * 1024).fill(0xee), new Uint8Array(4096).fill(0xee)]) {
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, Math.max(0, fs.statSync(filler).size - leave));
}

describe(`growth on a full filesystem: ${fullPath}`, () => {
  const noSpace = (error: unknown) => {
    assert.ok(error instanceof MmapError, `expected MmapError, got ${error}`);
    assert.equal(error.code, "ENOSPC");
    assert.equal(error.errno, 28);
    // Growth reserves blocks with posix_fallocate: an ftruncate alone would succeed and leave a SIGBUS for later.
    assert.equal(error.syscall, "posix_fallocate");
    assert.match(error.message, /posix_fallocate|ENOSPC|space/i, "the message says what failed");
    return true;
  };

  it("resize fails at resize time with ENOSPC; the file keeps its size and bytes; the object stays usable", () => {
    const dir = "mountPoint" in small ? small.mountPoint : directory;
    const file = path.join(dir, "grow.bin");
    const data = pattern(64 * 1024, 9);
    fs.writeFileSync(file, data);
    const filler = path.join(dir, "filler.bin");
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    const work = () => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      if ("mountPoint" in small) {
        fillUp(filler, 16 * 1024);
        assert.throws(() => fs.writeFileSync(path.join(dir, "probe.bin"), new Uint8Array(32 * 1024)),
          (error: NodeJS.ErrnoException) => error.code === "ENOSPC", "the filesystem is full");
        fs.rmSync(path.join(dir, "probe.bin"), { force: true });
      } else {
        // The next two growths: the resize, then the write past the end.
        faulty.fail("posixFallocate", { errno: 28 });
        faulty.fail("posixFallocate", { errno: 28 });
      }
      const view = mapped.bytes;
      assert.throws(() => mapped.resize(1024 * 1024), noSpace);
      assert.equal(mapped.size, data.length);
      assert.equal(fs.statSync(file).size, data.length, "the file keeps its old size");
      assert.deepEqual(fs.readFileSync(file), Buffer.from(data), "and its bytes");
      assert.deepEqual(mapped.bytes, data);
      assert.equal(view.byteLength, data.length, "a failed growth detached nothing");

      // Growth through a write past the end fails the same way, before writing anything.
      assert.throws(() => mapped.writeAt(new Uint8Array(64 * 1024).fill(1), data.length), noSpace);
      assert.equal(fs.statSync(file).size, data.length);
      assert.deepEqual(mapped.bytes, data);

      // Still usable: writes inside, a growth that fits, sync.
      mapped.writeAt("still usable", 0);
      mapped.resize(data.length + 8192);
      mapped.setUint32(data.length + 4096, 0xdeadbeef, true);
      mapped.sync();
      const onDisk = fs.readFileSync(file);
      assert.equal(onDisk.length, data.length + 8192);
      assert.equal(onDisk.subarray(0, 12).toString(), "still usable");
      assert.deepEqual(onDisk.subarray(12, data.length), Buffer.from(data.subarray(12)));
      assert.equal(onDisk.readUInt32LE(data.length + 4096), 0xdeadbeef);
    };
    if ("mountPoint" in small) work();
    else withLibc(faulty, work);
    if (!("mountPoint" in small)) assert.equal(faulty.calls("posixFallocate"), 3, "the injected faults hit");
    assert.deepEqual(newDescriptors(descriptors), [], "no descriptor leaked");
    assert.deepEqual(mappingsOf(file), []);
    fs.rmSync(filler, { force: true });
    fs.rmSync(file);
  });

  it("growth at open (size) and of a windowed mapping fail the same way and change nothing", () => {
    const dir = "mountPoint" in small ? small.mountPoint : directory;
    const file = path.join(dir, "grow-more.bin");
    const data = pattern(32 * 1024, 11);
    fs.writeFileSync(file, data);
    const filler = path.join(dir, "filler.bin");
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    if ("mountPoint" in small) {
      fillUp(filler, 16 * 1024);
    } else {
      faulty.fail("posixFallocate", { errno: 28 });
      faulty.fail("posixFallocate", { errno: 28 });
    }
    const work = () => {
      assert.throws(() => MappedFile.open(file, { mode: "readwrite", size: 4 * 1024 * 1024 }), noSpace);
      assert.equal(fs.statSync(file).size, data.length);
      using windowed = MappedFile.open(file, { mode: "readwrite", window: 2 * pageSize });
      assert.equal(windowed.getUint8(data.length - 1), data[data.length - 1], "the window moved to the end");
      assert.throws(() => windowed.resize(4 * 1024 * 1024), noSpace);
      assert.equal(windowed.size, data.length);
      assert.equal(fs.statSync(file).size, data.length);
      const copy = new Uint8Array(data.length);
      assert.equal(windowed.readAt(copy, 0), data.length);
      assert.deepEqual(copy, data);
    };
    if ("mountPoint" in small) work();
    else withLibc(faulty, work);
    assert.deepEqual(fs.readFileSync(file), Buffer.from(data), "the file keeps its bytes");
    assert.deepEqual(newDescriptors(descriptors), [], "no descriptor leaked");
    assert.deepEqual(mappingsOf(file), []);
    fs.rmSync(filler, { force: true });
    fs.rmSync(file);
  });

  it("a file-backed SharedMemory larger than the space left fails at create time and leaves no file", () => {
    const dir = "mountPoint" in small ? small.mountPoint : directory;
    const file = path.join(dir, "region.shm");
    const create = () => SharedMemory.create({ path: file, size: 2 * 1024 * 1024 });
    if ("mountPoint" in small) {
      assert.throws(create, noSpace);
    } else {
      const faulty = new FaultyLibc(libc());
      faulty.fail("posixFallocate", { errno: 28 });
      withLibc(faulty, () => assert.throws(create, noSpace));
    }
    assert.equal(fs.existsSync(file), false);
  });
});
