// The public classes on the Windows back-end (Bun for Windows under Wine, in
// the Windows leg): MappedFile, SharedMemory over a file, BlockFile and an
// unconfined MemMapFS, with their code unchanged above the platform seam.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BlockFile, ClosedError, MappedFile, MemMapFS, MmapError, SharedMemory } from "../mod.ts";
import { onWindows } from "../src/ffi/mod.ts";
import { makeDirectory, pattern, removeDirectory, runScript } from "./helpers.ts";

const skip = !onWindows() && "Windows only (the Windows leg runs it under Wine)";

describe("MappedFile on Windows", { skip }, () => {
  let directory: string;
  const file = (name: string) => path.join(directory, name);
  before(() => {
    directory = makeDirectory("memmapfs-winapi-");
  });
  after(() => removeDirectory(directory));

  it("creates, writes, grows and syncs: the bytes are the file's", () => {
    using mapped = MappedFile.open(file("grow.bin"), { mode: "readwrite", create: true, size: 100 });
    assert.equal(mapped.size, 100);
    mapped.write("hello");
    const before = mapped.bytes;
    // Windows cannot resize a file under a view: memmapfs unmaps, resizes and maps again.
    mapped.resize(200_000);
    assert.equal(before.byteLength, 0, "the old view was detached, not left over unmapped memory");
    assert.equal(mapped.size, 200_000);
    assert.equal(new TextDecoder().decode(mapped.bytes.subarray(0, 5)), "hello");
    mapped.setUint32(199_996, 0xdeadbeef);
    mapped.sync();
    const onDisk = fs.readFileSync(file("grow.bin"));
    assert.equal(onDisk.length, 200_000);
    assert.equal(onDisk.readUInt32BE(199_996), 0xdeadbeef);
  });

  it("maps from any byte offset (the view starts at the 64 KiB boundary below)", () => {
    const content = pattern(300_000, 9);
    fs.writeFileSync(file("offset.bin"), content);
    using mapped = MappedFile.open(file("offset.bin"), { offset: 65_536 + 12_345, length: 1000 });
    assert.deepEqual(mapped.bytes, content.subarray(77_881, 78_881));
    const target = new Uint8Array(10);
    assert.equal(mapped.readAt(target, 990), 10);
    assert.deepEqual(target, content.subarray(78_871, 78_881));
  });

  it("slides a window across the 64 KiB granularity", () => {
    const content = pattern(1_000_000, 4);
    fs.writeFileSync(file("window.bin"), content);
    using mapped = MappedFile.open(file("window.bin"), { window: 65_536 });
    for (const at of [0, 65_535, 65_536, 500_001, 999_999]) assert.equal(mapped.getUint8(at), content[at], `byte ${at}`);
    assert.deepEqual(mapped.subarray(700_000, 700_100), content.subarray(700_000, 700_100));
  });

  it("keeps copy-on-write writes in this process", () => {
    fs.writeFileSync(file("cow.bin"), pattern(5000));
    using mapped = MappedFile.open(file("cow.bin"), { mode: "copyonwrite" });
    mapped.bytes[0] = 255 - mapped.bytes[0]!;
    assert.deepEqual(fs.readFileSync(file("cow.bin")), Buffer.from(pattern(5000)));
  });

  it("detaches every view on close; use after close is ClosedError", () => {
    fs.writeFileSync(file("close.bin"), "abc");
    const mapped = MappedFile.open(file("close.bin"));
    const view = mapped.bytes;
    const sub = mapped.subarray(1, 2);
    mapped.close();
    assert.equal(view.byteLength, 0);
    assert.equal(sub.byteLength, 0);
    assert.throws(() => mapped.getUint8(0), ClosedError);
    mapped.close();
  });

  it("maps zero-filled memory, private or shared", () => {
    using memory = MappedFile.anonymous(100_000);
    assert.equal(memory.bytes[99_999], 0);
    memory.bytes[99_999] = 1;
    using shared = MappedFile.anonymous(100_000, { shared: true });
    shared.setFloat64(8, Math.PI);
    assert.equal(shared.getFloat64(8), Math.PI);
  });

  it("reports a missing file as ENOENT from CreateFileW", () => {
    assert.throws(() => MappedFile.open(file("missing.bin")), (error: unknown) =>
      error instanceof MmapError && error.code === "ENOENT" && error.syscall === "CreateFileW");
  });

  it("shares a file with a second Windows process: each sees the other's writes", () => {
    using mapped = MappedFile.open(file("shared.bin"), { mode: "readwrite", create: true, size: 70_000 });
    mapped.setUint8(69_999, 17);
    const child = runScript(`
      import { MappedFile } from "../mod.ts";
      using mapped = MappedFile.open(${JSON.stringify(file("shared.bin"))}, { mode: "readwrite" });
      console.log(mapped.getUint8(69_999));
      mapped.setUint8(1, 34);
    `);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "17");
    assert.equal(mapped.getUint8(1), 34);
  });
});

