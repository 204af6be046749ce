// Fault injection: every libc call made by open, resize and close is failed in
// turn. The operation must throw an MmapError naming the call, and leave no
// descriptor, no mapping of the file and no half-made file behind.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MmapError, pageSize } from "../mod.ts";
import { FaultyLibc, libc, type LibcCall, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, mappingsOf, openDescriptors, pattern, removeDirectory } from "./helpers.ts";

/**
 * A realistic errno for every call a FaultyLibc can fail, name and number on
 * Linux. A Record, so a call added to LibcCall must be added here too (the type
 * check fails otherwise) and the sweeps below can never silently skip it.
 */
const ERRNO = {
  open: ["EMFILE", 24], fstat: ["EIO", 5], stat: ["EIO", 5], ftruncate: ["ENOSPC", 28],
  posixFallocate: ["ENOSPC", 28], posixFadvise: ["EIO", 5], mmap: ["ENOMEM", 12], mremap: ["ENOMEM", 12],
  mprotect: ["ENOMEM", 12], madvise: ["EAGAIN", 11], mlock: ["EAGAIN", 11], munlock: ["EPERM", 1],
  mincore: ["ENOMEM", 12], msync: ["EIO", 5], fsync: ["EIO", 5], munmap: ["ENOMEM", 12],
  close: ["EIO", 5], unlink: ["EPERM", 1], shmOpen: ["EMFILE", 24], shmUnlink: ["EPERM", 1],
  memfdCreate: ["EMFILE", 24], flock: ["ENOLCK", 37], openat: ["EMFILE", 24], openat2: ["EMFILE", 24], fstatat: ["EIO", 5],
  mkdirat: ["ENOSPC", 28], unlinkat: ["EPERM", 1], renameat: ["EIO", 5], fchmod: ["EPERM", 1],
  fchmodat: ["EPERM", 1], fchownat: ["EPERM", 1], utimensat: ["EPERM", 1], readlinkat: ["EIO", 5],
  fdopendir: ["ENOMEM", 12], readdir: ["EIO", 5], closedir: ["EIO", 5], pread: ["EIO", 5], pwrite: ["EIO", 5], write: ["ENOSPC", 28],
} satisfies Record<LibcCall, [string, number]>;
const CALLS = Object.keys(ERRNO) as LibcCall[];
const syscallName = (call: LibcCall) => call === "posixFallocate" ? "posix_fallocate" : call;

// Made at load time: describe bodies below compute their plans while the suite
// is being collected, before any hook has run.
const directory = makeDirectory();
after(() => removeDirectory(directory));

/** Every (call, nth) that `operation` makes when nothing fails. */
function callsMadeBy(operation: () => void): [LibcCall, number][] {
  const counting = new FaultyLibc(libc());
  useLibc(counting);
  try {
    operation();
  } finally {
    useLibc(null);
  }
  return CALLS.flatMap((call) =>
    Array.from({ length: counting.calls(call) }, (_, i) => [call, i + 1] as [LibcCall, number])
  );
}

/** Runs `operation` with the nth `call` failing; returns what it threw. */
function failing(call: LibcCall, nth: number, operation: (faulty: FaultyLibc) => void): unknown {
  const faulty = new FaultyLibc(libc());
  const [, errno] = ERRNO[call]!;
  useLibc(faulty);
  try {
    faulty.fail(call, { nth, errno });
    operation(faulty);
  } catch (error) {
    return error;
  } finally {
    useLibc(null);
  }
  return undefined;
}

function assertNamesCall(error: unknown, call: LibcCall): void {
  assert.ok(error instanceof MmapError, `expected MmapError, got ${error}`);
  assert.equal(error.code, ERRNO[call]![0]);
  assert.equal(error.syscall, syscallName(call));
}

describe("open and close of a new file, created, sized, populated and locked", () => {
  const target = () => path.join(directory, "created.bin");
  let opened = false;
  const openAndClose = () => {
    const mapped = MappedFile.open(target(), {
      mode: "readwrite", create: true, size: 8 * pageSize, populate: true, lock: true,
    });
    opened = true;
    mapped.close();
  };
  const plan = (() => {
    const made = callsMadeBy(openAndClose);
    fs.rmSync(target());
    return made;
  })();

  it("makes the calls this sweep expects", () => {
    const names = new Set(plan.map(([call]) => call));
    for (const call of ["open", "fstat", "posixFallocate", "mmap", "mlock", "msync", "fsync", "close"] as const) {
      assert.ok(names.has(call), `open() and close() call ${call}`);
    }
  });

  for (const [call, nth] of plan) {
    it(`${call} #${nth} failing leaves nothing behind`, () => {
      fs.rmSync(target(), { force: true });
      opened = false;
      const descriptors = openDescriptors();
      try {
        assertNamesCall(failing(call, nth, openAndClose), call);
        if (opened) {
          // The failure came from close(): the file was made whole before it.
          assert.equal(fs.statSync(target()).size, 8 * pageSize);
        } else {
          assert.equal(fs.existsSync(target()), false, "a file this open created is removed");
        }
        assert.deepEqual(openDescriptors(), descriptors);
        assert.deepEqual(mappingsOf(target()), []);
      } finally {
        fs.rmSync(target(), { force: true });
      }
    });
  }
});

