// SharedRing: its contract in one process; no lost, duplicated or torn
// message between 2 producers and 2 consumers of mixed runtimes; Python on
// both ends; and producers and consumers killed with SIGKILL at random
// moments without blocking the ring.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClosedError, SharedFormatError, SharedMemory, SharedRing } from "../mod.ts";
import { runtime } from "./helpers.ts";
import { removeTracked, uniqueName } from "./shared_memory_helpers.ts";
import { otherRuntimes, runChild, sleep, startChild } from "./shm_sync_helpers.ts";

after(removeTracked);

const text = (bytes: Uint8Array | null) => bytes === null ? null : new TextDecoder().decode(bytes);

describe("SharedRing in one process", () => {
  it("pushes and pops whole messages in order, and reports full and empty", () => {
    using ring = SharedRing.create({ name: uniqueName("ring"), capacity: 3, maxMessage: 8 });
    assert.equal(ring.capacity, 4);
    assert.equal(ring.pop(), null);
    for (const message of ["a", "bb", "", "dddd"]) assert.equal(ring.push(message), true);
    assert.equal(ring.push("e"), false, "full");
    assert.equal(ring.length, 4);
    using peer = SharedRing.open(ring.name!);
    assert.deepEqual([text(peer.pop()), text(peer.pop()), text(peer.pop()), text(peer.pop())], ["a", "bb", "", "dddd"]);
    assert.equal(peer.pop(), null);
    // Around the ring many times: positions wrap through every slot.
    for (let i = 0; i < 1000; i++) {
      assert.equal(ring.push(new Uint8Array([i & 255, i >> 8])), true);
      assert.deepEqual(peer.pop(), new Uint8Array([i & 255, i >> 8]));
    }
    ring.unlink();
  });

  it("popInto fills a caller's buffer and leaves a message that does not fit", () => {
    using ring = SharedRing.create({ name: uniqueName("ring"), capacity: 4, maxMessage: 16 });
    ring.push("0123456789");
    const small = new Uint8Array(4);
    assert.throws(() => ring.popInto(small), RangeError);
    const target = new Uint8Array(16);
    assert.equal(ring.popInto(target), 10);
    assert.equal(text(target.subarray(0, 10)), "0123456789");
    assert.equal(ring.popInto(target), null);
    ring.unlink();
  });

  it("popWait and pushWait time out with null and false", () => {
    using ring = SharedRing.create({ name: uniqueName("ring"), capacity: 1 });
    assert.equal(ring.capacity, 2, "two slots at least");
    assert.equal(ring.popWait(10), null);
    assert.equal(ring.pushWait("x", 0), true);
    assert.equal(ring.pushWait("x2", 0), true);
    assert.equal(ring.pushWait("y", 10), false);
    assert.equal(text(ring.popWait(0)), "x");
    ring.unlink();
  });

  it("popAsync and async iteration deliver without blocking the event loop; close ends the iteration", async () => {
    using ring = SharedRing.create({ name: uniqueName("ring"), capacity: 8 });
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      if (ticks === 3) ring.push("after three ticks");
    }, 2);
    try {
      assert.equal(text(await ring.popAsync(20_000)), "after three ticks");
      assert.ok(ticks >= 3);
    } finally {
      clearInterval(timer);
    }
    ring.push("one");
    ring.push("two");
    const seen: string[] = [];
    setTimeout(() => ring.close(), 50);
    for await (const message of ring) seen.push(text(message)!);
    assert.deepEqual(seen, ["one", "two"]);
    SharedMemory.open(ring.name!).unlink();
  });

  it("refuses bad options, long messages, closed rings and memory holding no ring", () => {
    for (const capacity of [0, -1, 1.5, 2 ** 25, Number.NaN]) {
      assert.throws(() => SharedRing.create({ capacity }), RangeError, String(capacity));
    }
    assert.throws(() => SharedRing.create({ capacity: "8" as never }), TypeError);
    assert.throws(() => SharedRing.create(undefined as never), TypeError);
    assert.throws(() => SharedRing.create({ capacity: 4, maxMessage: 0 }), RangeError);
    const ring = SharedRing.create({ name: uniqueName("ring"), capacity: 4, maxMessage: 4 });
    assert.throws(() => ring.push("12345"), RangeError);
    assert.throws(() => ring.push(42 as never), TypeError);
    assert.throws(() => ring.popInto("x" as never), TypeError);
    ring.close();
    assert.throws(() => ring.push("1"), ClosedError);
    assert.throws(() => ring.pop(), ClosedError);
    ring.unlink();

    const name = uniqueName("ring");
    using plain = SharedMemory.create({ name, size: 4096 });
    assert.throws(() => SharedRing.open(name), SharedFormatError);
    using tiny = SharedMemory.create({ name: uniqueName("ring"), size: 16 });
    assert.throws(() => SharedRing.open(tiny.name!), SharedFormatError);
    // A ring of a future format version, and one whose header lies about its size.
    const ringName = uniqueName("ring");
    SharedRing.create({ name: ringName, capacity: 4 }).close();
    using raw = SharedMemory.open(ringName);
    const header = new Uint32Array(raw.bytes.buffer, raw.bytes.byteOffset, 8);
    header[1] = 2;
    assert.throws(() => SharedRing.open(ringName), /version 2/);
    header[1] = 1;
    header[2] = 1 << 20;
    assert.throws(() => SharedRing.open(ringName), SharedFormatError);
    header[2] = 4;
    SharedRing.open(ringName).close();
    plain.unlink();
    tiny.unlink();
    raw.unlink();
  });
});