describe("SharedMemory, BlockFile and MemMapFS on Windows", { skip }, () => {
  let directory: string;
  const file = (name: string) => path.join(directory, name);
  before(() => {
    directory = makeDirectory("memmapfs-winapi2-");
  });
  after(() => removeDirectory(directory));

  it("shares memory through a file path with a second process", () => {
    using region = SharedMemory.create({ path: file("region.bin"), size: 5000 });
    region.bytes[4999] = 5;
    const child = runScript(`
      import { SharedMemory } from "../mod.ts";
      using region = SharedMemory.open(${JSON.stringify(file("region.bin").replaceAll("\\", "/"))});
      console.log(region.size, region.bytes[4999]);
      region.bytes[0] = 6;
    `);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "5000 5");
    assert.equal(region.bytes[0], 6);
  });

  it("opens a path spelled with backslashes and a drive letter as a file, not an object name", () => {
    const where = file("backslashed.bin");
    assert.ok(where.includes("\\"), where);
    using region = SharedMemory.create({ path: where, size: 100 });
    region.bytes[7] = 42;
    using again = SharedMemory.open(where);
    assert.equal(again.name, null);
    assert.equal(again.bytes[7], 42);
  });

  it("names random shared memory the way Python does on Windows (wnsm_)", () => {
    using region = SharedMemory.create({ size: 100 });
    assert.match(region.name ?? "", /^wnsm_[0-9a-f]{16}$/);
  });

  it("opens a file: URL of a drive path", () => {
    const where = file("url.bin");
    fs.writeFileSync(where, "by url");
    const url = pathToFileURL(where);
    assert.match(url.href, /^file:\/\/\/[A-Za-z]:\//);
    using mapped = MappedFile.open(url);
    assert.equal(new TextDecoder().decode(mapped.bytes), "by url");
  });

  it("keeps blocks across close and reopen, and holds its file against a second opener", () => {
    const where = file("blocks.bf");
    let offset: number;
    {
      using blocks = BlockFile.create(where);
      assert.equal(blocks.blockSize % 4096, 0);
      offset = blocks.allocateBlocks(3);
      blocks.with(offset, 3, (view) => view.set([1, 2, 3], view.length - 3));
      blocks.setControlData(new TextEncoder().encode("control"));
      blocks.sync();
      assert.throws(() => BlockFile.open(where), (error: unknown) => error instanceof MmapError);
    }
    using reopened = BlockFile.open(where);
    reopened.with(offset, 3, (view) => assert.deepEqual([...view.subarray(view.length - 3)], [1, 2, 3]));
    assert.equal(new TextDecoder().decode(reopened.controlData()), "control");
  });

  it("opens, writes and lists files through an unconfined MemMapFS", () => {
    using files = new MemMapFS({ cache: false });
    files.mkdir(file("tree/inner"), { recursive: true });
    files.writeFile(file("tree/inner/a.txt"), "alpha");
    {
      using opened = files.open(file("tree/inner/a.txt"));
      assert.equal(new TextDecoder().decode(opened.bytes), "alpha");
    }
    assert.equal(new TextDecoder().decode(files.readFile(file("tree/inner/a.txt"))), "alpha");
    assert.ok(files.exists(file("tree/inner/a.txt")));
    files.rename(file("tree/inner/a.txt"), file("tree/b.txt"));
    assert.equal(files.stat(file("tree/b.txt")).size, 5);
    assert.deepEqual(files.readDir(file("tree")).map((entry) => entry.name).sort(), ["b.txt", "inner"]);
    // Closed first: where Windows lacks POSIX deletion (Wine, FAT), an open file keeps its name until closed.
    files.removeAll(file("tree"));
    assert.equal(fs.existsSync(file("tree")), false);
  });
});
