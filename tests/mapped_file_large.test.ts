// Mappings larger than one ArrayBuffer can hold (Bun stops at 4 GiB): views
// are made per range, copies cross chunk edges, and `bytes` says what to do.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";

const GiB = 2 ** 30;
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
let directory: string;

before(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-large-"));
});
after(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

describe("a range larger than one buffer (simulated 1 MiB limit)", () => {
  const limit = 2 ** 20;
  let file: string;

  before(() => {
    file = path.join(directory, "three-mib.bin");
    const data = new Uint8Array(3 * limit);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) % 251;
    data[limit - 1] = 0xaa;
    data[limit] = 0xbb;
    fs.writeFileSync(file, data);
  });

  function withLimit<T>(work: () => T): T {
    useLibc(new FaultyLibc(libc(), { maxArrayBufferLength: limit }));
    try {
      return work();
    } finally {
      useLibc(null);
    }
  }

  it("refuses `bytes` with a RangeError that names subarray and window", () => {
    withLimit(() => {
      using mapped = MappedFile.open(file);
      assert.throws(() => mapped.bytes, (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /subarray/);
        assert.match(error.message, /window/);
        return true;
      });
    });
  });

  it("serves subarray, readAt and accessors across chunk edges", () => {
    withLimit(() => {
      using mapped = MappedFile.open(file, { mode: "readwrite" });
      const across = mapped.subarray(limit - 2, limit + 2);
      assert.deepEqual([...across], [0, 0xaa, 0xbb, 0]);
      const target = new Uint8Array(8);
      assert.equal(mapped.readAt(target, limit - 4), 8);
      assert.equal(target[3], 0xaa);
      assert.equal(target[4], 0xbb);
      assert.equal(mapped.getUint16(limit - 1), 0xaabb);
      mapped.setUint32(limit - 2, 0x01020304);
      assert.equal(mapped.getUint32(limit - 2), 0x01020304);
      assert.equal(mapped.subarray(2 * limit, 2 * limit + 1)[0], (2 * limit / 4096) % 251);
      mapped.close();
      assert.equal(across.byteLength, 0, "a view across chunks is detached on close");
      const onDisk = fs.readFileSync(file);
      assert.deepEqual([...onDisk.subarray(limit - 2, limit + 2)], [1, 2, 3, 4]);
    });
  });
});

describe("a real 5 GiB sparse file", () => {
  it("maps whole; bytes works where the runtime allows it and throws on Bun", () => {
    const file = path.join(directory, "five-gib.sparse");
    fs.writeFileSync(file, "");
    fs.truncateSync(file, 5 * GiB);
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.from("edge"), 0, 4, 4 * GiB - 2);
    fs.closeSync(fd);
    try {
      using mapped = MappedFile.open(file);
      assert.equal(mapped.size, 5 * GiB);
      if (isBun) {
        assert.throws(() => mapped.bytes, RangeError);
      } else {
        assert.equal(mapped.bytes.length, 5 * GiB);
      }
      const target = new Uint8Array(4);
      mapped.readAt(target, 4 * GiB - 2);
      assert.equal(new TextDecoder().decode(target), "edge");
      assert.equal(new TextDecoder().decode(mapped.subarray(4 * GiB - 2, 4 * GiB + 2)), "edge");
    } finally {
      fs.rmSync(file);
    }
  });
});
