// Issue 13.1: growing a shared anonymous mapping used to kill the process (SIGBUS): the memory
// behind MAP_SHARED | MAP_ANONYMOUS is fixed-size. Shared anonymous memory is now a memfd that
// grows (ftruncate) before the mapping does. Where there is no memfd (Darwin, or a kernel or
// policy that refuses it) growth is MmapError ENOTSUP and nothing changes. The cases that
// touched grown memory run in a child process that must exit normally.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { MappedFile, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, type Libc, libc } from "../src/ffi/mod.ts";
import { newDescriptors, openDescriptors, runScript, withLibc } from "./helpers.ts";

/** Runs `body` in a child of this runtime with MappedFile in scope; returns what it printed as JSON. */
function inChild(body: string): unknown {
  const result = runScript(`
    import { MappedFile } from "../mod.ts";
    const out = (() => { ${body} })();
    console.log("RESULT" + JSON.stringify(out));
  `);
  assert.equal(result.signal, null, `the child died of ${result.signal}; stderr: ${result.stderr}`);
  assert.equal(result.status, 0, `stderr: ${result.stderr}`);
  const line = result.stdout.split("\n").find((l) => l.startsWith("RESULT"));
  assert.ok(line, `no result; stdout: ${result.stdout}`);
  return JSON.parse(line.slice("RESULT".length));
}

/** This process's mappings of shared anonymous memory made by memmapfs. */
const memfdMappings = () => fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) => line.includes("/memfd:memmapfs-shared"));

/** The runtime's libc as a platform without memfd_create (Darwin) has it. */
function withoutMemfd(inner: Libc): Libc {
  return new Proxy(inner, {
    get(target, key) {
      if (key === "memfdCreate") return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("shared anonymous memory grows for real", () => {
  it("anonymous(4096, { shared: true }).resize(8192), then getUint8(8191): the child lives and reads 0", () => {
    const seen = inChild(`
      const memory = MappedFile.anonymous(4096, { shared: true });
      memory.setUint8(4095, 7);
      memory.resize(8192);
      return [memory.getUint8(8191), memory.getUint8(4095), memory.size];
    `);
    assert.deepEqual(seen, [0, 7, 8192]);
  });

  it("seek(4096); write(\"x\") and writeAt(\"x\", 10000) grow it too", () => {
    const seen = inChild(`
      const memory = MappedFile.anonymous(4096, { shared: true });
      memory.seek(4096);
      memory.write("x");
      memory.writeAt("y", 10000);
      const bytes = memory.bytes;
      return [memory.size, bytes[4096], bytes[10000], bytes[5000]];
    `);
    assert.deepEqual(seen, [10001, 0x78, 0x79, 0]);
  });

  it("a shrink frees the tail: grown again, it reads zeros, as a file would", () => {
    const seen = inChild(`
      const memory = MappedFile.anonymous(3 * ${pageSize}, { shared: true });
      memory.bytes.fill(9);
      memory.resize(10);
      memory.resize(3 * ${pageSize});
      return [memory.getUint8(9), memory.getUint8(10), memory.getUint8(3 * ${pageSize} - 1)];
    `);
    assert.deepEqual(seen, [9, 0, 0]);
  });

  it("is still shared memory (MAP_SHARED over a memfd), and close() lets go of the memfd", () => {
    const memfdsBefore = memfdDescriptors();
    const mappingsBefore = memfdMappings().length;
    const memory = MappedFile.anonymous(2 * pageSize, { shared: true });
    const mine = memfdMappings().slice(mappingsBefore);
    assert.equal(mine.length, 1);
    assert.match(mine[0], / rw-s /);
    // Counted by what they name, not by number: Bun closes a finished child's
    // pipes lazily, so the memfd may reuse a number that was open before.
    assert.equal(memfdDescriptors() - memfdsBefore, 1, "one descriptor, the memfd");
    memory.close();
    assert.equal(memfdMappings().length, mappingsBefore);
    assert.equal(memfdDescriptors(), memfdsBefore);
  });

  it("private anonymous memory uses no memfd", () => {
    const counting = new FaultyLibc(libc());
    withLibc(counting, () => MappedFile.anonymous(pageSize).close());
    assert.equal(counting.calls("memfdCreate"), 0);
  });
});

describe("without memfd, growth is refused before anything changes", () => {
  it("a platform without memfd_create (Darwin): resize and writes past the end are ENOTSUP", () => {
    withLibc(withoutMemfd(libc()), () => {
      using memory = MappedFile.anonymous(4096, { shared: true });
      memory.setUint8(10, 5);
      for (const grow of [() => memory.resize(8192), () => memory.writeAt("x", 10000), () => (memory.seek(4096), memory.write("x"))]) {
        assert.throws(grow, (error: unknown) => {
          assert.ok(error instanceof MmapError, `got ${error}`);
          assert.equal(error.code, "ENOTSUP");
          assert.match(error.message, /cannot grow/);
          return true;
        });
      }
      assert.equal(memory.size, 4096);
      assert.equal(memory.getUint8(10), 5);
      memory.resize(100); // shrinking needs no new memory
      assert.equal(memory.size, 100);
    });
  });

  it("memfd_create refused by policy (EPERM): the memory is made anyway, fixed-size", () => {
    const faulty = new FaultyLibc(libc());
    faulty.fail("memfdCreate", { errno: 1 });
    withLibc(faulty, () => {
      using memory = MappedFile.anonymous(4096, { shared: true });
      memory.setUint8(0, 1);
      assert.throws(() => memory.resize(8192), { code: "ENOTSUP" });
    });
  });

  it("memfd_create out of descriptors (EMFILE) is an MmapError and leaks nothing", () => {
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    faulty.fail("memfdCreate", { errno: 24 });
    withLibc(faulty, () => {
      assert.throws(() => MappedFile.anonymous(4096, { shared: true }), { code: "EMFILE", syscall: "memfd_create" });
    });
    assert.deepEqual(newDescriptors(descriptors), []);
  });

  it("a failed ftruncate while growing keeps the old size and bytes", () => {
    const faulty = new FaultyLibc(libc());
    withLibc(faulty, () => {
      using memory = MappedFile.anonymous(4096, { shared: true });
      memory.setUint8(4095, 3);
      faulty.fail("ftruncate", { errno: 28 });
      assert.throws(() => memory.resize(8192), { code: "ENOSPC", syscall: "ftruncate" });
      assert.equal(memory.size, 4096);
      assert.equal(memory.getUint8(4095), 3);
      memory.resize(8192);
      assert.equal(memory.getUint8(8191), 0);
    });
  });
});

/** Descriptors of this process that name a memfd. */
function memfdDescriptors(): number {
  let count = 0;
  for (const fd of openDescriptors()) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith("/memfd:")) count++;
    } catch { /* closed while listing (readdir's own descriptor) */ }
  }
  return count;
}
