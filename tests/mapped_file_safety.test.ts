// Bad input and misuse: every argument error before any syscall, OS errors as
// MmapError, use after close, detached views, and the overlay that keeps a
// stolen buffer readable after close.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ClosedError, MappedFile, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
import { runScriptAsNobody } from "./as_other_user.ts";
import { makeDirectory, mappingsOf, openDescriptors, pattern, removeDirectory, runScript } from "./helpers.ts";

let directory: string;
let file: string;
before(() => {
  directory = makeDirectory();
  file = path.join(directory, "data.bin");
  fs.writeFileSync(file, pattern(3 * pageSize));
});
after(() => removeDirectory(directory));

/** Runs `work` with a counting libc and returns how many opens and mmaps it made. */
function countCalls(work: () => void): { open: number; mmap: number } {
  const counting = new FaultyLibc(libc());
  useLibc(counting);
  try {
    work();
  } catch { /* the caller asserts on the error separately */ }
  finally {
    useLibc(null);
  }
  return { open: counting.calls("open"), mmap: counting.calls("mmap") };
}

describe("argument errors come before any syscall", () => {
  const badOptions: [string, Record<string, unknown>, typeof TypeError | typeof RangeError][] = [
    ["negative offset", { offset: -1 }, RangeError],
    ["fractional offset", { offset: 1.5 }, RangeError],
    ["NaN offset", { offset: NaN }, RangeError],
    ["infinite length", { length: Infinity }, RangeError],
    ["unsafe length", { length: 2 ** 53 }, RangeError],
    ["string offset", { offset: "5" }, TypeError],
    ["zero window", { window: 0 }, RangeError],
    ["negative window", { window: -4096 }, RangeError],
    ["unknown mode", { mode: "append" }, TypeError],
    ["unknown sync", { sync: "sometimes" }, TypeError],
    ["boolean as number", { populate: 1 }, TypeError],
    ["create without readwrite", { create: true }, TypeError],
    ["size without readwrite", { size: 10 }, TypeError],
    ["permissions above 0o7777", { mode: "readwrite", permissions: 0o10000 }, RangeError],
    ["zero syncInterval", { sync: "periodic", syncInterval: 0 }, RangeError],
    ["unsafe offset", { offset: 2 ** 53 }, RangeError],
    ["negative length", { length: -1 }, RangeError],
    ["fractional length", { length: 0.5 }, RangeError],
    ["NaN length", { length: NaN }, RangeError],
    ["string length", { length: "5" }, TypeError],
    ["NaN window", { window: NaN }, RangeError],
    ["fractional window", { window: 4096.5 }, RangeError],
    ["string window", { window: "4096" }, TypeError],
    ["negative size", { mode: "readwrite", size: -1 }, RangeError],
    ["fractional size", { mode: "readwrite", size: 1.5 }, RangeError],
    ["unsafe size", { mode: "readwrite", size: 2 ** 53 }, RangeError],
    ["bigint size", { mode: "readwrite", size: 10n }, TypeError],
    ["NaN syncInterval", { sync: "periodic", syncInterval: NaN }, RangeError],
    ["options that are not an object", "readwrite" as unknown as Record<string, unknown>, TypeError],
  ];
  for (const [name, options, errorClass] of badOptions) {
    it(`${name} is a ${errorClass.name}`, () => {
      let thrown: unknown;
      const calls = countCalls(() => {
        try {
          MappedFile.open(file, options);
        } catch (error) {
          thrown = error;
          throw error;
        }
      });
      assert.ok(thrown instanceof errorClass, `got ${thrown}`);
      assert.match((thrown as Error).message, /^[A-Z]/, "messages are sentence case");
      assert.deepEqual(calls, { open: 0, mmap: 0 });
    });
  }

  const badPaths: [string, unknown][] = [
    ["empty path", ""], ["path with NUL", "a\0b"], ["number path", 42], ["http URL", new URL("http://x/y")],
  ];
  for (const [name, badPath] of badPaths) {
    it(`${name} is a TypeError`, () => {
      const calls = countCalls(() => MappedFile.open(badPath as string));
      assert.throws(() => MappedFile.open(badPath as string), TypeError);
      assert.deepEqual(calls, { open: 0, mmap: 0 });
    });
  }

  it("method arguments are checked too", () => {
    using mapped = MappedFile.open(file, { mode: "readwrite" });
    assert.throws(() => mapped.readAt(new Uint8Array(4), -1), RangeError);
    assert.throws(() => mapped.readAt(new Uint8Array(4), 0.5), RangeError);
    assert.throws(() => mapped.readAt("x" as unknown as Uint8Array, 0), TypeError);
    assert.throws(() => mapped.writeAt(42 as unknown as string, 0), TypeError);
    assert.throws(() => mapped.getUint8(NaN), RangeError);
    assert.throws(() => mapped.subarray(2 ** 53), RangeError);
    assert.throws(() => mapped.resize(-1), RangeError);
    assert.throws(() => mapped.advise("sideways" as "normal"), TypeError);
    assert.throws(() => { mapped.position = -5; }, RangeError);
    assert.throws(() => MappedFile.anonymous(-1), RangeError);
    assert.throws(() => mapped.readable({ chunkSize: 0 }), RangeError);
  });
});

