// Every syscall SharedMemory makes, failed once on purpose: the error is an
// MmapError naming the call, and no descriptor, mapping or object this call
// created is left behind — while an object someone else created survives.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MmapError, SharedMemory } from "../mod.ts";
import { FaultyLibc, libc, type LibcCall, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, removeDirectory } from "./helpers.ts";
import { descriptorsOn, mappingsOn, removeTracked, shmExists, uniqueName } from "./shared_memory_helpers.ts";

const directory = makeDirectory("memmapfs-shm-faults-");
after(() => {
  removeTracked();
  removeDirectory(directory);
});

interface Fault {
  call: LibcCall;
  errno: number;
  /** The error's code and syscall; differ from the injected call where a fallback runs. */
  code: string;
  syscall: string;
  /** More faults to plan first (to reach a fallback). */
  before?: { call: LibcCall; errno: number }[];
}

/** Runs `fn` with `faults` planned, asserting it throws the expected MmapError. */
function failing(faults: Fault, fn: () => unknown): FaultyLibc {
  const faulty = new FaultyLibc(libc());
  // Each fault takes the next call of its kind: the 1st, then the 2nd, ...
  const planned = new Map<LibcCall, number>();
  for (const fault of [...faults.before ?? [], faults]) {
    const nth = (planned.get(fault.call) ?? 0) + 1;
    planned.set(fault.call, nth);
    faulty.fail(fault.call, { nth, errno: fault.errno });
  }
  useLibc(faulty);
  try {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof MmapError, String(error));
      assert.equal(error.code, faults.code);
      assert.equal(error.syscall, faults.syscall);
      return true;
    });
  } finally {
    useLibc(null);
  }
  return faulty;
}

// posix_fallocate reporting EOPNOTSUPP makes FileDescriptor fall back to ftruncate.
const growthFaults: Fault[] = [
  { call: "fstat", errno: 5, code: "EIO", syscall: "fstat" },
  { call: "posixFallocate", errno: 28, code: "ENOSPC", syscall: "posix_fallocate" },
  {
    call: "ftruncate", errno: 27, code: "EFBIG", syscall: "ftruncate",
    before: [{ call: "posixFallocate", errno: 95 }],
  },
  { call: "mmap", errno: 12, code: "ENOMEM", syscall: "mmap" },
];

describe("create by name, failing once", () => {
  const faults: Fault[] = [{ call: "shmOpen", errno: 24, code: "EMFILE", syscall: "shm_open" }, ...growthFaults];
  for (const fault of faults) {
    it(`${fault.call} (${fault.code}) leaves no descriptor, mapping or object`, () => {
      const name = uniqueName("fault");
      const descriptors = openDescriptors();
      const faulty = failing(fault, () => SharedMemory.create({ name, size: 1 << 20 }));
      assert.equal(faulty.calls(fault.call) >= 1, true);
      assert.equal(shmExists(name), false, "the object it created is removed");
      assert.deepEqual(mappingsOn(name), []);
      assert.deepEqual(openDescriptors(), descriptors);
      // And the name is free again.
      using region = SharedMemory.create({ name, size: 64 });
      region.unlink();
    });
  }
});

describe("create by path, failing once", () => {
  const faults: Fault[] = [{ call: "open", errno: 13, code: "EACCES", syscall: "open" }, ...growthFaults];
  for (const fault of faults) {
    it(`${fault.call} (${fault.code}) leaves no descriptor, mapping or file`, () => {
      const file = path.join(directory, `${fault.call}.bin`);
      const descriptors = openDescriptors();
      failing(fault, () => SharedMemory.create({ path: file, size: 1 << 20 }));
      assert.equal(fs.existsSync(file), false, "the file it created is removed");
      assert.deepEqual(mappingsOn(file), []);
      assert.deepEqual(openDescriptors(), descriptors);
    });
  }
});