/**
 * Message of producer `id` number `seq`: [id][seq u32 LE][payload], 5 + seq % 60
 * bytes, each payload byte a function of (id, seq, index) so a torn or mixed
 * message is caught.
 */
function makeMessage(id: number, seq: number, into: Uint8Array): Uint8Array {
  const length = 5 + (seq % 60);
  into[0] = id;
  into[1] = seq & 255;
  into[2] = (seq >>> 8) & 255;
  into[3] = (seq >>> 16) & 255;
  into[4] = seq >>> 24;
  for (let k = 5; k < length; k++) into[k] = (seq * 7 + k * 13 + id) & 255;
  return into.subarray(0, length);
}

function checkMessage(message: Uint8Array): [number, number] | null {
  if (message.length < 5) return null;
  const id = message[0];
  const seq = message[1] | (message[2] << 8) | (message[3] << 16) | (message[4] << 24);
  if (message.length !== 5 + (seq % 60)) return null;
  for (let k = 5; k < message.length; k++) if (message[k] !== ((seq * 7 + k * 13 + id) & 255)) return null;
  return [id, seq];
}

// The children get the same two functions, as the runtime prints them.
const messageCode = `${makeMessage}\n${checkMessage}\n`;

const producer = (ring: string, id: number, count: number) => `
import { SharedRing } from "../mod.ts";
${messageCode}
using ring = SharedRing.open(${JSON.stringify(ring)});
const buffer = new Uint8Array(64);
console.log("ready");
for (let seq = 0; seq < ${count}; seq++) {
  if (!ring.push(makeMessage(${id}, seq, buffer))) ring.pushWait(makeMessage(${id}, seq, buffer));
}
`;

/** Pops until the shared count of received messages reaches `total`; records each in `seen`. */
const consumer = (ring: string, seen: string, total: number, perProducer: number) => `
import { SharedMemory, SharedRing } from "../mod.ts";
${messageCode}
using ring = SharedRing.open(${JSON.stringify(ring)});
using seenRegion = SharedMemory.open(${JSON.stringify(seen)});
const counters = new Int32Array(seenRegion.bytes.buffer, seenRegion.bytes.byteOffset, 2);
const marks = seenRegion.bytes.subarray(8);
const target = new Uint8Array(64);
console.log("ready");
while (Atomics.load(counters, 0) < ${total}) {
  let length = ring.popInto(target);
  if (length === null) {
    const message = ring.popWait(20);
    if (message === null) continue;
    target.set(message);
    length = message.length;
  }
  const decoded = checkMessage(target.subarray(0, length));
  if (decoded === null || decoded[1] >= ${perProducer}) Atomics.add(counters, 1, 1);
  else Atomics.add(marks, decoded[0] * ${perProducer} + decoded[1], 1);
  Atomics.add(counters, 0, 1);
}
`;

