// Tests the published build (dist/) rather than the sources: the exports exist
// and a mapping works through them. Run on Bun and Node by scripts/test.mjs;
// a .mjs under tests/dist/ so the suite's tests/*.test.ts never picks it up.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as memmapfs from "../../dist/mod.js";

test("dist exports the public API", () => {
  const classes = [
    "MappedFile",
    "MemMapFS",
    "SharedMemory",
    "BlockFile",
    "MmapError",
    "ClosedError",
    "FileTruncatedError",
    "UnsupportedRuntimeError",
  ];
  for (const name of classes) assert.equal(typeof memmapfs[name], "function", name);
  // One copy of each class in the bundle, so instanceof holds across modules.
  assert.ok(memmapfs.FileTruncatedError.prototype instanceof memmapfs.MmapError);
  assert.ok(memmapfs.MmapError.prototype instanceof Error);
  assert.ok(memmapfs.ClosedError.prototype instanceof Error);
  assert.ok(Number.isInteger(memmapfs.pageSize) && memmapfs.pageSize >= 4096);
});

test("dist maps one anonymous page, writes and reads a byte, closes", () => {
  const file = memmapfs.MappedFile.anonymous(4096);
  file.setUint8(4095, 0xa5);
  assert.equal(file.getUint8(4095), 0xa5);
  assert.equal(file.bytes[4095], 0xa5);
  file.close();
  assert.equal(file.closed, true);
});

test("dist maps anonymous memory, writes, reads and detaches on close", () => {
  const file = memmapfs.MappedFile.anonymous(8192);
  file.setUint16(4095, 0xbeef);
  assert.equal(file.getUint16(4095), 0xbeef);
  const view = file.bytes;
  file.close();
  assert.equal(view.byteLength, 0);
  assert.throws(() => file.getUint8(0), memmapfs.ClosedError);
});
