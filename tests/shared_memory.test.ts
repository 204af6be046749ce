// SharedMemory: names like Python's, a lifecycle that never truncates or
// leaks, and bytes that really cross process boundaries.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ClosedError, MmapError, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc, type LibcCall, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, removeDirectory, runScript, startScript } from "./helpers.ts";

const directory = makeDirectory("memmapfs-shm-");
const created: string[] = [];
after(() => {
  for (const name of created) fs.rmSync(`/dev/shm/${name}`, { force: true });
  removeDirectory(directory);
});

/** A unique name, removed after the suite even if a test fails. */
function uniqueName(): string {
  const name = `memmapfs_test_${process.pid}_${created.length}_${Date.now() % 100000}`;
  created.push(name);
  return name;
}

describe("names", () => {
  const bad: [string, unknown][] = [
    ["empty", ""], ["only a slash", "/"], ["a slash inside", "a/b"], ["a second slash", "/a/b"],
    ["dot", "."], ["dot dot", "/.."], ["NUL", "a\0b"], ["over 255 bytes", "x".repeat(256)],
    ["not a string", 42],
  ];
  for (const [what, name] of bad) {
    it(`refuses ${what} before calling libc`, () => {
      const counting = new FaultyLibc(libc());
      useLibc(counting);
      try {
        assert.throws(() => SharedMemory.create({ name: name as string, size: 16 }), TypeError);
      } finally {
        useLibc(null);
      }
      assert.equal(counting.calls("shmOpen"), 0);
    });
  }

  it('treats "psm_x" and "/psm_x" as one object', () => {
    const name = uniqueName();
    using first = SharedMemory.create({ name, size: 64 });
    assert.equal(first.name, name);
    first.bytes[0] = 42;
    using second = SharedMemory.open(`/${name}`);
    assert.equal(second.name, name);
    assert.equal(second.bytes[0], 42);
    first.unlink();
  });

  it("makes unguessable random names", () => {
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) {
      using region = SharedMemory.create({ size: 16 });
      assert.match(region.name!, /^psm_[0-9a-f]{16}$/);
      names.add(region.name!);
      region.unlink();
    }
    assert.equal(names.size, 5);
  });
});

describe("lifecycle", () => {
  it("creates exclusively by default, with mode 0600", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 4096 });
    assert.equal(fs.statSync(`/dev/shm/${name}`).mode & 0o777, 0o600);
    assert.throws(() => SharedMemory.create({ name, size: 4096 }), (error: unknown) =>
      error instanceof MmapError && error.code === "EEXIST" && error.syscall === "shm_open");
    region.unlink();
  });

  it("never truncates an object that exists", () => {
    const name = uniqueName();
    using big = SharedMemory.create({ name, size: 8192 });
    big.bytes[8191] = 7;
    using small = SharedMemory.create({ name, size: 16, exclusive: false });
    assert.equal(small.size, 8192, "the existing size wins");
    assert.equal(big.bytes[8191], 7, "the other mapping still reads its bytes");
    using grown = SharedMemory.create({ name, size: 16384, exclusive: false });
    assert.equal(grown.size, 16384, "a smaller object may grow");
    big.unlink();
  });

  it("opens with the real size and read-only when asked", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 12345 });
    using reader = SharedMemory.open(name, { readonly: true });
    assert.equal(reader.size, 12345);
    assert.equal(reader.readonly, true);
    region.bytes[100] = 9;
    assert.equal(reader.bytes[100], 9);
    region.unlink();
  });

  it("refuses an object that others may write unless trusted", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 64, permissions: 0o666 });
    fs.chmodSync(`/dev/shm/${name}`, 0o666);
    assert.throws(() => SharedMemory.open(name), (error: unknown) =>
      error instanceof MmapError && error.code === "EACCES" && /trustAnyOwner/.test(error.message));
    using trusted = SharedMemory.open(name, { trustAnyOwner: true });
    assert.equal(trusted.size, 64);
    region.unlink();
  });

  it("keeps mappings alive after unlink; new opens and a second unlink are ENOENT", () => {
    const name = uniqueName();
    const region = SharedMemory.create({ name, size: 64 });
    region.bytes[0] = 1;
    region.unlink();
    region.bytes[1] = 2;
    assert.deepEqual([...region.bytes.subarray(0, 2)], [1, 2]);
    assert.throws(() => SharedMemory.open(name), (error: unknown) =>
      error instanceof MmapError && error.code === "ENOENT");
    assert.throws(() => region.unlink(), (error: unknown) =>
      error instanceof MmapError && error.code === "ENOENT" && error.syscall === "shm_unlink");
    const view = region.bytes;
    region.close();
    region.close();
    assert.equal(view.byteLength, 0, "views detach on close");
    assert.throws(() => region.bytes, ClosedError);
    assert.throws(() => region.sync(), ClosedError);
  });

  it("backs a region with a file, refusing to overwrite one that exists", () => {
    const file = path.join(directory, "region.bin");
    using region = SharedMemory.create({ path: file, size: 4096 });
    assert.equal(region.path, file);
    assert.equal(region.name, null);
    new TextEncoder().encodeInto("on disk", region.bytes);
    region.sync();
    assert.equal(fs.readFileSync(file).subarray(0, 7).toString(), "on disk");
    assert.throws(() => SharedMemory.create({ path: file, size: 4096 }), (error: unknown) =>
      error instanceof MmapError && error.code === "EEXIST");
    using reopened = SharedMemory.open(file);
    assert.equal(reopened.size, 4096);
    region.unlink();
    assert.equal(fs.existsSync(file), false);
  });

  it("checks its arguments", () => {
    assert.throws(() => SharedMemory.create({ size: -1 }), RangeError);
    assert.throws(() => SharedMemory.create({ size: 1.5 }), RangeError);
    assert.throws(() => SharedMemory.create({ size: "8" as unknown as number }), TypeError);
    assert.throws(() => SharedMemory.create({ name: "a", path: "/tmp/a", size: 8 }), TypeError);
    assert.throws(() => SharedMemory.create({ size: 8, exclusive: "yes" as unknown as boolean }), TypeError);
    assert.throws(() => SharedMemory.open(7 as unknown as string), TypeError);
  });
});