async function exchange(
  producers: ("deno" | "bun" | "node" | "python3")[],
  consumers: ("deno" | "bun" | "node" | "python3")[],
  total: number,
  sources: { producer?: typeof producer; consumer?: typeof consumer } = {},
): Promise<void> {
  const perProducer = total / producers.length;
  const name = uniqueName("ring");
  const seenName = uniqueName("seen");
  using ring = SharedRing.create({ name, capacity: 1024, maxMessage: 64 });
  using seen = SharedMemory.create({ name: seenName, size: 8 + total });
  const children = [
    ...consumers.map((who) =>
      startChild(who, (who === "python3" ? pythonConsumer : sources.consumer ?? consumer)(name, seenName, total, perProducer))
    ),
    ...producers.map((who, id) => startChild(who, (who === "python3" ? pythonProducer : sources.producer ?? producer)(name, id, perProducer))),
  ];
  const outcomes = await Promise.all(children.map((child) => child.done));
  for (const outcome of outcomes) assert.equal(outcome.status, 0, outcome.stderr);
  const counters = new Int32Array(seen.bytes.buffer, seen.bytes.byteOffset, 2);
  const marks = seen.bytes.subarray(8);
  assert.equal(counters[1], 0, "no torn or foreign message");
  assert.equal(counters[0], total, "messages received");
  let missing = 0, duplicated = 0;
  for (let i = 0; i < total; i++) {
    if (marks[i] === 0) missing++;
    else if (marks[i] > 1) duplicated++;
  }
  assert.deepEqual({ missing, duplicated }, { missing: 0, duplicated: 0 });
  assert.equal(ring.pop(), null, "nothing left over");
  ring.unlink();
  seen.unlink();
}

// Python's side of the same test, through examples/shared_ring.py.
const pythonProducer = (ring: string, id: number, count: number) => `
import struct
from shared_ring import SharedRing
ring = SharedRing.open(${JSON.stringify(ring)})
print("ready", flush=True)
for seq in range(${count}):
    length = 5 + seq % 60
    message = bytes([${id}]) + struct.pack("<I", seq) + bytes((seq * 7 + k * 13 + ${id}) & 255 for k in range(5, length))
    ring.push_wait(message)
ring.close()
`;

const pythonConsumer = (ring: string, seen: string, total: number, perProducer: number) => `
import ctypes, struct
from multiprocessing import resource_tracker, shared_memory
from shared_ring import SharedRing, _add4, SEQ_CST
ring = SharedRing.open(${JSON.stringify(ring)})
seen = shared_memory.SharedMemory(name=${JSON.stringify(seen)})
resource_tracker.unregister(seen._name, "shared_memory")
anchor = (ctypes.c_char * seen.size).from_buffer(seen.buf)
base = ctypes.addressof(anchor)
print("ready", flush=True)
received = 0
while struct.unpack_from("<i", seen.buf, 0)[0] < ${total}:
    message = ring.pop_wait(0.02)
    if message is None:
        continue
    id, seq = message[0], struct.unpack_from("<I", message, 1)[0]
    good = len(message) == 5 + seq % 60 and seq < ${perProducer} and all(
        message[k] == (seq * 7 + k * 13 + id) & 255 for k in range(5, len(message)))
    if good:
        seen.buf[8 + id * ${perProducer} + seq] += 1
    else:
        _add4(base + 4, 1, SEQ_CST)
    _add4(base, 1, SEQ_CST)
anchor = None
ring.close()
seen.close()
`;

describe("SharedRing across processes", () => {
  // One million messages in the Bun suite (the fastest children); the other
  // suites run 400,000 with mixed runtimes so the whole suite stays quick.
  const total = runtime === "bun" ? 1_000_000 : 400_000;
  it(`2 producers and 2 consumers (${runtime}, ${otherRuntimes.join(", ")}) move ${total} messages: none lost, duplicated or torn`, {
    timeout: 600_000,
  }, async () => {
    await exchange([runtime, otherRuntimes[0]], [runtime, otherRuntimes[1]], total);
  });

  it("1,000,000 messages between 2 producers and 2 consumers of this runtime", { timeout: 600_000 }, async () => {
    await exchange([runtime, runtime], [runtime, runtime], runtime === "bun" ? 1_000_000 : 200_000);
  });

  it("Python feeds this runtime and this runtime feeds Python, through examples/shared_ring.py", {
    timeout: 600_000,
  }, async () => {
    await exchange(["python3", runtime], [runtime, "python3"], 20_000);
  });
});

describe("SharedRing never shows a message before it is whole", () => {
  it("a consumer polling an almost empty ring reads only whole 4 KiB messages", { timeout: 300_000 }, async () => {
    // Large messages make the copy slow, and four slots make every slot hold
    // another message's bytes before: a slot published before its copy ends
    // would be read here with a mix of old and new bytes.
    const name = uniqueName("ring");
    using ring = SharedRing.create({ name, capacity: 4, maxMessage: 4096 });
    const count = 20_000;
    const child = startChild(runtime, `
      import { SharedRing } from "../mod.ts";
      using ring = SharedRing.open(${JSON.stringify(name)});
      const message = new Uint8Array(4096);
      console.log("ready");
      for (let seq = 0; seq < ${count}; seq++) {
        message.fill(seq & 255);
        message[0] = seq >> 8;
        while (!ring.push(message)) {}
      }
    `);
    await child.ready;
    let torn = 0;
    for (let seq = 0; seq < count;) {
      const message = ring.pop();
      if (message === null) continue;
      const fill = seq & 255;
      if (message.length !== 4096 || message[0] !== seq >> 8 || message[1] !== fill || message[4095] !== fill ||
        message.some((byte, index) => index > 0 && byte !== fill)) torn++;
      seq++;
    }
    const outcome = await child.done;
    assert.equal(outcome.status, 0, outcome.stderr);
    assert.equal(torn, 0);
    ring.unlink();
  });
});

