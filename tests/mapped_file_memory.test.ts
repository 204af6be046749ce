// What a mapping does to memory, observed from outside the library: pages
// made resident by populate (mincore and a sparse file that is not in the page
// cache yet), mlock seen in /proc/self/smaps, madvise applied to the asked
// range only, and mlock refused above RLIMIT_MEMLOCK.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MmapError, pageSize } from "../mod.ts";
import type { Advice } from "../mod.ts";
import { type Libc, libc } from "../src/ffi/mod.ts";
import {
  emulator,
  makeDirectory,
  mappingsOf,
  pattern,
  RecordingLibc,
  removeDirectory,
  runScript,
  smapsTotal,
  withLibc,
} from "./helpers.ts";

const ADVICE: Advice[] = [
  "normal", "random", "sequential", "willneed", "dontneed", "free", "remove", "hugepage",
  "nohugepage", "populate-read", "populate-write", "cold", "pageout", "dontfork", "dofork",
  "mergeable", "unmergeable",
];

let directory: string;
let counter = 0;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

/**
 * A sparse file of `pages` pages that was never read or written, so none of
 * its pages is in the page cache until something faults them in.
 */
function sparseFile(pages: number): string {
  const file = path.join(directory, `sparse-${counter++}.bin`);
  fs.writeFileSync(file, "");
  fs.truncateSync(file, pages * pageSize);
  return file;
}

