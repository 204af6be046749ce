/**
 * Share a numpy array between Python and this process through SharedMemory:
 * we fill a float64 array, Python computes over the same memory with numpy
 * and writes its answer back — no copy, no pipe for the data.
 *
 * Run: `bun examples/numpy_shared.ts` (or with Deno or Node 26); needs python3
 * with numpy.
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { SharedMemory } from "../mod.ts";

const count = 1_000_000;
using region = SharedMemory.create({ size: 8 * (count + 1) });
try {
  const values = new Float64Array(region.bytes.buffer, 0, count + 1);
  for (let i = 0; i < count; i++) values[i] = Math.sin(i);
  // Python attaches by name; its resource tracker must not unlink our region.
  const python = `
import numpy as np
from multiprocessing import shared_memory, resource_tracker
shm = shared_memory.SharedMemory(name="${region.name}")
resource_tracker.unregister(shm._name, "shared_memory")
array = np.ndarray((${count + 1},), dtype=np.float64, buffer=shm.buf)
array[${count}] = array[:${count}].std()
print(f"numpy saw {array[:${count}].size} values, mean {array[:${count}].mean():.6f}")
del array
shm.close()
`;
  console.log(execFileSync("python3", ["-c", python], { encoding: "utf8" }).trim());
  console.log(`standard deviation written back by numpy: ${values[count].toFixed(6)}`);
} finally {
  region.unlink();
}