describe("range errors against the file", () => {
  it("offset past the end is a RangeError and leaks nothing", () => {
    const before = openDescriptors();
    assert.throws(() => MappedFile.open(file, { offset: 3 * pageSize + 1 }), RangeError);
    assert.throws(() => MappedFile.open(file, { offset: pageSize, length: 2 * pageSize + 1 }), RangeError);
    assert.deepEqual(openDescriptors(), before);
  });

  it("copy-on-write refuses a range past the end too", () => {
    const before = openDescriptors();
    assert.throws(() => MappedFile.open(file, { mode: "copyonwrite", offset: 3 * pageSize + 1 }), RangeError);
    assert.throws(() => MappedFile.open(file, { mode: "copyonwrite", length: 3 * pageSize + 1 }), RangeError);
    assert.deepEqual(openDescriptors(), before);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("read-write without size refuses an offset past the end and leaves the file alone", () => {
    const target = path.join(directory, "rw-offset.bin");
    fs.writeFileSync(target, "0123456789");
    const before = openDescriptors();
    let opened: MappedFile | undefined;
    try {
      assert.throws(() => {
        opened = MappedFile.open(target, { mode: "readwrite", offset: 100 });
      }, RangeError);
    } finally {
      opened?.close();
    }
    assert.equal(fs.statSync(target).size, 10, "opening without size or length must not grow the file");
    assert.deepEqual(openDescriptors(), before);
  });

  it("read-write with size grows the file to hold offset + length", () => {
    const target = path.join(directory, "rw-grown.bin");
    fs.writeFileSync(target, "0123456789");
    {
      using mapped = MappedFile.open(target, { mode: "readwrite", offset: 8, length: 2 * pageSize, size: 8 + 2 * pageSize });
      assert.equal(mapped.size, 2 * pageSize);
      assert.equal(new TextDecoder().decode(mapped.subarray(0, 2)), "89");
      assert.ok(mapped.subarray(2).every((byte) => byte === 0), "the grown part reads zeros");
    }
    assert.equal(fs.statSync(target).size, 8 + 2 * pageSize);
  });

  it("offset at the end gives an empty range", () => {
    using mapped = MappedFile.open(file, { offset: 3 * pageSize });
    assert.equal(mapped.size, 0);
  });
});

describe("OS errors are MmapError with code, syscall and path", () => {
  it("a missing file is ENOENT", () => {
    const missing = path.join(directory, "missing.bin");
    assert.throws(() => MappedFile.open(missing), (error: unknown) => {
      assert.ok(error instanceof MmapError);
      assert.equal(error.code, "ENOENT");
      assert.equal(error.syscall, "open");
      assert.equal(error.path, missing);
      assert.equal(error.errno, 2);
      return true;
    });
  });

  it("a directory is EISDIR, read-only or read-write", () => {
    for (const mode of ["readonly", "readwrite"] as const) {
      assert.throws(() => MappedFile.open(directory, { mode }), (error: unknown) =>
        error instanceof MmapError && error.code === "EISDIR");
    }
  });

  it("a symbolic link is refused (O_NOFOLLOW) with a hint", () => {
    const link = path.join(directory, "link.bin");
    fs.symlinkSync(file, link);
    assert.throws(() => MappedFile.open(link), (error: unknown) =>
      error instanceof MmapError && error.code === "ELOOP" && /realpath/.test(error.message));
  });

  it("a file without permission is EACCES", () => {
    const locked = path.join(directory, "locked.bin");
    fs.writeFileSync(locked, "secret");
    fs.chmodSync(locked, 0o000);
    if (process.getuid?.() !== 0) {
      assert.throws(() => MappedFile.open(locked), (error: unknown) =>
        error instanceof MmapError && error.code === "EACCES");
      return;
    }
    // Root ignores permission bits: try as user nobody in a child instead.
    fs.chmodSync(directory, 0o755);
    const result = runScriptAsNobody(`
      import { MappedFile } from "../mod.ts";
      try {
        MappedFile.open(${JSON.stringify(locked)});
        console.log("opened");
      } catch (error) {
        console.log(error.name, error.code, error.syscall);
      }
    `);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "MmapError EACCES open");
  });

  it("on Deno, a path the permission model denies is refused although FFI could open it", (t) => {
    if (typeof (globalThis as { Deno?: unknown }).Deno === "undefined") {
      t.skip("only Deno has a per-path permission model that FFI bypasses");
      return;
    }
    const result = runScript(`
      import { MappedFile } from "../mod.ts";
      for (const mode of ["readonly", "readwrite"]) {
        try {
          MappedFile.open(${JSON.stringify(file)}, { mode }).close();
          console.log(mode, "opened");
        } catch (error) {
          console.log(mode, error.name, error.code, error.syscall);
        }
      }
    `, {
      // Read access to the file only: reading works, writing must be refused.
      shellPrefix: `exec '${process.execPath}' run --allow-ffi --allow-env --allow-read=${file}`,
      bare: true,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), ["readonly opened", "readwrite MmapError EACCES open"]);
    const denied = runScript(`
      import { MappedFile } from "../mod.ts";
      try {
        MappedFile.open(${JSON.stringify(file)});
        console.log("opened");
      } catch (error) {
        console.log(error.name, error.code, /--allow-read/.test(error.message));
      }
    `, { shellPrefix: `exec '${process.execPath}' run --allow-ffi --allow-env`, bare: true });
    assert.equal(denied.status, 0, denied.stderr);
    assert.equal(denied.stdout.trim(), "MmapError EACCES true");
  });

  it("mlock above RLIMIT_MEMLOCK fails clearly (child with a 64 KiB limit)", () => {
    const result = runScript(`
      import { MappedFile } from "../mod.ts";
      try {
        MappedFile.anonymous(4 << 20).lock();
        console.log("locked");
      } catch (error) {
        console.log(error.name, error.code, error.syscall);
      }
    `, {
      // Root's CAP_IPC_LOCK ignores the limit, so the child runs without it.
      shellPrefix: "ulimit -l 64 && exec setpriv --bounding-set -ipc_lock --",
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout.trim(), /^MmapError (EAGAIN|ENOMEM|EPERM) mlock$/, result.stdout);
  });
});

describe("modes", () => {
  it("writing to a read-only mapping is a TypeError that says read-only", () => {
    using mapped = MappedFile.open(file);
    const readOnly = (error: unknown) => error instanceof TypeError && /read-?only/i.test(error.message);
    assert.throws(() => mapped.write("x"), readOnly);
    assert.throws(() => mapped.writeAt(new Uint8Array(1), 0), readOnly);
    assert.throws(() => mapped.setUint8(0, 1), readOnly);
    assert.throws(() => mapped.setBigUint64(8, 1n), readOnly);
    assert.equal(mapped.position, 0, "a refused write does not move the position");
    assert.deepEqual(mapped.subarray(0, 16), pattern(16), "and changes nothing");
    assert.throws(() => mapped.resize(10), TypeError);
    assert.throws(() => mapped.writable(), TypeError);
  });

  it("copy-on-write changes memory, never the file, and refuses sync", () => {
    const original = fs.readFileSync(file);
    using mapped = MappedFile.open(file, { mode: "copyonwrite" });
    mapped.writeAt("private", 0);
    mapped.bytes[100] ^= 0xff;
    assert.equal(new TextDecoder().decode(mapped.subarray(0, 7)), "private");
    assert.throws(() => mapped.sync(), TypeError);
    assert.throws(() => mapped.resize(10), TypeError);
    mapped.close();
    assert.deepEqual(fs.readFileSync(file), original);
  });
});

describe("after close", () => {
  it("every method throws ClosedError, views are detached, close twice is fine", () => {
    const mapped = MappedFile.open(file, { mode: "readwrite" });
    const views = [mapped.bytes, mapped.subarray(10, 20), mapped.subarray(pageSize)];
    mapped.close();
    mapped.close();
    assert.equal(mapped.closed, true);
    for (const view of views) assert.equal(view.byteLength, 0);
    const uses: (() => unknown)[] = [
      () => mapped.bytes, () => mapped.subarray(0), () => mapped.read(new Uint8Array(1)),
      () => mapped.write("x"), () => mapped.seek(0), () => mapped.readAt(new Uint8Array(1), 0),
      () => mapped.writeAt("x", 0), () => mapped.getUint32(0), () => mapped.setUint8(0, 1),
      () => mapped.advise("normal"), () => mapped.sync(), () => mapped.lock(), () => mapped.unlock(),
      () => mapped.resize(1), () => mapped.remap(), () => mapped.resident(),
      () => mapped.readable(), () => mapped.writable(), () => { mapped.position = 0; },
      () => mapped.windowOffset,
    ];
    for (const use of uses) assert.throws(use, ClosedError);
  });

  it("leaves no descriptor and no mapping of the file", () => {
    const before = openDescriptors();
    const mapped = MappedFile.open(file, { window: pageSize });
    mapped.readAt(new Uint8Array(pageSize * 2), 0);
    assert.ok(mappingsOf(file).length > 0);
    mapped.close();
    assert.deepEqual(openDescriptors(), before);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("a buffer transferred away reads zeros after close instead of crashing", () => {
    const mapped = MappedFile.open(file);
    const stolen = mapped.bytes.buffer.transfer();
    assert.equal(new Uint8Array(stolen)[5], pattern(6)[5], "the stolen buffer still shows the file");
    mapped.close();
    assert.deepEqual(mappingsOf(file), [], "the file itself is no longer mapped");
    const view = new Uint8Array(stolen);
    assert.equal(view.length, 3 * pageSize);
    assert.ok(view.every((byte) => byte === 0), "the range now holds anonymous zero pages");
  });

  it("a buffer transferred away from a window reads zeros after the window slides", () => {
    const target = path.join(directory, "window-stolen.bin");
    fs.writeFileSync(target, pattern(8 * pageSize, 1));
    using mapped = MappedFile.open(target, { window: 2 * pageSize });
    const stolen = mapped.subarray(0, pageSize).buffer.transfer();
    // Views are out, so only subarray() slides the window (a copying access would not).
    mapped.subarray(6 * pageSize, 6 * pageSize + 1);
    assert.equal(mapped.windowOffset, 6 * pageSize);
    const view = new Uint8Array(stolen);
    assert.ok(view.length > 0);
    assert.ok(view.every((byte) => byte === 0), "the old window now holds anonymous zero pages");
    assert.equal(mapped.getUint8(1), pattern(2, 1)[1], "the file still reads right");
  });

  it("a buffer transferred away from a shrinking mapping reads zeros past the new end", () => {
    const target = path.join(directory, "shrink-stolen.bin");
    fs.writeFileSync(target, pattern(4 * pageSize, 2));
    using mapped = MappedFile.open(target, { mode: "readwrite" });
    const stolen = mapped.bytes.buffer.transfer();
    mapped.resize(pageSize);
    assert.equal(fs.statSync(target).size, pageSize);
    const view = new Uint8Array(stolen);
    assert.ok(view.subarray(pageSize).every((byte) => byte === 0), "the cut-off pages are zeros, not a SIGBUS");
  });

  it("a stolen buffer survives a resize that moves the mapping", () => {
    const target = path.join(directory, "resize-stolen.bin");
    fs.writeFileSync(target, pattern(pageSize));
    using mapped = MappedFile.open(target, { mode: "readwrite" });
    const stolen = mapped.bytes.buffer.transfer();
    mapped.resize(64 * pageSize);
    const strayView = new Uint8Array(stolen);
    assert.equal(strayView.length, pageSize);
    // Reading it must not fault: it shows the file (grown in place) or zeros (moved and overlaid).
    const expected = pattern(pageSize);
    const untouched = strayView.every((byte, i) => byte === expected[i]);
    assert.ok(untouched || strayView.every((byte) => byte === 0));
    mapped.setUint8(63 * pageSize, 1);
    assert.equal(mapped.getUint8(1), pattern(2)[1], "the file's bytes moved with the mapping");
  });
});