describe("open: an existing file grown by the size option", () => {
  const file = () => path.join(directory, "existing.bin");
  const data = pattern(pageSize);
  const open = () => MappedFile.open(file(), { mode: "readwrite", size: 4 * pageSize }).close();
  const plan = (() => {
    fs.writeFileSync(path.join(directory, "existing.bin"), data);
    const made = callsMadeBy(open);
    return made.filter(([call]) => !["msync", "fsync", "munmap", "close"].includes(call));
  })();

  for (const [call, nth] of plan) {
    it(`${call} #${nth} failing keeps the file as it was`, () => {
      fs.writeFileSync(file(), data);
      const descriptors = openDescriptors();
      assertNamesCall(failing(call, nth, open), call);
      assert.deepEqual(new Uint8Array(fs.readFileSync(file())), data, "size and bytes unchanged");
      assert.deepEqual(openDescriptors(), descriptors);
      assert.deepEqual(mappingsOf(file()), []);
    });
  }
});

describe("resize and close", () => {
  const file = () => path.join(directory, "resized.bin");
  const data = pattern(2 * pageSize);

  for (const direction of ["grow", "shrink"] as const) {
    const newSize = direction === "grow" ? 16 * pageSize : pageSize / 2;

    /** Opens through `faulty`, then resizes with `fault` armed; returns the error. */
    const resizeWith = (faulty: FaultyLibc, fault?: [LibcCall, number]) => {
      useLibc(faulty);
      try {
        const mapped = MappedFile.open(file(), { mode: "readwrite" });
        if (fault) faulty.fail(fault[0], { nth: fault[1], errno: ERRNO[fault[0]]![1] });
        const base = new Map(CALLS.map((call) => [call, faulty.calls(call)]));
        let error: unknown;
        try {
          mapped.resize(newSize);
        } catch (thrown) {
          error = thrown;
        }
        return { mapped, error, base };
      } finally {
        useLibc(null);
      }
    };
    const plan = (() => {
      fs.writeFileSync(file(), data);
      const faulty = new FaultyLibc(libc());
      const { mapped, base } = resizeWith(faulty);
      mapped.close();
      return CALLS.flatMap((call) =>
        Array.from({ length: faulty.calls(call) - base.get(call)! }, (_, i) => [call, i + 1] as [LibcCall, number])
      ).filter(([call]) => !["munmap", "close", "msync", "fsync"].includes(call));
    })();

    it(`${direction}: the sweep covers the calls resize makes`, () => {
      const names = plan.map(([call]) => call);
      assert.ok(names.includes("fstat"));
      assert.ok(names.includes(direction === "grow" ? "mremap" : "ftruncate"));
    });

    for (const [call, nth] of plan) {
      it(`${direction}: ${call} #${nth} failing keeps a usable object`, () => {
        fs.writeFileSync(file(), data);
        const { mapped, error } = resizeWith(new FaultyLibc(libc()), [call, nth]);
        assertNamesCall(error, call);
        assert.equal(mapped.size, data.length);
        assert.equal(fs.statSync(file()).size, data.length, "the file keeps its old size");
        assert.deepEqual(mapped.bytes, data, "and its bytes");
        mapped.resize(3 * pageSize);
        assert.equal(fs.statSync(file()).size, 3 * pageSize, "the object still works");
        mapped.close();
        assert.deepEqual(mappingsOf(file()), []);
      });
    }
  }

  const closePlan = (() => {
    fs.writeFileSync(path.join(directory, "closed.bin"), data);
    return callsMadeBy(() => {
      const mapped = MappedFile.open(path.join(directory, "closed.bin"), { mode: "readwrite" });
      mapped.resize(4 * pageSize);
      mapped.writeAt("dirty", 0);
      mapped.close();
    }).filter(([call]) => ["msync", "fsync", "munmap", "close"].includes(call));
  })();

  for (const [call, nth] of closePlan) {
    it(`close: ${call} #${nth} failing still closes, unmaps and reports`, () => {
      const target = path.join(directory, "closed.bin");
      fs.writeFileSync(target, data);
      const descriptors = openDescriptors();
      let mapped: MappedFile | undefined;
      const error = failing(call, nth, () => {
        mapped = MappedFile.open(target, { mode: "readwrite" });
        mapped.resize(4 * pageSize);
        mapped.writeAt("dirty", 0);
        mapped.close();
      });
      assertNamesCall(error, call);
      assert.equal(mapped?.closed, true);
      assert.deepEqual(openDescriptors(), descriptors);
      assert.deepEqual(mappingsOf(target), []);
    });
  }
});
