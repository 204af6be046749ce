// SharedMutex: the lock's contract in one process, mutual exclusion over
// 100,000 increments from 4 processes of mixed runtimes, and recovery from
// holders killed with SIGKILL at random moments.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ClosedError,
  LockTimeoutError,
  MappedFile,
  MutexOwnershipError,
  SharedFormatError,
  SharedMemory,
  SharedMutex,
} from "../mod.ts";
import { runtime } from "./helpers.ts";
import { removeTracked, uniqueName } from "./shared_memory_helpers.ts";
import { otherRuntimes, type Runtime, sleep, startChild } from "./shm_sync_helpers.ts";

after(removeTracked);

describe("SharedMutex in one process", () => {
  it("locks, refuses a second locker, unlocks, and tells a guard from a stale one", async () => {
    using region = SharedMemory.create({ name: uniqueName("mutex"), size: 4096 });
    const mutex = SharedMutex.create(region, 64);
    const other = SharedMutex.at(region, 64);
    const guard = mutex.lock();
    assert.equal(guard.previousOwnerDied, false);
    assert.equal(guard.held, true);
    assert.equal(mutex.locked, true);
    // The same thread through another handle: an error, not a wait forever.
    assert.throws(() => other.tryLock(), MutexOwnershipError);
    assert.throws(() => other.lock(10), MutexOwnershipError);
    assert.throws(() => mutex.lock(), MutexOwnershipError);
    assert.throws(() => other.unlock(), MutexOwnershipError);
    guard.unlock();
    assert.equal(guard.held, false);
    assert.throws(() => guard.unlock(), MutexOwnershipError);
    assert.throws(() => mutex.unlock(), MutexOwnershipError);
    {
      using second = other.tryLock();
      assert.ok(second);
    }
    assert.equal(other.locked, false);
    assert.equal(mutex.withLock(() => 42), 42);
    assert.throws(() => mutex.withLock(() => { throw new Error("inside"); }), /inside/);
    assert.equal(mutex.locked, false, "released after fn threw");
    assert.equal(await mutex.withLock(async () => "later"), "later");
    assert.equal(await mutex.withLockAsync(async () => 7), 7);
    const asyncGuard = await mutex.lockAsync(1_000);
    asyncGuard[Symbol.dispose]();
    asyncGuard[Symbol.dispose](); // a second dispose does nothing
    region.unlink();
  });

  it("lives in a shared anonymous MappedFile too", () => {
    using memory = MappedFile.anonymous(4096, { shared: true });
    const mutex = SharedMutex.create(memory, 0);
    assert.equal(mutex.withLock((guard) => guard.previousOwnerDied), false);
  });

  it("refuses bad offsets, memory without a mutex, closed and private regions", () => {
    using region = SharedMemory.create({ name: uniqueName("mutex"), size: 64 });
    for (const offset of [2, -4, 52, 64, 1.5]) {
      assert.throws(() => SharedMutex.create(region, offset), RangeError, String(offset));
    }
    assert.throws(() => SharedMutex.create(region, "0" as never), TypeError);
    assert.throws(() => SharedMutex.create({} as never, 0), TypeError);
    assert.throws(() => SharedMutex.create(null as never, 0), TypeError);
    assert.throws(() => SharedMutex.at(region, 16), SharedFormatError);
    const mutex = SharedMutex.create(region, 48);
    assert.throws(() => mutex.lock(-1), RangeError);
    assert.throws(() => mutex.withLock("no" as never), TypeError);
    using privateMemory = MappedFile.anonymous(4096);
    assert.throws(() => SharedMutex.create(privateMemory, 0), TypeError);
    region.close();
    assert.throws(() => mutex.tryLock(), ClosedError);
    assert.throws(() => SharedMutex.at(region, 48), ClosedError);
    region.unlink();
  });
});

const incrementer = (name: string, rounds: number) => `
import { SharedMemory, SharedMutex } from "../mod.ts";
using region = SharedMemory.open(${JSON.stringify(name)});
const mutex = SharedMutex.at(region, 0);
const words = new Int32Array(region.bytes.buffer, region.bytes.byteOffset + 64, 4);
Atomics.add(words, 2, 1);
while (Atomics.load(words, 2) < 4) {}          // all four start together
for (let i = 0; i < ${rounds}; i++) {
  using guard = mutex.lock();
  // A plain read-modify-write with a window: two holders at once lose updates.
  const value = words[0];
  words[1] = value;
  words[0] = value + 1;
}
`;

