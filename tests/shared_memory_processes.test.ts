// SharedMemory across processes: children of this same runtime (Deno, Bun or
// Node) write into a region and the parent sees the bytes through a view it
// took before — no copy; Atomics from two processes add up exactly.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { SharedMemory } from "../mod.ts";
import { runScript, startScript } from "./helpers.ts";
import { removeTracked, shmExists, uniqueName } from "./shared_memory_helpers.ts";

after(removeTracked);

const child = (body: string) => `import { SharedMemory } from "../mod.ts";\n${body}`;

/** Resolves once `check` holds, polling without blocking the event loop. */
async function until(check: () => boolean, what: string, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("across processes", () => {
  it("a child of this runtime writes and the parent sees it without copying", () => {
    const name = uniqueName("proc");
    using region = SharedMemory.create({ name, size: 1 << 16 });
    const view = region.bytes; // taken before the child runs: the same memory, not a copy
    const result = runScript(child(`
      using region = SharedMemory.open(${JSON.stringify(name)});
      new TextEncoder().encodeInto("written by the child", region.bytes);
      region.bytes[65535] = 0xab;
    `));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(new TextDecoder().decode(view.subarray(0, 20)), "written by the child");
    assert.equal(view[65535], 0xab);
    region.unlink();
  });

  it("Atomics.add from two processes at once ends exactly right", async () => {
    const name = uniqueName("proc");
    using region = SharedMemory.create({ name, size: 4096 });
    const bytes = region.bytes;
    const counters = new Int32Array(bytes.buffer, bytes.byteOffset, 3);
    const rounds = 500_000;
    // Each child checks in and spins until both are in, so they really race;
    // a plain `counters[0]++` here would lose updates.
    const racer = child(`
      using region = SharedMemory.open(${JSON.stringify(name)});
      const bytes = region.bytes;
      const counters = new Int32Array(bytes.buffer, bytes.byteOffset, 3);
      Atomics.add(counters, 1, 1);
      while (Atomics.load(counters, 1) < 2) {}
      for (let i = 0; i < ${rounds}; i++) Atomics.add(counters, 0, 1);
      Atomics.add(counters, 2, 1);
    `);
    const outcomes = await Promise.all([startScript(racer), startScript(racer)]);
    for (const outcome of outcomes) assert.equal(outcome.status, 0, outcome.stderr);
    assert.equal(Atomics.load(counters, 2), 2, "both finished");
    assert.equal(Atomics.load(counters, 0), 2 * rounds);
    region.unlink();
  });

  it("a child's mapping keeps working after the parent unlinks the name", async () => {
    const name = uniqueName("proc");
    using region = SharedMemory.create({ name, size: 4096 });
    const flags = new Int32Array(region.bytes.buffer, region.bytes.byteOffset, 4);
    const running = startScript(child(`
      using region = SharedMemory.open(${JSON.stringify(name)});
      const flags = new Int32Array(region.bytes.buffer, region.bytes.byteOffset, 4);
      Atomics.store(flags, 0, 1);                      // mapped
      while (Atomics.load(flags, 1) === 0) {}          // wait for the unlink
      let reopen = "opened";
      try { SharedMemory.open(${JSON.stringify(name)}).close(); } catch (error) { reopen = (error as { code: string }).code; }
      Atomics.store(flags, 2, 42);                     // still writes into the region
      console.log(reopen);
    `));
    await until(() => Atomics.load(flags, 0) === 1, "the child to map the region");
    region.unlink();
    assert.equal(shmExists(name), false);
    Atomics.store(flags, 1, 1);
    const outcome = await running;
    assert.equal(outcome.status, 0, outcome.stderr);
    assert.equal(outcome.stdout.trim(), "ENOENT", "new opens fail once unlinked");
    assert.equal(Atomics.load(flags, 2), 42, "the child's write reached the parent");
  });

  it("a read-only child survives a stray write, which never reaches the object", () => {
    const name = uniqueName("proc");
    using region = SharedMemory.create({ name, size: 8192 });
    region.bytes[0] = 7;
    region.bytes[4096] = 8;
    const result = runScript(child(`
      using region = SharedMemory.open(${JSON.stringify(name)}, { readonly: true });
      region.bytes[0] = 99;
      console.log(region.bytes[0], region.bytes[4096]);
    `));
    assert.equal(result.status, 0, `${result.signal ?? ""} ${result.stderr}`);
    assert.equal(result.stdout.trim(), "99 8");
    assert.equal(region.bytes[0], 7);
    region.unlink();
  });

  it("descriptors do not leak into programs the process starts", () => {
    const name = uniqueName("proc");
    using region = SharedMemory.create({ name, size: 64 });
    const listing = spawnSync("bash", ["-c", "ls -l /proc/$$/fd"], { encoding: "utf8" });
    assert.equal(listing.status, 0, listing.stderr);
    assert.doesNotMatch(listing.stdout, new RegExp(name));
    region.unlink();
  });
});
