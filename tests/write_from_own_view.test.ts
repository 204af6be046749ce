// Issue 13.2: a write whose source is a view of the same mapping must happen whole. A growing
// write used to detach its own source half-way (engine TypeError, zeros appended); so could a
// write that slides a window. The source is copied first when it lives in the mapping, and a
// source already detached is a TypeError instead of a silent write of nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, pageSize } from "../mod.ts";
import { makeDirectory, pattern, removeDirectory } from "./helpers.ts";

let directory: string;
let file: string;
before(() => {
  directory = makeDirectory();
  file = path.join(directory, "records.txt");
});
after(() => removeDirectory(directory));

const text = (target = file) => fs.readFileSync(target, "latin1");

describe("a source that is a view of the same mapping", () => {
  it('seek(0, "end"); write(subarray(0, 8)) appends the record, not 8 zero bytes', () => {
    fs.writeFileSync(file, "record1;");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.seek(0, "end");
    assert.equal(mapped.write(mapped.subarray(0, 8)), 8);
    assert.equal(mapped.position, 16);
    mapped.sync();
    assert.equal(text(), "record1;record1;");
  });

  it("writeAt(bytes, size) doubles the file; an append-mode write of the whole view too", () => {
    fs.writeFileSync(file, "abc;");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.writeAt(mapped.bytes, mapped.size);
    assert.equal(new TextDecoder().decode(mapped.bytes), "abc;abc;");
    mapped.close();
    using appending = MappedFile.open(file, { mode: "readwrite", append: true });
    appending.write(appending.bytes);
    appending.close();
    assert.equal(text(), "abc;abc;abc;abc;");
  });

  it("an overlapping write inside the mapping moves bytes like memmove", () => {
    fs.writeFileSync(file, "0123456789");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.writeAt(mapped.subarray(0, 6), 4);
    mapped.close();
    assert.equal(text(), "0123012345");
  });

  it("windowed: a write that slides the window away from its source, and one that grows the file", () => {
    const data = pattern(8 * pageSize, 1);
    fs.writeFileSync(file, data);
    using mapped = MappedFile.open(file, { mode: "readwrite", window: pageSize });
    const source = mapped.subarray(10, 110);
    mapped.writeAt(source, 5 * pageSize + 3);
    const grown = mapped.subarray(8 * pageSize - 50, 8 * pageSize);
    mapped.writeAt(grown, 8 * pageSize + 7);
    mapped.close();
    const disk = fs.readFileSync(file);
    assert.equal(disk.length, 8 * pageSize + 57);
    assert.deepEqual(new Uint8Array(disk.subarray(5 * pageSize + 3, 5 * pageSize + 103)), data.subarray(10, 110));
    assert.deepEqual(new Uint8Array(disk.subarray(8 * pageSize + 7)), data.subarray(8 * pageSize - 50));
  });

  it("writable(): a chunk that is a view of the mapping is written as it was when queued, though a resize detached it", async () => {
    fs.writeFileSync(file, "record1;");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    mapped.seek(0, "end");
    const writer = mapped.writable().getWriter();
    const view = mapped.subarray(0, 8);
    const written = writer.write(view);
    mapped.resize(8); // no change of size: nothing detached yet
    mapped.resize(9); // detaches `view` before the stream's sink has run
    assert.equal(view.length, 0, "the premise: the queued chunk is detached now");
    await written;
    await writer.close();
    mapped.close();
    assert.equal(text(), "record1;record1;");
  });

  it("a source already detached is a TypeError, not a write of nothing", () => {
    fs.writeFileSync(file, "record1;");
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    const stale = mapped.subarray(0, 8);
    mapped.resize(4096);
    assert.throws(() => mapped.writeAt(stale, 0), { name: "TypeError", message: /detached/ });
    assert.throws(() => mapped.write(stale), TypeError);
    assert.equal(mapped.position, 0);
  });
});