describe("SharedMutex across processes", () => {
  it("gives mutual exclusion over 100,000 increments from 4 processes", { timeout: 300_000 }, async () => {
    const name = uniqueName("mutex");
    using region = SharedMemory.create({ name, size: 4096 });
    SharedMutex.create(region, 0);
    const perChild = 25_000;
    const runtimes: Runtime[] = [runtime, runtime, ...otherRuntimes];
    const outcomes = await Promise.all(runtimes.map((who) => startChild(who, incrementer(name, perChild)).done));
    for (const outcome of outcomes) assert.equal(outcome.status, 0, outcome.stderr);
    const words = new Int32Array(region.bytes.buffer, region.bytes.byteOffset + 64, 4);
    assert.equal(words[0], 4 * perChild);
    region.unlink();
  });

  it("recovers from holders killed with SIGKILL at random moments (20 rounds)", { timeout: 300_000 }, async () => {
    const name = uniqueName("mutex");
    using region = SharedMemory.create({ name, size: 4096 });
    const mutex = SharedMutex.create(region, 0);
    // The data the lock guards: two counters a holder keeps equal, updated one
    // at a time with a pause between, so a holder killed mid-update leaves
    // them unequal — which only a guard with previousOwnerDied may see.
    const words = new Int32Array(region.bytes.buffer, region.bytes.byteOffset + 64, 2);
    const holder = `
      import { SharedMemory, SharedMutex } from "../mod.ts";
      const region = SharedMemory.open(${JSON.stringify(name)});
      const mutex = SharedMutex.at(region, 0);
      const words = new Int32Array(region.bytes.buffer, region.bytes.byteOffset + 64, 2);
      const nap = new Int32Array(new SharedArrayBuffer(4));
      let announced = false;
      for (;;) {
        const guard = mutex.lock();
        words[0]++;
        Atomics.wait(nap, 0, 0, 1);                 // mid-update for a while
        words[1]++;
        if (!announced) { console.log("ready"); announced = true; }
        guard.unlock();
      }
    `;
    let diedHolding = 0;
    for (let round = 0; round < 20; round++) {
      const who = round % 3 === 0 ? otherRuntimes[round % 2] : runtime;
      const child = startChild(who, holder);
      await child.ready;
      await sleep(Math.random() * 20);
      child.process.kill("SIGKILL");
      const outcome = await child.done;
      assert.equal(outcome.signal, "SIGKILL", outcome.stderr);
      using guard = mutex.lock(30_000);
      if (guard.previousOwnerDied) {
        diedHolding++;
        words[1] = words[0]; // the repair
      }
      assert.equal(words[0], words[1], `round ${round}: consistent unless the holder died`);
    }
    // The holder spends nearly all its time inside the lock.
    assert.ok(diedHolding >= 1, `holders died holding the lock in ${diedHolding} of 20 rounds`);
    region.unlink();
  });

  it("a waiter blocked on a holder that dies takes the lock over", { timeout: 120_000 }, async () => {
    const name = uniqueName("mutex");
    using region = SharedMemory.create({ name, size: 4096 });
    const mutex = SharedMutex.create(region, 0);
    const child = startChild(runtime, `
      import { SharedMemory, SharedMutex } from "../mod.ts";
      const region = SharedMemory.open(${JSON.stringify(name)});
      SharedMutex.at(region, 0).lock();
      console.log("ready");
      setInterval(() => {}, 1000);
    `);
    await child.ready;
    assert.equal(mutex.tryLock(), null, "a live holder keeps it");
    await assert.rejects(mutex.lockAsync(30), LockTimeoutError);
    assert.throws(() => mutex.lock(30), LockTimeoutError);
    const waiting = mutex.lockAsync(60_000);
    await sleep(20);
    child.process.kill("SIGKILL");
    const guard = await waiting;
    assert.equal(guard.previousOwnerDied, true);
    guard.unlock();
    await child.done;
    region.unlink();
  });
});
