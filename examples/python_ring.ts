/**
 * A Python worker feeds this process through a SharedRing: the JavaScript
 * side creates the ring, `python3` opens it by name with
 * `examples/shared_ring.py` and pushes results; this side pops them with a
 * blocking-free async iteration, then answers through a second ring.
 *
 * Run: `bun examples/python_ring.ts` (or Deno, or Node 26 with --experimental-ffi).
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { SharedRing } from "../mod.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
using results = SharedRing.create({ capacity: 64, maxMessage: 256 });
using replies = SharedRing.create({ capacity: 8, maxMessage: 256 });

const worker = spawn("python3", ["-c", `
import json
from shared_ring import SharedRing
results = SharedRing.open(${JSON.stringify(results.name)})
replies = SharedRing.open(${JSON.stringify(replies.name)})
for n in range(1, 6):
    results.push_wait(json.dumps({"n": n, "square": n * n}).encode())
results.push_wait(b"done")
print("python got:", replies.pop_wait(10.0).decode(), flush=True)
results.close()
replies.close()
`], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, PYTHONPATH: here } });

let sum = 0;
for await (const message of results) {
  const text = new TextDecoder().decode(message);
  if (text === "done") break;
  const { n, square } = JSON.parse(text);
  console.log(`${n}² = ${square}`);
  sum += square;
}
replies.push(`sum of squares ${sum}`);
await new Promise((resolve) => worker.on("close", resolve));
results.unlink();
replies.unlink();
