// The Darwin paths, run on Linux: first against a recording stand-in for the
// raw calls (what reaches fcntl, in which order, with which fstore_t bytes),
// then against the real kernel through a second binding of this runtime's
// libc that has Darwin's shape — no mremap, no posix_fallocate, F_FULLFSYNC
// and F_PREALLOCATE commands (which Linux refuses with EINVAL, so the
// fallbacks run), one-time shm sizes and 31-byte shm names.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { constantsFor, type PlatformConstants, platformLabel } from "../src/ffi/constants.ts";
import { type DarwinRawCalls, fullFsync, preallocate } from "../src/ffi/darwin_calls.ts";
import { bindRuntimeLibc, FaultyLibc, libc } from "../src/ffi/mod.ts";
import { assertShmNameFits, parseShmName } from "../src/shm/shm_name.ts";
import { MappedFile, MmapError, SharedMemory } from "../mod.ts";
import { makeDirectory, pattern, removeDirectory, withLibc } from "./helpers.ts";

const darwin = constantsFor("darwin", "arm64")!;
const errnoOf = (constants: PlatformConstants, name: string) =>
  Number(Object.entries(constants.errnoNames).find(([, n]) => n === name)![0]);

/** Raw calls that record what they are asked and answer from a script. */
function recordingCalls(answers: { fcntl?: string[]; fcntlPointer?: string[]; size?: number } = {}) {
  const log: string[] = [];
  const stores: { flags: number; posmode: number; offset: bigint; length: bigint }[] = [];
  let errno = 0;
  const answer = (queue: string[] | undefined) => {
    const next = queue?.shift() ?? "ok";
    if (next === "ok") return 0;
    errno = errnoOf(darwin, next);
    return -1;
  };
  const calls: DarwinRawCalls = {
    fsync: (fd) => (log.push(`fsync ${fd}`), 0),
    ftruncate: (fd, length) => (log.push(`ftruncate ${fd} ${length}`), 0),
    fstat: (fd, buffer) => {
      log.push(`fstat ${fd}`);
      new DataView(buffer.buffer).setBigInt64(darwin.stat.fileSize, BigInt(answers.size ?? 0), true);
      return 0;
    },
    fcntl: (fd, command, arg) => (log.push(`fcntl ${fd} ${command} ${arg}`), answer(answers.fcntl)),
    fcntlPointer: (fd, command, buffer) => {
      log.push(`fcntl ${fd} ${command} &fstore`);
      const view = new DataView(buffer.buffer);
      assert.equal(buffer.length, 32, "sizeof(fstore_t)");
      stores.push({
        flags: view.getUint32(0, true), posmode: view.getInt32(4, true),
        offset: view.getBigInt64(8, true), length: view.getBigInt64(16, true),
      });
      return answer(answers.fcntlPointer);
    },
    errno: () => errno,
  };
  return { calls, log, stores };
}

describe("F_FULLFSYNC (recorded)", () => {
  it("is all a durable fsync does where the file system supports it", () => {
    const { calls, log } = recordingCalls();
    assert.deepEqual(fullFsync(calls, darwin, 7), { result: 0, errno: 0 });
    assert.deepEqual(log, ["fcntl 7 51 0"]);
  });

  for (const unsupported of ["ENOTTY", "ENOTSUP", "EINVAL", "EBADF"]) {
    it(`falls back to fsync when the file system answers ${unsupported}`, () => {
      const { calls, log } = recordingCalls({ fcntl: [unsupported] });
      assert.deepEqual(fullFsync(calls, darwin, 7), { result: 0, errno: 0 });
      assert.deepEqual(log, ["fcntl 7 51 0", "fsync 7"]);
    });
  }

  it("reports EIO rather than hide it behind a plain fsync", () => {
    const { calls, log } = recordingCalls({ fcntl: ["EIO"] });
    assert.deepEqual(fullFsync(calls, darwin, 7), { result: -1, errno: 5 });
    assert.deepEqual(log, ["fcntl 7 51 0"]);
  });

  it("is a plain fsync on Linux", () => {
    const { calls, log } = recordingCalls();
    fullFsync(calls, constantsFor("linux", "x64")!, 7);
    assert.deepEqual(log, ["fsync 7"]);
  });
});

describe("F_PREALLOCATE as posix_fallocate (recorded)", () => {
  it("reserves contiguous blocks past the physical end, then sets the size", () => {
    const { calls, log, stores } = recordingCalls({ size: 4096 });
    assert.equal(preallocate(calls, darwin, 3, 4096, 12288), 0);
    assert.deepEqual(log, ["fcntl 3 42 &fstore", "fstat 3", "ftruncate 3 16384"]);
    // F_ALLOCATECONTIG | F_ALLOCATEALL, F_PEOFPOSMODE, offset 0 (required), length.
    assert.deepEqual(stores, [{ flags: 0x6, posmode: 3, offset: 0n, length: 12288n }]);
  });

  it("tries any blocks when no contiguous run is free", () => {
    const { calls, stores } = recordingCalls({ fcntlPointer: ["ENOSPC"], size: 0 });
    assert.equal(preallocate(calls, darwin, 3, 0, 8192), 0);
    assert.deepEqual(stores.map((store) => store.flags), [0x6, 0x4]);
  });

  it("a full disk is the answer: ENOSPC, and the size is left alone", () => {
    const { calls, log } = recordingCalls({ fcntlPointer: ["ENOSPC", "ENOSPC"] });
    assert.equal(preallocate(calls, darwin, 3, 0, 8192), 28);
    assert.ok(!log.some((line) => line.startsWith("ftruncate")), log.join(", "));
  });

  it("a shared-memory object (EBADF) or a volume without preallocation only gets the ftruncate", () => {
    for (const refusal of ["EBADF", "ENOTSUP", "EINVAL"]) {
      const { calls, log } = recordingCalls({ fcntlPointer: [refusal, refusal] });
      assert.equal(preallocate(calls, darwin, 3, 0, 8192), 0, refusal);
      assert.equal(log.at(-1), "ftruncate 3 8192", refusal);
    }
  });

  it("never shrinks a file someone else has grown meanwhile", () => {
    const { calls, log } = recordingCalls({ size: 65536 });
    assert.equal(preallocate(calls, darwin, 3, 0, 8192), 0);
    assert.ok(!log.some((line) => line.startsWith("ftruncate")), log.join(", "));
  });
});