describe("SharedRing when processes die", () => {
  it("producers and consumers killed with SIGKILL at random moments (24 rounds) never tear a message or block the ring", {
    timeout: 600_000,
  }, async () => {
    const name = uniqueName("ring");
    using ring = SharedRing.create({ name, capacity: 8, maxMessage: 64 });
    const decoder = checkMessage;
    const killedConsumer = `
      import { SharedRing } from "../mod.ts";
      const ring = SharedRing.open(${JSON.stringify(name)});
      console.log("ready");
      for (;;) ring.popWait();
    `;
    for (let round = 0; round < 24; round++) {
      const who = round % 4 === 3 ? otherRuntimes[round % 2] : runtime;
      if (round % 2 === 0) {
        // A producer pushing as fast as the ring takes, killed mid-stream; this
        // process consumes meanwhile, so the producer is often inside a push.
        const child = startChild(who, producer(name, round, 1_000_000_000));
        await child.ready;
        const killAt = performance.now() + Math.random() * 30;
        let last = -1;
        while (performance.now() < killAt) {
          const message = ring.pop();
          if (message === null) continue;
          const decoded = decoder(message);
          assert.ok(decoded && decoded[0] === round && decoded[1] === last + 1, `round ${round}: message after ${last}`);
          last = decoded[1];
        }
        child.process.kill("SIGKILL");
        await child.done;
        // Drain: every message left is whole and in order, and the ring is not
        // stuck. "end" goes in as soon as there is room (the ring may be full,
        // and this process is its only consumer now).
        let endPushed = false;
        for (;;) {
          endPushed ||= ring.push("end");
          const message = endPushed ? ring.popWait(10_000) : ring.pop();
          if (message === null) {
            assert.ok(!endPushed, `round ${round}: the ring is blocked`);
            continue;
          }
          if (text(message) === "end") break;
          const decoded = decoder(message);
          assert.ok(decoded && decoded[0] === round && decoded[1] > last, `round ${round}: torn or repeated message`);
          last = decoded[1];
        }
      } else {
        // A consumer killed at a random moment: the ring must still take a full load.
        const child = startChild(who, killedConsumer);
        await child.ready;
        const killAt = performance.now() + Math.random() * 30;
        let pushed = 0;
        while (performance.now() < killAt) if (ring.push(`m${pushed}`)) pushed++;
        child.process.kill("SIGKILL");
        await child.done;
        while (ring.pop() !== null) { /* drain what it left */ }
        for (let i = 0; i < ring.capacity; i++) assert.ok(ring.pushWait(`fill${i}`, 10_000), `round ${round}: slot ${i} never freed`);
        for (let i = 0; i < ring.capacity; i++) assert.equal(text(ring.popWait(10_000)), `fill${i}`);
      }
    }
    ring.unlink();
  });

  it("a slot reserved by a producer that died before publishing is skipped, not delivered", async () => {
    using ring = SharedRing.create({ name: uniqueName("ring"), capacity: 4, maxMessage: 16 });
    using raw = SharedMemory.open(ring.name!);
    const words = new Int32Array(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength >> 2);
    const owners = new BigInt64Array(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength >> 3);
    // What a producer killed between taking tail and publishing leaves: tail
    // advanced, slot 0 still "free for position 0", its owner a dead thread.
    const child = startChild(runtime, `console.log(process.pid);`);
    const deadTid = Number((await child.done).stdout.trim());
    Atomics.store(words, 128 / 4, 1);
    owners[(256 + 8) / 8] = BigInt(deadTid);
    new Uint8Array(raw.bytes.buffer, 256 + 16, 4).set([0x78, 0x78, 0x78, 0x78]); // half-written bytes
    ring.push("after");
    assert.equal(ring.pop(), null, "not before the stall check");
    assert.equal(text(ring.popWait(10_000)), "after");
    assert.equal(ring.pop(), null);
    ring.unlink();
  });
});

it("runs children of the other runtimes", async () => {
  assert.equal((await runChild(otherRuntimes[0], `console.log("hi")`)).trim(), "hi");
});