describe("touching an object someone else made, failing once", () => {
  const faults: Fault[] = [
    { call: "shmOpen", errno: 13, code: "EACCES", syscall: "shm_open" },
    { call: "fstat", errno: 5, code: "EIO", syscall: "fstat" },
    { call: "mmap", errno: 12, code: "ENOMEM", syscall: "mmap" },
  ];
  for (const fault of faults) {
    it(`open: ${fault.call} (${fault.code}) closes what it opened and removes nothing`, () => {
      const name = uniqueName("fault");
      using owner = SharedMemory.create({ name, size: 4096 });
      owner.bytes[10] = 10;
      const descriptors = openDescriptors();
      failing(fault, () => SharedMemory.open(name));
      assert.deepEqual(openDescriptors(), descriptors);
      assert.equal(mappingsOn(name).length, 1, "only the owner's mapping");
      assert.ok(shmExists(name), "the object survives");
      assert.equal(owner.bytes[10], 10);
      owner.unlink();
    });
  }

  for (const fault of [...growthFaults.slice(1)]) {
    it(`create without exclusive: ${fault.call} (${fault.code}) while growing keeps the object`, () => {
      const name = uniqueName("fault");
      using owner = SharedMemory.create({ name, size: 4096 });
      owner.bytes[4095] = 1;
      failing(fault, () => SharedMemory.create({ name, size: 1 << 20, exclusive: false }));
      assert.ok(shmExists(name), "the object survives");
      assert.equal(fs.statSync(`/dev/shm/${name}`).size, fault.call === "mmap" ? 1 << 20 : 4096);
      assert.equal(owner.bytes[4095], 1);
      assert.equal(descriptorsOn(name).length, 1, "only the owner's descriptor");
      owner.unlink();
    });
  }

  it("a read-only open falls back to a PROT_READ mapping when copy-on-write is refused", () => {
    const name = uniqueName("fault");
    using owner = SharedMemory.create({ name, size: 4096 });
    owner.bytes[0] = 5;
    const faulty = new FaultyLibc(libc());
    faulty.fail("mmap", { errno: 12 });
    useLibc(faulty);
    try {
      using reader = SharedMemory.open(name, { readonly: true });
      assert.equal(reader.bytes[0], 5);
      assert.equal(faulty.calls("mmap"), 2);
    } finally {
      useLibc(null);
    }
    const descriptors = openDescriptors();
    failing(
      { call: "mmap", errno: 12, code: "ENOMEM", syscall: "mmap", before: [{ call: "mmap", errno: 12 }] },
      () => SharedMemory.open(name, { readonly: true }),
    );
    assert.deepEqual(openDescriptors(), descriptors);
    owner.unlink();
  });
});

describe("unlink, close and sync, failing once", () => {
  // A region keeps the libc it was made with, so these are made under a FaultyLibc
  // whose faults are planned afterwards.
  function underFaultyLibc<T>(make: () => T): { faulty: FaultyLibc; value: T } {
    const faulty = new FaultyLibc(libc());
    useLibc(faulty);
    try {
      return { faulty, value: make() };
    } finally {
      useLibc(null);
    }
  }

  /** Plans one fault and asserts `fn` throws the MmapError it causes. */
  function failOnce(faulty: FaultyLibc, call: LibcCall, errno: number, code: string, syscall: string, fn: () => void) {
    faulty.fail(call, { errno });
    assert.throws(fn, (error: unknown) =>
      error instanceof MmapError && error.code === code && error.syscall === syscall);
  }

  it("a failed shm_unlink leaves the object and can be retried", () => {
    const name = uniqueName("fault");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ name, size: 64 }));
    using _ = region;
    failOnce(faulty, "shmUnlink", 13, "EACCES", "shm_unlink", () => region.unlink());
    assert.ok(shmExists(name));
    region.unlink();
    assert.equal(shmExists(name), false);
  });

  it("a failed unlink of the file leaves it and can be retried", () => {
    const file = path.join(directory, "unlink.bin");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ path: file, size: 64 }));
    using _ = region;
    failOnce(faulty, "unlink", 16, "EBUSY", "unlink", () => region.unlink());
    assert.ok(fs.existsSync(file));
    region.unlink();
    assert.equal(fs.existsSync(file), false);
  });

  it("a failed close still closes: views detached, descriptor gone, second close quiet", () => {
    const name = uniqueName("fault");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ name, size: 64 }));
    const view = region.bytes;
    failOnce(faulty, "close", 5, "EIO", "close", () => region.close());
    assert.equal(region.closed, true);
    assert.equal(view.byteLength, 0);
    assert.deepEqual(descriptorsOn(name), []);
    assert.deepEqual(mappingsOn(name), []);
    region.close();
    region.unlink();
  });

  it("a failed munmap is reported by close, and the range is overlaid instead", () => {
    const name = uniqueName("fault");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ name, size: 4096 }));
    failOnce(faulty, "munmap", 22, "EINVAL", "munmap", () => region.close());
    assert.deepEqual(mappingsOn(name), [], "the object's pages are no longer mapped");
    assert.deepEqual(descriptorsOn(name), []);
    region.unlink();
  });

  it("a failed msync poisons sync: later syncs throw too", () => {
    const file = path.join(directory, "poison.bin");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ path: file, size: 4096 }));
    using _ = region;
    region.bytes[0] = 1;
    failOnce(faulty, "msync", 5, "EIO", "msync", () => region.sync());
    assert.throws(() => region.sync(), (error: unknown) =>
      error instanceof MmapError && error.code === "EIO" && /earlier sync failed/.test(error.message));
    region.unlink();
  });

  it("a failed fsync after creating a file poisons sync too", () => {
    const file = path.join(directory, "fsync.bin");
    const { faulty, value: region } = underFaultyLibc(() => SharedMemory.create({ path: file, size: 4096 }));
    using _ = region;
    failOnce(faulty, "fsync", 5, "EIO", "fsync", () => region.sync());
    assert.throws(() => region.sync(), /earlier sync failed/);
    region.unlink();
  });
});
