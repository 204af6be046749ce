// Windowed mode and the views a caller holds: a copying access (readAt, read,
// get*/set*, writeAt, advise) outside the window never detaches a view handed
// out by subarray() or bytes — it goes through an internal second window —
// and only subarray()/bytes slide the window once views are out.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, pageSize } from "../mod.ts";
import { makeDirectory, mappingsOf, pattern, removeDirectory } from "./helpers.ts";

const window = 4 * pageSize;
const size = 10 * window + 123;
let directory: string;
let data: Uint8Array;
let file: string;

before(() => {
  directory = makeDirectory("memmapfs-window-views-");
  data = pattern(size, 5);
  file = path.join(directory, "windowed.bin");
  fs.writeFileSync(file, data);
});
after(() => removeDirectory(directory));

/** Bytes of `file` mapped in this process now. */
function mappedBytes(target: string): number {
  return mappingsOf(target).reduce((sum, line) => {
    const [start, end] = line.split(" ")[0].split("-").map((hex) => parseInt(hex, 16));
    return sum + (end - start);
  }, 0);
}

describe("views held across copying accesses outside the window", () => {
  it("every copying read outside the window leaves a held view attached and right", () => {
    using mapped = MappedFile.open(file, { window });
    const view = mapped.subarray(3 * window, 3 * window + 100);
    const expected = data.slice(3 * window, 3 * window + 100);
    const reads: [string, () => unknown, unknown][] = [
      ["getUint8 before", () => mapped.getUint8(3 * window - 3), data[3 * window - 3]],
      ["getUint8 far", () => mapped.getUint8(9 * window), data[9 * window]],
      ["getUint32 across an edge", () => mapped.getUint32(7 * window - 2), new DataView(data.buffer).getUint32(7 * window - 2)],
      ["getFloat64 le", () => mapped.getFloat64(window + 1, true), new DataView(data.buffer).getFloat64(window + 1, true)],
      ["readAt", () => {
        const target = new Uint8Array(2 * window);
        mapped.readAt(target, 5);
        return target;
      }, data.slice(5, 5 + 2 * window)],
      ["read", () => {
        mapped.position = 8 * window - 7;
        const target = new Uint8Array(20);
        mapped.read(target);
        return target;
      }, data.slice(8 * window - 7, 8 * window + 13)],
      ["advise", () => mapped.advise("willneed", 0, window), undefined],
    ];
    for (const [name, read, value] of reads) {
      assert.deepEqual(read(), value, name);
      assert.equal(view.byteLength, 100, `${name} left the view attached`);
      assert.deepEqual(view, expected, `${name} left the view showing its bytes`);
    }
    assert.equal(mapped.windowOffset, 3 * window, "the window itself did not move");
    assert.ok(mappedBytes(file) <= 2 * window, "at most the window and one internal window are mapped");
  });

  it("the log_scan pattern: a newline just after a window edge, its status read 3 bytes back", () => {
    // Lines end exactly at, just before and just after each window edge.
    const lineEnds = new Set<number>();
    for (let edge = window; edge < 6 * window; edge += window) for (const d of [-2, -1, 0, 1, 2]) lineEnds.add(edge + d);
    const bytes = new Uint8Array(6 * window + 50).fill(0x32);
    for (const end of lineEnds) bytes[end] = 10;
    const target = path.join(directory, "lines.log");
    fs.writeFileSync(target, bytes);
    using log = MappedFile.open(target, { window });
    const chunk = pageSize;
    let lines = 0;
    for (let offset = 0; offset < log.size; offset += chunk) {
      const view = log.subarray(offset, Math.min(offset + chunk, log.size));
      for (let at = view.indexOf(10); at !== -1; at = view.indexOf(10, at + 1)) {
        const end = offset + at;
        assert.equal(log.getUint8(end - 3), bytes[end - 3]);
        lines++;
      }
    }
    assert.equal(lines, lineEnds.size);
  });

  it("writes outside the window keep held views attached, show through them and reach the file", () => {
    const target = path.join(directory, "write.bin");
    fs.writeFileSync(target, new Uint8Array(size));
    {
      using mapped = MappedFile.open(target, { window, mode: "readwrite" });
      const view = mapped.subarray(window, 2 * window);
      mapped.writeAt("far away", 8 * window);
      mapped.setUint32(2 * window - 2, 0x01020304); // straddles the view's window edge
      mapped.setFloat64(6 * window, Math.E, true);
      assert.equal(view.byteLength, window);
      assert.deepEqual([...view.subarray(window - 2)], [1, 2], "the write shows through the held view");
      view[0] = 0x7f;
      assert.equal(mapped.getUint8(window), 0x7f);
    }
    const disk = new Uint8Array(fs.readFileSync(target));
    assert.equal(new TextDecoder().decode(disk.subarray(8 * window, 8 * window + 8)), "far away");
    assert.equal(new DataView(disk.buffer).getUint32(2 * window - 2), 0x01020304);
    assert.equal(new DataView(disk.buffer).getFloat64(6 * window, true), Math.E);
    assert.equal(disk[window], 0x7f);
  });

  it("sync() flushes what went through the internal window (no slide needed)", () => {
    const target = path.join(directory, "sync.bin");
    fs.writeFileSync(target, new Uint8Array(size));
    using mapped = MappedFile.open(target, { window, mode: "readwrite" });
    const view = mapped.subarray(0, 10);
    mapped.writeAt("synced", 9 * window);
    mapped.sync();
    assert.equal(fs.readFileSync(target).subarray(9 * window, 9 * window + 6).toString(), "synced");
    assert.equal(view.byteLength, 10);
  });

  it("subarray() slides once views are out, detaching them, and the internal window goes with them", () => {
    using mapped = MappedFile.open(file, { window });
    const old = mapped.subarray(0, 10);
    mapped.getUint8(7 * window); // through the internal window
    assert.equal(old.byteLength, 10);
    const fresh = mapped.subarray(7 * window, 7 * window + 10);
    assert.equal(old.byteLength, 0, "the view of the old window detached when subarray() slid it");
    assert.deepEqual(fresh, data.subarray(7 * window, 7 * window + 10));
    assert.equal(mapped.windowOffset, 7 * window);
    assert.ok(mappedBytes(file) <= window, "only the new window is mapped");
  });

  it("without views out, copying accesses slide the one window as before", () => {
    using mapped = MappedFile.open(file, { window });
    mapped.getUint8(5 * window);
    assert.equal(mapped.windowOffset, 5 * window);
    assert.ok(mappedBytes(file) <= window);
  });

  it("a subarray longer than the window works: it maps that whole range at once", () => {
    using mapped = MappedFile.open(file, { window });
    const wide = mapped.subarray(10, 3 * window + 10);
    assert.equal(wide.length, 3 * window);
    assert.deepEqual(wide, data.subarray(10, 3 * window + 10));
    assert.ok(mappedBytes(file) >= 3 * window);
    mapped.getUint8(9 * window); // views out: the internal window reads it
    assert.equal(wide.length, 3 * window);
  });

  it("close() detaches held views and unmaps both windows", () => {
    const mapped = MappedFile.open(file, { window });
    const view = mapped.subarray(0, 10);
    mapped.getUint8(8 * window);
    assert.ok(mappingsOf(file).length >= 2);
    mapped.close();
    assert.equal(view.byteLength, 0);
    assert.deepEqual(mappingsOf(file), []);
  });
});