/** The libc with every mmap's flags recorded. */
function recordingMmapFlags(): [Libc, number[]] {
  const flags: number[] = [];
  const inner = libc();
  const recorder = new Proxy(inner, {
    get(target, key) {
      if (key === "mmap") {
        return (addr: bigint, length: number, prot: number, flag: number, fd: number, offset: number) => {
          flags.push(flag);
          return target.mmap(addr, length, prot, flag, fd, offset);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return [recorder, flags];
}

// qemu-user drops MAP_POPULATE when it passes mmap on to the host kernel and
// answers MADV_WILLNEED without passing it on, so under emulation no page is
// prefaulted and residency says nothing about populate: there the tests check
// that memmapfs asks for it, and their names say why.
const qemuNote = emulator ? ` (${emulator} drops MAP_POPULATE: checks the flag memmapfs passes instead)` : "";

describe("resident() and populate", () => {
  it(`an untouched sparse file is not resident; populate makes every page resident${qemuNote}`, () => {
    {
      using cold = MappedFile.open(sparseFile(64));
      const { pages, resident } = cold.resident();
      assert.equal(pages, 64);
      assert.ok(resident < pages, `nothing touched the file yet, but ${resident} of ${pages} pages are resident`);
    }
    for (const mode of ["readonly", "readwrite", "copyonwrite"] as const) {
      const [recorder, flags] = recordingMmapFlags();
      withLibc(recorder, () => {
        using warm = MappedFile.open(sparseFile(64), { mode, populate: true });
        // A read-only mapping is private and writable, so it is prefaulted with
        // MADV_POPULATE_READ instead: MAP_POPULATE there would copy every page.
        if (mode !== "readonly") {
          assert.ok(flags.length > 0 && flags.every((flag) => (flag & libc().constants.MAP_POPULATE) !== 0), `MAP_POPULATE in ${mode} mode`);
        }
        if (!emulator) assert.deepEqual(warm.resident(), { pages: 64, resident: 64 }, `populate in ${mode} mode`);
      });
    }
  });

  it("counts ceil(size / pageSize) pages for a whole, aligned mapping", () => {
    const file = path.join(directory, "odd-size.bin");
    fs.writeFileSync(file, pattern(5 * pageSize + 17));
    using mapped = MappedFile.open(file);
    const { pages, resident } = mapped.resident();
    assert.equal(pages, 6);
    assert.ok(resident >= 0 && resident <= pages);
  });

  it("counts the pages the range touches when the offset is not aligned", () => {
    const file = path.join(directory, "straddle.bin");
    fs.writeFileSync(file, pattern(4 * pageSize));
    // Two bytes on either side of a page boundary live on two pages.
    using mapped = MappedFile.open(file, { offset: pageSize - 1, length: 2 });
    assert.equal(mapped.resident().pages, 2);
  });

  it(`in windowed mode counts the pages of the current window${qemuNote}`, () => {
    const [recorder, flags] = recordingMmapFlags();
    withLibc(recorder, () => {
      // Read-write, whose windows ask for MAP_POPULATE (read-only ones prefault by madvise).
      using mapped = MappedFile.open(sparseFile(32), { mode: "readwrite", window: 4 * pageSize, populate: true });
      assert.equal(mapped.resident().pages, 4);
      if (!emulator) assert.deepEqual(mapped.resident(), { pages: 4, resident: 4 });
      mapped.getUint8(20 * pageSize);
      assert.equal(mapped.resident().pages, 4);
      if (!emulator) assert.deepEqual(mapped.resident(), { pages: 4, resident: 4 }, "a new window is populated too");
      assert.equal(flags.length, 2, "two windows mapped");
      assert.ok(flags.every((flag) => (flag & libc().constants.MAP_POPULATE) !== 0), "each window asks for MAP_POPULATE");
    });
  });

  it("is { pages: 0, resident: 0 } for an empty file", () => {
    const file = path.join(directory, "empty.bin");
    fs.writeFileSync(file, "");
    using mapped = MappedFile.open(file);
    assert.deepEqual(mapped.resident(), { pages: 0, resident: 0 });
  });
});

describe("lock and unlock", () => {
  it("lock: true and lock() pin the file's pages; unlock() releases them", () => {
    const file = path.join(directory, "locked.bin");
    fs.writeFileSync(file, pattern(16 * pageSize));
    const kB = 16 * pageSize / 1024;
    using mapped = MappedFile.open(file, { lock: true });
    assert.equal(mapped.locked, true);
    assert.equal(smapsTotal(file, "Locked"), kB);
    mapped.unlock();
    assert.equal(mapped.locked, false);
    assert.equal(smapsTotal(file, "Locked"), 0);
    mapped.lock();
    assert.equal(mapped.locked, true);
    assert.equal(smapsTotal(file, "Locked"), kB);
    mapped.close();
    assert.deepEqual(mappingsOf(file), []);
  });

  it("remap() of a locked mapping keeps it locked, new pages included", () => {
    const file = path.join(directory, "locked-remap.bin");
    fs.writeFileSync(file, pattern(8 * pageSize));
    using mapped = MappedFile.open(file, { lock: true });
    fs.appendFileSync(file, pattern(8 * pageSize));
    mapped.remap();
    assert.equal(mapped.size, 16 * pageSize);
    assert.equal(mapped.locked, true);
    assert.equal(smapsTotal(file, "Locked"), 16 * pageSize / 1024);
  });

  it("a locked windowed mapping locks every window it slides to", () => {
    const file = path.join(directory, "locked-window.bin");
    fs.writeFileSync(file, pattern(40 * pageSize));
    using mapped = MappedFile.open(file, { window: 4 * pageSize, lock: true });
    mapped.getUint8(30 * pageSize);
    assert.equal(mapped.windowOffset, 30 * pageSize);
    assert.equal(smapsTotal(file, "Locked"), 4 * pageSize / 1024);
  });

  it("lock: true above RLIMIT_MEMLOCK fails in open with EAGAIN/ENOMEM/EPERM and leaks nothing", () => {
    const file = path.join(directory, "one-mib.bin");
    fs.writeFileSync(file, pattern(1 << 20));
    const result = runScript(`
      import * as fs from "node:fs";
      import { MappedFile } from "../mod.ts";
      const file = ${JSON.stringify(file)};
      // Warm up first: loading the FFI library may open descriptors of its own.
      MappedFile.open(file).close();
      const descriptors = fs.readdirSync("/proc/self/fd").join();
      let outcome = "locked";
      try {
        MappedFile.open(file, { lock: true });
      } catch (error) {
        outcome = [error.name, error.code, error.syscall, error.path === file].join(" ");
      }
      // Compared before printing: the first console.log may open a descriptor.
      const sameDescriptors = fs.readdirSync("/proc/self/fd").join() === descriptors;
      const maps = fs.readFileSync("/proc/self/maps", "utf8").split("\\n").filter((line) => line.includes(file));
      console.log(outcome);
      console.log("same descriptors", sameDescriptors, "mappings", maps.length);
    `, {
      // Root's CAP_IPC_LOCK ignores the limit: the child runs without it.
      shellPrefix: "ulimit -l 64 && exec setpriv --bounding-set -ipc_lock --",
    });
    assert.equal(result.status, 0, result.stderr);
    const [outcome, left] = result.stdout.trim().split("\n");
    assert.match(outcome, /^MmapError (EAGAIN|ENOMEM|EPERM) mlock true$/);
    assert.equal(left, "same descriptors true mappings 0", "no descriptor and no mapping of the file are left");
  });
});

describe("advise", () => {
  it("applies to the requested range only", () => {
    // MADV_DONTNEED on private anonymous memory zero-fills exactly the pages it covers.
    using memory = MappedFile.anonymous(8 * pageSize);
    memory.bytes.fill(1);
    memory.advise("dontneed", 2 * pageSize, 3 * pageSize);
    const bytes = memory.bytes;
    assert.ok(bytes.subarray(0, 2 * pageSize).every((byte) => byte === 1), "before the range");
    assert.ok(bytes.subarray(2 * pageSize, 5 * pageSize).every((byte) => byte === 0), "the range");
    assert.ok(bytes.subarray(5 * pageSize).every((byte) => byte === 1), "after the range");
  });

  it("rounds an unaligned range out to whole pages", () => {
    const file = path.join(directory, "advised.bin");
    fs.writeFileSync(file, pattern(8 * pageSize));
    const recording = new RecordingLibc(libc());
    withLibc(recording, () => {
      using mapped = MappedFile.open(file, { offset: 100 });
      recording.madvises.length = 0;
      mapped.advise("willneed", pageSize, 10);
      const [call] = recording.madvises;
      assert.equal(recording.madvises.length, 1);
      assert.equal(call.address % BigInt(pageSize), 0n, "madvise gets a page-aligned address");
      assert.equal(call.flags, libc().constants.advice.willneed);
      assert.ok(call.length >= 10 && call.length <= 2 * pageSize, `length ${call.length}`);
    });
  });

  it("every advice supportsAdvice() accepts works on some kind of mapping", () => {
    const file = path.join(directory, "advice-kinds.bin");
    fs.writeFileSync(file, pattern(16 * pageSize));
    for (const advice of ADVICE) {
      if (!MappedFile.supportsAdvice(advice)) continue;
      const errors: string[] = [];
      const kinds = [
        () => MappedFile.anonymous(16 * pageSize),
        () => MappedFile.anonymous(16 * pageSize, { shared: true }),
        () => MappedFile.open(file, { mode: "readwrite" }),
      ];
      const accepted = kinds.some((make) => {
        using mapped = make();
        mapped.bytes.fill(1);
        try {
          mapped.advise(advice, pageSize, 4 * pageSize);
          return true;
        } catch (error) {
          assert.ok(error instanceof MmapError && error.syscall === "madvise", `${error}`);
          errors.push(error.code);
          return false;
        }
      });
      assert.ok(accepted, `"${advice}" is reported as supported but every mapping refused it: ${errors}`);
    }
  });

  it("supportsAdvice() does not remember an answer a failed probe gave", () => {
    // A fresh process: the answers are remembered for the process's life.
    const result = runScript(`
      import { MappedFile } from "../mod.ts";
      import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";
      const faulty = new FaultyLibc(libc());
      faulty.fail("mmap", { nth: 1, errno: 12 });
      faulty.fail("mmap", { nth: 2, errno: 12 });
      useLibc(faulty);
      const starved = MappedFile.supportsAdvice("willneed");
      useLibc(null);
      console.log(starved, MappedFile.supportsAdvice("willneed"));
    `);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "false true");
  });

  it("an advice outside the list is a TypeError before any syscall", () => {
    using memory = MappedFile.anonymous(pageSize);
    assert.throws(() => MappedFile.supportsAdvice("sideways" as Advice), TypeError);
    assert.throws(() => memory.advise("sideways" as Advice), TypeError);
    assert.throws(() => memory.advise("normal", -1), RangeError);
    assert.throws(() => memory.advise("normal", 0, 0.5), RangeError);
  });
});
