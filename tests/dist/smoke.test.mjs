// Tests the published build (dist/) rather than the sources: the exports exist
// and a mapping works through them. Run on Bun and Node by scripts/test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as memmapfs from "../../dist/mod.js";

test("dist exports the public API", () => {
  for (const name of ["MappedFile", "MmapError", "ClosedError", "FileTruncatedError", "UnsupportedRuntimeError"]) {
    assert.equal(typeof memmapfs[name], "function", name);
  }
  assert.ok(Number.isInteger(memmapfs.pageSize) && memmapfs.pageSize >= 4096);
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
