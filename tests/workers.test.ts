// Mappings cross to worker threads as share() descriptors: each side maps the
// same file or region on its own, closing one never breaks the other, and
// posting a MappedFile or SharedMemory itself is a clear error.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { MappedFile, MmapError, SharedMemory } from "../mod.ts";
import { makeDirectory, mappingsOf, newDescriptors, openDescriptors, removeDirectory } from "./helpers.ts";

let directory: string;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

const CHILD = new URL("./worker_child.ts", import.meta.url);
const GiB = 2 ** 30;
const MiB = 2 ** 20;

function start(data: unknown): Worker {
  return new Worker(CHILD, { workerData: data });
}

const inboxes = new WeakMap<Worker, { queued: unknown[]; waiting: ((message: unknown) => void)[] }>();

/** The worker's next message; messages that arrive before anyone waits are kept in order. */
function nextMessage<T>(worker: Worker): Promise<T> {
  let inbox = inboxes.get(worker);
  if (!inbox) {
    const created = { queued: [] as unknown[], waiting: [] as ((message: unknown) => void)[] };
    inboxes.set(worker, created);
    worker.on("message", (message) => {
      const waiter = created.waiting.shift();
      if (waiter) waiter(message);
      else created.queued.push(message);
    });
    worker.on("error", (error) => {
      for (const waiter of created.waiting.splice(0)) waiter(Promise.reject(error));
    });
    inbox = created;
  }
  if (inbox.queued.length > 0) return Promise.resolve(inbox.queued.shift() as T);
  return new Promise((resolve) => inbox.waiting.push(resolve as (message: unknown) => void));
}

/** RssAnon of this process in KiB: a copy of the file into any heap shows here, mapped pages do not. */
function anonymousKiB(): number {
  const line = fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("RssAnon:"));
  return Number(line!.split(/\s+/)[1]);
}

