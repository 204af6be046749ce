// The MemMapFS examples of seed 000 (Go absfs/memmapfs), ported to this API
// and checked against the exact output the seed documents.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MemMapFS } from "../mod.ts";
import { countingBytes, example, makeDirectory, removeDirectory } from "./helpers.ts";

const MiB = 1024 * 1024;
const directory = makeDirectory("memmapfs-example-");
after(() => removeDirectory(directory));

describe("seed 000 MemMapFS examples", () => {
  it("Package", () => {
    const output = example((print) => {
      const file = path.join(directory, "test.txt");
      const content = "Hello, memory-mapped filesystem!";
      fs.writeFileSync(file, content);
      const mfs = new MemMapFS();
      using mapped = mfs.open(file);
      const data = new Uint8Array(content.length);
      const count = mapped.read(data);
      print(`Read ${count} bytes: ${new TextDecoder().decode(data)}`);
    });
    assert.equal(output, "Read 32 bytes: Hello, memory-mapped filesystem!");
  });

  it("Config (MemoryOptimized)", () => {
    const output = example((print) => {
      const file = path.join(directory, "large.dat");
      fs.writeFileSync(file, new Uint8Array(100 * MiB));
      const mfs = new MemMapFS({ mode: "readonly", sync: "never", populate: false, window: 10 * MiB });
      using mapped = mfs.open(file);
      mapped.advise("sequential");
      assert.equal(mapped.bytes.length, 10 * MiB, "only a window is mapped");
      print("File opened with memory-optimized configuration");
    });
    assert.equal(output, "File opened with memory-optimized configuration");
  });

  it("Config (PerformanceTuning)", () => {
    const output = example((print) => {
      const file = path.join(directory, "data.bin");
      fs.writeFileSync(file, new Uint8Array(5 * MiB));
      const mfs = new MemMapFS({ mode: "readwrite", sync: "lazy", populate: true });
      using mapped = mfs.openFile(file, "r+");
      mapped.advise("random");
      assert.equal(mapped.resident().resident, mapped.resident().pages, "populated");
      print("File opened with high-performance configuration");
    });
    assert.equal(output, "File opened with high-performance configuration");
  });

  it("New (CustomConfig)", () => {
    const output = example((print) => {
      const mfs = new MemMapFS({ mode: "readonly", sync: "never", populate: false });
      assert.ok(mfs instanceof MemMapFS);
      print("Created memmapfs with custom config");
    });
    assert.equal(output, "Created memmapfs with custom config");
  });

  it("New (WindowedMapping)", () => {
    const output = example((print) => {
      const file = path.join(directory, "windowed.dat");
      fs.writeFileSync(file, countingBytes(10 * MiB));
      const mfs = new MemMapFS({ mode: "readonly", sync: "never", window: 2 * MiB });
      using mapped = mfs.open(file);
      const buffer = new Uint8Array(4096);
      let total = 0;
      for (let count = mapped.read(buffer); count > 0; count = mapped.read(buffer)) total += count;
      print(`Read ${total} bytes from large file using windowed mapping`);
    });
    assert.equal(output, "Read 10485760 bytes from large file using windowed mapping");
  });

  it("New (WindowedWrite)", () => {
    const file = path.join(directory, "output.dat");
    const output = example((print) => {
      fs.writeFileSync(file, new Uint8Array(5 * MiB));
      const mfs = new MemMapFS({ mode: "readwrite", sync: "immediate", window: 1 * MiB });
      using mapped = mfs.openFile(file, "r+", 0o644);
      const offsets = [0, 2 * MiB, 4 * MiB];
      for (const offset of offsets) mapped.writeAt("WINDOW", offset);
      print(`Wrote to ${offsets.length} positions using windowed mapping`);
    });
    assert.equal(output, "Wrote to 3 positions using windowed mapping");
    const onDisk = fs.readFileSync(file);
    for (const offset of [0, 2 * MiB, 4 * MiB]) assert.equal(onDisk.subarray(offset, offset + 6).toString(), "WINDOW");
  });
});