describe("failures leave nothing behind", () => {
  const calls: [LibcCall, number][] = [["shmOpen", 24], ["fstat", 5], ["posixFallocate", 28], ["mmap", 12]];
  for (const [call, errno] of calls) {
    it(`${call} failing during create leaves no descriptor and no object`, () => {
      const name = uniqueName();
      const descriptors = openDescriptors();
      const faulty = new FaultyLibc(libc());
      faulty.fail(call, { errno });
      useLibc(faulty);
      try {
        assert.throws(() => SharedMemory.create({ name, size: 1 << 20 }), MmapError);
      } finally {
        useLibc(null);
      }
      assert.equal(fs.existsSync(`/dev/shm/${name}`), false);
      assert.deepEqual(openDescriptors(), descriptors);
    });
  }
});

describe("across processes", () => {
  it("a child of this runtime writes and the parent sees it without copying", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 4096 });
    const view = region.bytes;
    const result = runScript(`
      import { SharedMemory } from "../mod.ts";
      using region = SharedMemory.open(${JSON.stringify(name)});
      new TextEncoder().encodeInto("written by the child", region.bytes);
    `);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(new TextDecoder().decode(view.subarray(0, 20)), "written by the child");
    region.unlink();
  });

  it("Atomics.add from two processes at once ends exactly right", async () => {
    const name = uniqueName();
    const region = SharedMemory.create({ name, size: 4096 });
    try {
      const counters = new Int32Array(region.bytes.buffer, 0, 2);
      const rounds = 200_000;
      // Each child checks in, spins until both are in, then both race.
      const child = `
        import { SharedMemory } from "../mod.ts";
        using region = SharedMemory.open(${JSON.stringify(name)});
        const counters = new Int32Array(region.bytes.buffer, 0, 2);
        Atomics.add(counters, 1, 1);
        while (Atomics.load(counters, 1) < 2) {}
        for (let i = 0; i < ${rounds}; i++) Atomics.add(counters, 0, 1);
      `;
      const outcomes = await Promise.all([startScript(child), startScript(child)]);
      for (const outcome of outcomes) assert.equal(outcome.status, 0, outcome.stderr);
      assert.equal(Atomics.load(counters, 0), 2 * rounds);
    } finally {
      region.unlink();
      region.close();
    }
  });
});

describe("seed 000 SharedMemory examples (the seed names them without bodies)", () => {
  it("Basic: create, write, read back", () => {
    const lines: string[] = [];
    using region = SharedMemory.create({ size: 1024 });
    const message = "Hello from shared memory!";
    new TextEncoder().encodeInto(message, region.bytes);
    lines.push(`Read: ${new TextDecoder().decode(region.bytes.subarray(0, message.length))}`);
    region.unlink();
    assert.deepEqual(lines, ["Read: Hello from shared memory!"]);
  });

  it("Ipc: a writer process and a reader process", () => {
    const name = uniqueName();
    using region = SharedMemory.create({ name, size: 1024 });
    const writer = runScript(`
      import { SharedMemory } from "../mod.ts";
      using region = SharedMemory.open(${JSON.stringify(name)});
      new TextEncoder().encodeInto("ping", region.bytes);
    `);
    assert.equal(writer.status, 0, writer.stderr);
    const reader = runScript(`
      import { SharedMemory } from "../mod.ts";
      using region = SharedMemory.open(${JSON.stringify(name)}, { readonly: true });
      console.log("Received: " + new TextDecoder().decode(region.bytes.subarray(0, 4)));
    `);
    assert.equal(reader.stdout.trim(), "Received: ping", reader.stderr);
    region.unlink();
  });

  it("Cleanup: close and unlink remove the region", () => {
    const name = uniqueName();
    const region = SharedMemory.create({ name, size: 1024 });
    region.close();
    region.unlink();
    assert.equal(fs.existsSync(`/dev/shm/${name}`), false);
    assert.throws(() => SharedMemory.open(name), MmapError);
  });
});
