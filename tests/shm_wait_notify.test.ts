// wait / waitAsync / notify on SharedMemory and shared MappedFiles: Atomics
// semantics across processes of every runtime, the event loop left free,
// timeouts, and every bad argument refused before any syscall.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClosedError, MappedFile, SharedMemory } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";
import { removeTracked, uniqueName } from "./shared_memory_helpers.ts";
import { otherRuntimes, runtimeBinary, startChild, type Runtime } from "./shm_sync_helpers.ts";
import { runtime } from "./helpers.ts";
import * as path from "node:path";
import * as fs from "node:fs";

const directory = makeDirectory("memmapfs-wait-");
after(() => {
  removeTracked();
  removeDirectory(directory);
});

function words(region: { bytes: Uint8Array }): Int32Array {
  return new Int32Array(region.bytes.buffer, region.bytes.byteOffset, region.bytes.byteLength >> 2);
}

describe("wait and notify in one process", () => {
  it("reports not-equal, timed-out, and how many a notify woke", () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 4096 });
    words(region)[1] = 5;
    assert.equal(region.wait(4, 6), "not-equal");
    assert.equal(region.wait(4, 5, 20), "timed-out");
    assert.equal(region.wait(4, 5, 0), "timed-out");
    assert.equal(region.notify(4), 0);
    assert.equal(region.notify(4, 0), 0);
    // A uint32 value compares as the same 32 bits.
    words(region)[2] = -1;
    assert.equal(region.wait(8, 0xffff_ffff, 0), "timed-out");
    region.unlink();
  });

  it("waitAsync leaves the event loop free: a timer keeps firing until it notifies", async () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 4096 });
    const view = words(region);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (ticks === 5) {
        Atomics.store(view, 0, 1);
        region.notify(0);
      }
    }, 2);
    try {
      // Were the loop blocked, no tick would run, nobody would notify, and the
      // wait would end "timed-out" with ticks at 0.
      const result = await region.waitAsync(0, 0, 20_000);
      assert.equal(result, "ok");
      assert.ok(ticks >= 5, `ticks: ${ticks}`);
    } finally {
      clearInterval(timer);
    }
    region.unlink();
  });

  it("waitAsync settles at once for a word that differs, and times out", async () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    assert.equal(await region.waitAsync(0, 3), "not-equal");
    assert.equal(await region.waitAsync(0, 0, 0), "timed-out");
    assert.equal(await region.waitAsync(0, 0, 30), "timed-out");
    region.unlink();
  });

  it("several waitAsync on one word all wake with one notify", async () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    const pending = [0, 1, 2].map(() => region.waitAsync(0, 0, 20_000));
    let woken = 0;
    // Waiter threads start asynchronously: notify until all three are counted.
    for (let round = 0; round < 2000 && woken < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      woken += region.notify(0);
    }
    assert.deepEqual(await Promise.all(pending), ["ok", "ok", "ok"]);
    assert.equal(woken, 3);
    region.unlink();
  });

  it("close rejects a pending waitAsync with ClosedError", async () => {
    const region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    const pending = region.waitAsync(0, 0);
    region.close();
    await assert.rejects(pending, ClosedError);
    region.unlink();
  });

  it("works on shared MappedFiles: anonymous shared and file-backed", async () => {
    using memory = MappedFile.anonymous(4096, { shared: true });
    assert.equal(memory.wait(0, 0, 5), "timed-out");
    const woken = memory.waitAsync(8, 0, 20_000);
    memory.setInt32(8, 1, true);
    memory.notify(8);
    assert.equal(await woken, "ok");
    const file = path.join(directory, "words.bin");
    using mapped = MappedFile.open(file, { mode: "readwrite", create: true, size: 4096 });
    assert.equal(mapped.wait(4092, 0, 1), "timed-out");
    assert.equal(mapped.notify(4092), 0);
  });
});

