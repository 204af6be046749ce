// Interop with Python on this machine: multiprocessing.shared_memory (and a
// numpy array over it) and mmap over a file, in both directions.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { SharedMemory } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

// Python 3.11's resource tracker unlinks every segment a process touched when
// it exits, even one it only attached to; unregister what Python did not create.
const UNTRACK = `
from multiprocessing import resource_tracker
def untrack(shm):
    resource_tracker.unregister(shm._name, "shared_memory")
`;

function python(source: string): string {
  return execFileSync("python3", ["-c", source], { encoding: "utf8" }).trim();
}

describe("with Python's multiprocessing.shared_memory", () => {
  it("a region Python creates opens here by the name Python reports", async () => {
    const child = spawn("python3", [
      "-c",
      `
import sys
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(create=True, size=10000)
shm.buf[:11] = b"from python"
print(shm.name, shm.size, flush=True)
sys.stdin.readline()
print(bytes(shm.buf[100:108]).decode(), flush=True)
shm.close()
shm.unlink()
`,
    ], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = readLines(child.stdout);
    const [name, size] = (await lines.next()).split(" ");
    assert.doesNotMatch(name, /^\//, "Python reports names without the slash");
    {
      using region = SharedMemory.open(name);
      assert.ok(region.size >= Number(size));
      assert.equal(new TextDecoder().decode(region.bytes.subarray(0, 11)), "from python");
      new TextEncoder().encodeInto("from ts!", region.bytes.subarray(100));
    }
    child.stdin.write("go\n");
    assert.equal(await lines.next(), "from ts!");
    await new Promise((resolve) => child.on("close", resolve));
  });

  it("a region created here is a numpy array in Python that sees our writes", () => {
    using region = SharedMemory.create({ size: 8 * 1000 });
    try {
      const values = new Float64Array(region.bytes.buffer, 0, 1000);
      for (let i = 0; i < values.length; i++) values[i] = i * 0.5;
      const output = python(`${UNTRACK}
import numpy as np
from multiprocessing import shared_memory
shm = shared_memory.SharedMemory(name="${region.name}")
untrack(shm)
array = np.ndarray((1000,), dtype=np.float64, buffer=shm.buf)
print(array.sum(), array[999])
array[0] = 42.0
del array
shm.close()
`);
      assert.equal(output, "249750.0 499.5");
      assert.equal(values[0], 42, "Python's write is visible here");
    } finally {
      region.unlink();
    }
  });

  it("a file-backed region is shared with Python's mmap", () => {
    const directory = makeDirectory();
    try {
      const file = path.join(directory, "shared.bin");
      using region = SharedMemory.create({ path: file, size: 4096 });
      new TextEncoder().encodeInto("typescript", region.bytes);
      const output = python(`
import mmap
with open(${JSON.stringify(file)}, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    print(m[:10].decode())
    m[20:26] = b"python"
    m.close()
`);
      assert.equal(output, "typescript");
      assert.equal(new TextDecoder().decode(region.bytes.subarray(20, 26)), "python");
      assert.equal(fs.statSync(file).size, 4096);
    } finally {
      removeDirectory(directory);
    }
  });
});

/** Reads a stream line by line. */
function readLines(stream: NodeJS.ReadableStream): { next(): Promise<string> } {
  let buffered = "";
  const waiting: ((line: string) => void)[] = [];
  const ready: string[] = [];
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else ready.push(line);
    }
  });
  return {
    next: () =>
      ready.length > 0
        ? Promise.resolve(ready.shift()!)
        : new Promise((resolve) => waiting.push(resolve)),
  };
}
