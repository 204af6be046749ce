// Interop with the machine's python3, both ways: multiprocessing.shared_memory
// (and a numpy array over it) by name, and mmap over a file by path.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { MmapError, SharedMemory } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";
import { removeTracked, shmExists, track } from "./shared_memory_helpers.ts";

const directory = makeDirectory("memmapfs-shm-python-");
after(() => {
  removeTracked();
  removeDirectory(directory);
});

// Python's resource tracker unlinks, when Python exits, every segment the
// process attached to — even one it did not create (3.11; 3.13 adds
// track=False). Python code attaching to our regions unregisters them.
const UNTRACK = `
from multiprocessing import resource_tracker
def untrack(shm):
    resource_tracker.unregister(shm._name, "shared_memory")
`;

function python(source: string): string {
  return execFileSync("python3", ["-c", source], { encoding: "utf8", timeout: 30_000 }).trim();
}

/** A long-running python3 we talk to line by line; killed if the test fails. */
function pythonSession(source: string): { child: ChildProcessWithoutNullStreams; next(): Promise<string> } {
  const child = spawn("python3", ["-c", source], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let newline; (newline = buffered.indexOf("\n")) !== -1;) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<string>((resolve) => child.on("close", () => resolve(`python exited: ${stderr}`)));
  return {
    child,
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift()!)
        : Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited]),
  };
}

describe("with Python's multiprocessing.shared_memory", () => {
  it("a region Python creates opens here by the name Python reports, and back", async () => {
    const session = pythonSession(`
import sys
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(create=True, size=10000)
shm.buf[:11] = b"from python"
print(shm.name, shm.size, flush=True)
sys.stdin.readline()
print(bytes(shm.buf[100:108]).decode(), flush=True)
shm.close()
shm.unlink()
print("unlinked", flush=True)
`);
    let name = "";
    try {
      const [reported, size] = (await session.next()).split(" ");
      name = track(reported);
      assert.match(name, /^psm_/, "Python reports names without the slash");
      {
        using region = SharedMemory.open(name);
        using slashed = SharedMemory.open(`/${name}`, { readonly: true });
        assert.equal(region.name, name);
        assert.equal(region.size, Number(size));
        assert.equal(new TextDecoder().decode(region.bytes.subarray(0, 11)), "from python");
        assert.equal(new TextDecoder().decode(slashed.bytes.subarray(0, 11)), "from python");
        new TextEncoder().encodeInto("from ts!", region.bytes.subarray(100));
      }
      session.child.stdin.write("go\n");
      assert.equal(await session.next(), "from ts!");
      assert.equal(await session.next(), "unlinked");
      assert.equal(shmExists(name), false);
      assert.throws(() => SharedMemory.open(name), (error: unknown) =>
        error instanceof MmapError && error.code === "ENOENT");
    } finally {
      session.child.kill();
    }
  });

  it("a region created here is a numpy array in Python that sees our writes", () => {
    using region = SharedMemory.create({ size: 8 * 1000 });
    track(region.name);
    const values = new Float64Array(region.bytes.buffer, region.bytes.byteOffset, 1000);
    for (let i = 0; i < values.length; i++) values[i] = i * 0.5;
    const output = python(`${UNTRACK}
import numpy as np
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(name="${region.name}")
untrack(shm)
array = np.ndarray((1000,), dtype=np.float64, buffer=shm.buf)
print(shm.name, array.sum(), array[999])
array[0] = 42.0
del array
shm.close()
`);
    assert.equal(output, `${region.name} 249750.0 499.5`);
    assert.equal(values[0], 42, "Python's write is visible here without a copy");
    assert.ok(shmExists(region.name!), "Python left our region alone");
    region.unlink();
  });

  it("Python can open a region by the name with its slash too", () => {
    using region = SharedMemory.create({ size: 64 });
    track(region.name);
    region.bytes.set([1, 2, 3]);
    const output = python(`${UNTRACK}
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(name="/${region.name}")
untrack(shm)
print(list(shm.buf[:3]))
shm.close()
`);
    assert.equal(output, "[1, 2, 3]");
    region.unlink();
  });
});

describe("with Python's mmap over a file", () => {
  it("a file-backed region created here is shared with Python", () => {
    const file = path.join(directory, "ours.bin");
    using region = SharedMemory.create({ path: file, size: 4096 });
    new TextEncoder().encodeInto("typescript", region.bytes);
    const output = python(`
import mmap
with open(${JSON.stringify(file)}, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    print(m[:10].decode(), len(m))
    m[20:26] = b"python"
    m.close()
`);
    assert.equal(output, "typescript 4096");
    assert.equal(new TextDecoder().decode(region.bytes.subarray(20, 26)), "python");
    assert.equal(fs.statSync(file).size, 4096);
    region.unlink();
  });

  it("a file Python creates and maps opens here by path", () => {
    const file = path.join(directory, "theirs.bin");
    python(`
import mmap, os
fd = os.open(${JSON.stringify(file)}, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192)
m[8000:8006] = b"python"
m.flush()
m.close()
os.close(fd)
`);
    using region = SharedMemory.open(file);
    assert.equal(region.size, 8192);
    assert.equal(new TextDecoder().decode(region.bytes.subarray(8000, 8006)), "python");
  });
});
