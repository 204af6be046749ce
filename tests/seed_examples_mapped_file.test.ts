// The MappedFile examples of seed 000 (Go absfs/memmapfs), ported to this API
// and checked against the exact output the seed documents.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";
import { countingBytes, example, makeDirectory, removeDirectory } from "./helpers.ts";

const MiB = 1024 * 1024;
const directory = makeDirectory("memmapfs-example-");
after(() => removeDirectory(directory));

describe("seed 000 MappedFile examples", () => {
  it("MappedFile.Data", () => {
    const output = example((print) => {
      const file = path.join(directory, "data.txt");
      fs.writeFileSync(file, "Direct memory access!");
      using mapped = MappedFile.open(file);
      print(`Direct access: ${new TextDecoder().decode(mapped.bytes)}`);
    });
    assert.equal(output, "Direct access: Direct memory access!");
  });

  it("MappedFile.ReadAt", () => {
    const output = example((print) => {
      const file = path.join(directory, "data.bin");
      fs.writeFileSync(file, "0123456789ABCDEF");
      using mapped = MappedFile.open(file);
      const buffer = new Uint8Array(6);
      const count = mapped.readAt(buffer, 10);
      print(`Read ${count} bytes from offset 10: ${new TextDecoder().decode(buffer)}`);
    });
    assert.equal(output, "Read 6 bytes from offset 10: ABCDEF");
  });

  it("MappedFile.Seek", () => {
    const output = example((print) => {
      const file = path.join(directory, "seek.txt");
      fs.writeFileSync(file, "Hello, World!");
      using mapped = MappedFile.open(file);
      mapped.seek(7, "start");
      const buffer = new Uint8Array(6);
      const count = mapped.read(buffer);
      print(`After seeking to 7, read ${count} bytes: ${new TextDecoder().decode(buffer)}`);
    });
    assert.equal(output, "After seeking to 7, read 6 bytes: World!");
  });

  it("MappedFile (WindowedSeek)", () => {
    const output = example((print) => {
      const file = path.join(directory, "large-seek.dat");
      fs.writeFileSync(file, countingBytes(10 * MiB));
      using mapped = MappedFile.open(file, { mode: "readonly", sync: "never", window: 2 * MiB });
      for (const offset of [0, 5 * MiB, 9 * MiB]) {
        mapped.seek(offset, "start");
        const buffer = new Uint8Array(10);
        const count = mapped.read(buffer);
        assert.equal(buffer[0], offset % 256);
        print(`At offset ${offset}: read ${count} bytes`);
      }
    });
    assert.equal(output, "At offset 0: read 10 bytes At offset 5242880: read 10 bytes At offset 9437184: read 10 bytes");
  });

  it("New (WindowedMapping)", () => {
    const output = example((print) => {
      const file = path.join(directory, "large.dat");
      fs.writeFileSync(file, countingBytes(10 * MiB));
      using mapped = MappedFile.open(file, { mode: "readonly", sync: "never", window: 2 * MiB });
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
      using mapped = MappedFile.open(file, { mode: "readwrite", sync: "immediate", window: 1 * MiB });
      const offsets = [0, 2 * MiB, 4 * MiB];
      for (const offset of offsets) mapped.writeAt("WINDOW", offset);
      print(`Wrote to ${offsets.length} positions using windowed mapping`);
    });
    assert.equal(output, "Wrote to 3 positions using windowed mapping");
    const onDisk = fs.readFileSync(file);
    for (const offset of [0, 2 * MiB, 4 * MiB]) {
      assert.equal(onDisk.subarray(offset, offset + 6).toString(), "WINDOW");
    }
  });

  it("MappedFile (AccessPatterns)", () => {
    const output = example((print) => {
      const file = path.join(directory, "patterns.bin");
      fs.writeFileSync(file, new Uint8Array(10 * MiB));
      using mapped = MappedFile.open(file);
      mapped.advise("sequential");
      const buffer = new Uint8Array(4096);
      for (let i = 0; i < 100; i++) mapped.read(buffer);
      mapped.seek(0, "start");
      mapped.advise("random");
      for (const offset of [1000, 50000, 10000, 80000]) mapped.readAt(buffer, offset);
      mapped.advise("dontneed");
      print("Applied access pattern hints");
    });
    assert.equal(output, "Applied access pattern hints");
  });

  it("MappedFile (HugePages)", () => {
    const output = example((print) => {
      const file = path.join(directory, "huge.dat");
      fs.writeFileSync(file, new Uint8Array(4 * MiB));
      using mapped = MappedFile.open(file, { mode: "readonly", hugePages: true, populate: true });
      // Transparent huge pages for file mappings depend on the kernel; the
      // hint may be refused, which the seed also tolerates.
      if (MappedFile.supportsAdvice("hugepage")) {
        try {
          mapped.advise("hugepage");
        } catch { /* a kernel without file THP refuses; the mapping still works */ }
      }
      print("File opened with huge pages support");
    });
    assert.equal(output, "File opened with huge pages support");
  });
});