describe("shared-memory names and sizes on macOS", () => {
  it("a name longer than PSHMNAMLEN is a TypeError that names macOS, before any syscall", () => {
    const longest = parseShmName("a".repeat(30));
    assertShmNameFits(longest, darwin);
    const tooLong = parseShmName("a".repeat(31));
    assert.throws(() => assertShmNameFits(tooLong, darwin), (error: Error) =>
      error instanceof TypeError && /at most 30 bytes on macOS \(darwin-arm64\)/.test(error.message));
    assertShmNameFits(tooLong, constantsFor("linux", "x64")!);
  });
});

describe("the Darwin paths against this kernel", () => {
  const directory = makeDirectory("memmapfs-darwin-paths-");
  after(() => removeDirectory(directory));
  const here = libc().constants;
  // Linux numbers (this kernel must understand the mmap flags), Darwin's shape.
  const darwinShaped: PlatformConstants = {
    ...here,
    MREMAP_MAYMOVE: 0,
    F_FULLFSYNC: darwin.F_FULLFSYNC,
    F_PREALLOCATE: darwin.F_PREALLOCATE,
    fstore: darwin.fstore,
    shmNameMaxBytes: darwin.shmNameMaxBytes,
    shmSizeFixedOnce: true,
  };
  const darwinLike = () => new FaultyLibc(bindRuntimeLibc(darwinShaped, ["mremap", "posixFallocate"]));

  it("has the shape: no mremap, posix_fallocate from F_PREALLOCATE", () => {
    const shaped = darwinLike();
    assert.equal(shaped.mremap, undefined);
    assert.equal(typeof shaped.posixFallocate, "function");
  });

  it("a file grows, is written, synced after every msync, resized and read back", () => {
    const file = `${directory}/grow.bin`;
    const data = pattern(300_000, 3);
    const counts = withLibc(darwinLike(), (shaped) => {
      using mapped = MappedFile.open(file, { mode: "readwrite", create: true, size: 4096 });
      mapped.writeAt(data.subarray(0, 4096), 0);
      mapped.sync();
      const first = shaped.calls("fsync");
      mapped.writeAt(data.subarray(4096), 4096); // grows without mremap
      mapped.sync();
      mapped.setUint8(0, data[0]);
      mapped.sync();
      mapped.resize(200_000);
      return { first, fsyncs: shaped.calls("fsync"), fallocates: shaped.calls("posixFallocate"), mremaps: shaped.calls("mremap") };
    });
    assert.ok(counts.first >= 1, "the first sync of a new file fsyncs it");
    // Every durable sync fsyncs (F_FULLFSYNC), not only those after a size change.
    assert.ok(counts.fsyncs >= counts.first + 2, `fsyncs ${JSON.stringify(counts)}`);
    assert.ok(counts.fallocates >= 1, "growth went through the F_PREALLOCATE path");
    assert.equal(counts.mremaps, 0);
    const onDisk = fs.readFileSync(file);
    assert.equal(onDisk.length, 200_000);
    assert.deepEqual(onDisk, Buffer.from(data.subarray(0, 200_000)));
  });

  it("a file-backed SharedMemory fsyncs on every sync", () => {
    const path = `${directory}/region.bin`;
    const fsyncs = withLibc(darwinLike(), (shaped) => {
      using region = SharedMemory.create({ path, size: 8192 });
      region.bytes[1] = 7;
      region.sync();
      const first = shaped.calls("fsync");
      region.bytes[2] = 9;
      region.sync();
      return [first, shaped.calls("fsync")];
    });
    assert.ok(fsyncs[1] > fsyncs[0], `second sync fsyncs too: ${fsyncs}`);
    assert.deepEqual([...fs.readFileSync(path).subarray(0, 3)], [0, 7, 9]);
  });

  it("a named object is sized once by its creator; growing it later says so, naming the platform", () => {
    const name = `psm_dp_${process.pid}`;
    withLibc(darwinLike(), () => {
      using region = SharedMemory.create({ name, size: 4096 });
      region.bytes[0] = 42;
      try {
        assert.throws(() => SharedMemory.create({ name, size: 8192, exclusive: false }), (error: Error) =>
          error instanceof MmapError && error.code === "EINVAL" &&
          error.message.includes(`on ${platformLabel(darwinShaped)} an object's size is set once`));
        using again = SharedMemory.create({ name, size: 4096, exclusive: false });
        assert.equal(again.size, 4096);
        assert.equal(again.bytes[0], 42, "the object is untouched");
      } finally {
        region.unlink();
      }
    });
  });

  it("a 31-byte name fails before shm_open is called", () => {
    withLibc(darwinLike(), (shaped) => {
      assert.throws(() => SharedMemory.create({ name: "n".repeat(31), size: 4096 }), TypeError);
      assert.equal(shaped.calls("shmOpen"), 0);
    });
  });
});