describe("bad arguments, closed and foreign memory", () => {
  it("refuses offsets that are unaligned, negative, outside or not numbers", () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    for (const offset of [2, -4, 64, 62, 1.5, Number.NaN, 2 ** 60]) {
      assert.throws(() => region.wait(offset, 0, 0), RangeError, String(offset));
      assert.throws(() => region.notify(offset), RangeError, String(offset));
    }
    for (const offset of ["0", null, undefined, 0n]) {
      assert.throws(() => region.wait(offset as never, 0, 0), TypeError, String(offset));
    }
    assert.throws(() => region.wait(0, 2 ** 32), RangeError);
    assert.throws(() => region.wait(0, 1.5), RangeError);
    assert.throws(() => region.wait(0, "0" as never), TypeError);
    assert.throws(() => region.wait(0, 0, -1), RangeError);
    assert.throws(() => region.wait(0, 0, Number.NaN), TypeError);
    assert.throws(() => region.notify(0, -1), RangeError);
    assert.throws(() => region.notify(0, 1.5), RangeError);
    region.unlink();
  });

  it("waitAsync throws bad arguments at once, as Atomics.waitAsync does", () => {
    using region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    assert.throws(() => region.waitAsync(3, 0), RangeError);
    assert.throws(() => region.waitAsync(64, 0), RangeError);
    assert.throws(() => region.waitAsync(0, 0, -5), RangeError);
    region.unlink();
  });

  it("throws ClosedError after close", async () => {
    const region = SharedMemory.create({ name: uniqueName("wait"), size: 64 });
    region.close();
    assert.throws(() => region.wait(0, 0, 0), ClosedError);
    assert.throws(() => region.notify(0), ClosedError);
    assert.throws(() => region.waitAsync(0, 0), ClosedError);
    region.unlink();
    const memory = MappedFile.anonymous(64, { shared: true });
    memory.close();
    assert.throws(() => memory.notify(0), ClosedError);
  });

  it("refuses process-private and windowed mappings", () => {
    using privateMemory = MappedFile.anonymous(4096);
    assert.throws(() => privateMemory.wait(0, 0, 0), TypeError);
    assert.throws(() => privateMemory.notify(0), TypeError);
    const file = path.join(directory, "cow.bin");
    fs.writeFileSync(file, new Uint8Array(8192));
    using copy = MappedFile.open(file, { mode: "copyonwrite" });
    assert.throws(() => copy.notify(0), TypeError);
    using windowed = MappedFile.open(file, { mode: "readwrite", window: 4096 });
    assert.throws(() => windowed.notify(0), TypeError);
  });
});

const childSource = (name: string) => `
import { SharedMemory } from "../mod.ts";
const region = SharedMemory.open(${JSON.stringify(name)});
const words = new Int32Array(region.bytes.buffer, region.bytes.byteOffset, 16);
const mode = process.argv.at(-1);
Atomics.add(words, 1, 1);            // checked in
console.log("ready");
if (mode === "sync") {
  console.log(region.wait(0, 0, 60_000));
} else if (mode === "async") {
  // Nothing else keeps this process alive: the pending wait must.
  region.waitAsync(0, 0, 60_000).then((result) => console.log(result));
} else if (mode === "exit") {
  region.waitAsync(0, 0);           // never notified
  setTimeout(() => process.exit(0), 50);
}
`;

describe("across processes", () => {
  const cases: [Runtime, "sync" | "async"][] = [
    [runtime, "sync"],
    [runtime, "async"],
    ...otherRuntimes.map((other): [Runtime, "sync" | "async"] => [other, "async"]),
  ];
  for (const [who, mode] of cases) {
    it(`a ${who} child's ${mode} wait is woken by this process's notify`, { timeout: 120_000 }, async () => {
      const name = uniqueName("wait");
      using region = SharedMemory.create({ name, size: 64 });
      const child = startChild(who, childSource(name), [mode]);
      await child.ready;
      // The child may not sleep yet when "ready" arrives: notify (the word
      // stays 0, so only a notify can end its wait with "ok") until the kernel
      // reports it woke someone.
      let woken = 0;
      for (let round = 0; round < 4000 && woken === 0; round++) {
        woken = region.notify(0);
        if (woken === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(woken, 1);
      const outcome = await child.done;
      assert.equal(outcome.status, 0, outcome.stderr);
      assert.equal(outcome.stdout.trim().split("\n").at(-1), "ok");
      region.unlink();
    });
  }

  it("process.exit() with a wait pending ends the process", { timeout: 60_000 }, async () => {
    const name = uniqueName("wait");
    using region = SharedMemory.create({ name, size: 64 });
    const outcome = await startChild(runtime, childSource(name), ["exit"], 30_000).done;
    assert.equal(outcome.status, 0, `${outcome.signal} ${outcome.stderr}`);
    region.unlink();
  });

  it("knows every runtime's binary", () => {
    for (const who of ["deno", "bun", "node"] as Runtime[]) assert.ok(runtimeBinary(who).length > 0);
  });
});