describe("MappedFile across workers", () => {
  it("4 workers scan one 1 GiB file through their own mappings: same results, no copy", async () => {
    // Sparse: a marker (its MiB number) at the start of every MiB, zeros between.
    const file = path.join(directory, "big.bin");
    const fd = fs.openSync(file, "w");
    fs.ftruncateSync(fd, GiB);
    const marker = Buffer.alloc(4);
    for (let mib = 0; mib < 1024; mib++) {
      marker.writeUInt32LE(mib + 1);
      fs.writeSync(fd, marker, 0, 4, mib * MiB);
    }
    fs.closeSync(fd);
    const markers = [0, 1, 511, 512, 1000, 1023].map((mib) => mib * MiB);
    const owner = MappedFile.open(file);
    const shared = owner.share();
    const baseline = anonymousKiB();
    const quarter = GiB / 4;
    const workers = [0, 1, 2, 3].map((i) =>
      start({ task: "scan", shared, from: i * quarter, to: (i + 1) * quarter, markers })
    );
    // The owner lets go at once: the workers' mappings are their own.
    owner.close();
    const results = await Promise.all(workers.map((worker) => nextMessage<{ size: number; sum: number; markers: number[] }>(worker)));
    const grownKiB = anonymousKiB() - baseline;
    await Promise.all(workers.map(async (worker) => {
      worker.postMessage("close");
      assert.equal(await nextMessage(worker), "closed");
      await worker.terminate();
    }));
    for (const [i, result] of results.entries()) {
      assert.equal(result.size, GiB);
      // MiBs i*256+1 … (i+1)*256 of this quarter, each counted once.
      const first = i * 256 + 1;
      const last = (i + 1) * 256;
      assert.equal(result.sum, ((first + last) * 256) / 2, `worker ${i} sum`);
      assert.deepEqual(result.markers, [1, 2, 512, 513, 1001, 1024]);
    }
    // Four workers with their own engines cost tens of MiB; one copy of the file would be 1 GiB.
    assert.ok(grownKiB < 512 * 1024, `anonymous memory grew by ${grownKiB} KiB`);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("each side closes on its own", () => {
    const file = path.join(directory, "two-sides.bin");
    fs.writeFileSync(file, "left and right");
    const descriptors = openDescriptors();
    const left = MappedFile.open(file, { mode: "readwrite" });
    const right = MappedFile.fromShared(left.share());
    const view = right.subarray(0, 4);
    left.writeAt("LEFT", 0);
    assert.equal(new TextDecoder().decode(view), "LEFT", "readwrite sides meet in the page cache");
    left.close();
    assert.equal(new TextDecoder().decode(right.subarray(9, 14)), "right");
    right.close();
    assert.equal(view.byteLength, 0);
    assert.deepEqual(newDescriptors(descriptors), []);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("keeps offset, length, mode and window", () => {
    const file = path.join(directory, "range.bin");
    fs.writeFileSync(file, "0123456789abcdef");
    using original = MappedFile.open(file, { offset: 3, length: 10, window: 4096, checked: true });
    const shared = JSON.parse(JSON.stringify(original.share()));
    using copy = MappedFile.fromShared(shared);
    assert.equal(copy.size, 10);
    assert.equal(copy.mode, "readonly");
    assert.equal(new TextDecoder().decode(copy.subarray(0, 10)), "3456789abc");
    assert.deepEqual(copy.share(), original.share());
  });

  it("a MemMapFS handle shares too", async () => {
    const { MemMapFS } = await import("../mod.ts");
    fs.writeFileSync(path.join(directory, "cached.txt"), "from the cache");
    const memfs = new MemMapFS({ root: directory });
    using handle = memfs.open("cached.txt");
    using copy = MappedFile.fromShared(handle.share());
    assert.equal(new TextDecoder().decode(copy.bytes), "from the cache");
  });

  it("refuses a file replaced since share()", () => {
    const file = path.join(directory, "replaced.bin");
    fs.writeFileSync(file, "first version");
    using original = MappedFile.open(file);
    const shared = original.share();
    fs.writeFileSync(`${file}.new`, "other version");
    fs.renameSync(`${file}.new`, file);
    const descriptors = openDescriptors();
    assert.throws(() => MappedFile.fromShared(shared), (error: unknown) =>
      error instanceof MmapError && error.code === "ESTALE" && /replaced or removed/.test(error.message));
    assert.deepEqual(newDescriptors(descriptors), []);
  });

  it("refuses anonymous memory and what is not a descriptor", () => {
    using memory = MappedFile.anonymous(4096, { shared: true });
    assert.throws(() => memory.share(), { name: "TypeError", message: /SharedMemory\.create/ });
    assert.throws(() => MappedFile.fromShared({} as never), { name: "TypeError", message: /Descriptor must be what share\(\) returned/ });
    const file = path.join(directory, "bad-descriptor.bin");
    fs.writeFileSync(file, "x");
    using real = MappedFile.open(file);
    assert.throws(() => MappedFile.fromShared({ ...real.share(), length: -1 }), { name: "RangeError", message: /Descriptor\.length/ });
    assert.throws(() => MappedFile.fromShared({ ...real.share(), path: null } as never), { name: "TypeError", message: /Descriptor\.path/ });
  });

  it("posting a MappedFile itself throws a TypeError that points to share()", async () => {
    const file = path.join(directory, "posted.bin");
    fs.writeFileSync(file, "x");
    using mapped = MappedFile.open(file);
    const pointsToShare = /cannot be posted to a worker.*share\(\).*MappedFile\.fromShared/;
    assert.throws(() => structuredClone(mapped), { message: pointsToShare });
    const channel = new MessageChannel();
    try {
      assert.throws(() => channel.port1.postMessage(mapped), { name: "TypeError", message: pointsToShare });
    } finally {
      channel.port1.close();
      channel.port2.close();
    }
    const worker = new Worker("", { eval: true });
    try {
      assert.throws(() => worker.postMessage(mapped), { message: pointsToShare });
    } finally {
      await worker.terminate();
    }
  });
});

describe("SharedMemory across workers", () => {
  it("a worker maps an unlinked region through the owner's descriptor; each side closes on its own", async () => {
    const region = SharedMemory.create({ size: 4096 });
    region.unlink(); // anonymous shared memory from now on
    region.bytes[8] = 99;
    const worker = start({ task: "region", shared: region.share() });
    assert.equal(await nextMessage(worker), "ready");
    const counters = new Int32Array(region.bytes.buffer, 0, 2);
    assert.equal(Atomics.load(counters, 0), 1);
    assert.equal(Atomics.load(counters, 1), 1234);
    region.close();
    worker.postMessage("go");
    assert.deepEqual(await nextMessage(worker), { value: 1234, first: 99 });
    assert.equal(await nextMessage(worker), "closed");
    await worker.terminate();
  });

  it("falls back to the name once the owner closed, and refuses an object of the same name made since", () => {
    const region = SharedMemory.create({ size: 100 });
    const shared = region.share();
    region.bytes[0] = 5;
    region.close();
    {
      using again = SharedMemory.fromShared(shared);
      assert.equal(again.bytes[0], 5);
    }
    region.unlink();
    using impostor = SharedMemory.create({ name: shared.name!, size: 100 });
    assert.throws(() => SharedMemory.fromShared(shared), (error: unknown) => error instanceof MmapError && error.code === "ESTALE");
    impostor.unlink();
  });

  it("a file-backed region and a read-only one share too", () => {
    using region = SharedMemory.create({ path: path.join(directory, "region.bin"), size: 64 });
    using reader = SharedMemory.open(region.path!, { readonly: true });
    using copy = SharedMemory.fromShared(reader.share());
    region.bytes[3] = 3;
    assert.equal(copy.bytes[3], 3);
    assert.equal(copy.readonly, true);
    assert.throws(() => copy.sync(), TypeError);
    region.unlink();
  });

  it("posting a SharedMemory itself throws a TypeError that points to share()", () => {
    using region = SharedMemory.create({ size: 64 });
    assert.throws(() => structuredClone(region), { message: /SharedMemory cannot be posted.*SharedMemory\.fromShared/ });
    region.unlink();
  });
});
