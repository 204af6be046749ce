/**
 * `SharedRing`: a bounded multi-producer, multi-consumer queue of byte
 * messages in shared memory, for any number of processes (and Python, see
 * `examples/shared_ring.py`). The format and its recovery rules are in
 * `ring_format.ts`.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { platform as activePlatform } from "../os/mod.ts";
import type { Platform } from "../os/platform.ts";
import { currentOwner, ownerAlive, packOwner, unpackOwner } from "./owner_identity.ts";
import {
  DEAD_LENGTH,
  HEADER_SIZE,
  HeaderWord,
  MAX_CAPACITY,
  MAX_MESSAGE,
  nextPowerOfTwo,
  RING_MAGIC,
  RING_VERSION,
  ringBytes,
  SLOT_HEADER,
  slotSizeFor,
} from "./ring_format.ts";
import { regionAddress, SharedMemory } from "./shared_memory.ts";
import { SharedFormatError } from "./sync_errors.ts";
import { notifyAddress, toTimeout, waitOnAddress } from "./wait_notify.ts";

/** How long a slot may stay claimed before its owner's life is checked. */
export const STALL_CHECK_MS = 20;

const encoder = new TextEncoder();

/**
 * Options of {@linkcode SharedRing.create}.
 *
 * @example
 * ```ts
 * import { SharedRing, type SharedRingOptions } from "@memmapfs/memmapfs";
 * const options: SharedRingOptions = { capacity: 1024, maxMessage: 64 };
 * using ring = SharedRing.create(options);
 * ring.unlink();
 * ```
 */
export interface SharedRingOptions {
  /** Shared-memory object name (random when neither name nor path is given). */
  name?: string;
  /** A file to hold the ring instead of a shared-memory object. */
  path?: string | URL;
  /** Messages the ring holds; rounded up to a power of two, at least 2 (see `ring.capacity`). */
  capacity: number;
  /** Largest message in bytes (default 1024). Every slot reserves this much. */
  maxMessage?: number;
  /** Mode of the new object or file (default 0o600). */
  permissions?: number;
}

/**
 * A bounded MPMC queue of byte messages shared by processes. A message is
 * delivered whole or not at all: a producer killed half-way leaves no torn
 * message (its slot is skipped), a consumer killed half-way loses only the
 * message it took.
 *
 * @example One process pushes, another pops
 * ```ts
 * import { SharedRing } from "@memmapfs/memmapfs";
 * using ring = SharedRing.create({ capacity: 64, maxMessage: 128 });
 * ring.push("hello");                            // elsewhere: SharedRing.open(ring.name!)
 * console.log(new TextDecoder().decode(ring.pop()!)); // "hello"
 * ring.unlink();
 * ```
 */
export class SharedRing implements Disposable, AsyncIterable<Uint8Array> {
  readonly #platform: Platform;
  readonly #region: SharedMemory;
  readonly #words: Int32Array;
  readonly #owners: BigInt64Array;
  readonly #bytes: Uint8Array;
  readonly #mask: number;
  readonly #slotSize: number;
  #me: bigint | undefined;
  /** Addresses of the header's futex words, by word index (validated once). */
  readonly #eventAddresses = new Map<number, bigint>();
  #stallPosition = -1;
  #stallSince = 0;
  /** Messages the ring holds: a power of two. */
  readonly capacity: number;
  /** The largest message, in bytes. */
  readonly maxMessage: number;

  private constructor(region: SharedMemory, capacity: number, maxMessage: number) {
    this.#platform = activePlatform();
    this.#region = region;
    const bytes = region.bytes;
    this.#bytes = bytes;
    this.#words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.#owners = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 3);
    this.capacity = capacity;
    this.maxMessage = maxMessage;
    this.#mask = capacity - 1;
    this.#slotSize = slotSizeFor(maxMessage);
  }

  /**
   * Creates a ring in a new shared-memory object (by `name`, random by
   * default) or file (`path`).
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ name: "ring_example", capacity: 100 });
   * console.log(ring.capacity); // 128
   * ring.unlink();
   * ```
   *
   * @throws {TypeError} For a bad option.
   * @throws {RangeError} For a capacity outside 1..2^24 or a maxMessage outside 1..2^30.
   * @throws {MmapError} When the object exists (EEXIST) or the OS refuses.
   */
  static create(options: SharedRingOptions): SharedRing {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Options must be an object with a capacity, got ${options === null ? "null" : typeof options}`);
    }
    const { capacity, maxMessage = 1024 } = options;
    assertCount(capacity, "capacity", MAX_CAPACITY);
    assertCount(maxMessage, "maxMessage", MAX_MESSAGE);
    // Vyukov's slot states need two slots at least: with one, "holds the
    // message of p" and "free for p + 1" would be the same seq.
    const slots = Math.max(2, nextPowerOfTwo(capacity));
    const region = SharedMemory.create({
      name: options.name,
      path: options.path,
      size: ringBytes(slots, maxMessage),
      permissions: options.permissions,
    });
    try {
      const ring = new SharedRing(region, slots, maxMessage);
      ring.#initialise();
      return ring;
    } catch (error) {
      region.close();
      region.unlink();
      throw error;
    }
  }

  /**
   * Opens a ring another process created, by name or path (as
   * `SharedMemory.open` reads them).
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 8 });
   * using peer = SharedRing.open(ring.name!);
   * peer.push(new Uint8Array([1, 2, 3]));
   * console.log(ring.pop()); // Uint8Array(3) [ 1, 2, 3 ]
   * ring.unlink();
   * ```
   *
   * @throws {SharedFormatError} When the memory holds no ring of this version.
   * @throws {MmapError} ENOENT when it does not exist.
   */
  static open(nameOrPath: string | URL): SharedRing {
    const region = SharedMemory.open(nameOrPath);
    try {
      return SharedRing.#validated(region);
    } catch (error) {
      region.close();
      throw error;
    }
  }

  static #validated(region: SharedMemory): SharedRing {
    const where = region.name ?? region.path;
    if (region.size < HEADER_SIZE) {
      throw new SharedFormatError(`"${where}" holds no SharedRing: ${region.size} bytes is smaller than a ring's header`);
    }
    const header = new Int32Array(region.bytes.buffer, region.bytes.byteOffset, HEADER_SIZE / 4);
    const magic = Atomics.load(header, HeaderWord.magic);
    if (magic !== RING_MAGIC) {
      throw new SharedFormatError(`"${where}" holds no SharedRing (its magic number differs, or it is still being created)`);
    }
    const version = header[HeaderWord.version];
    if (version !== RING_VERSION) {
      throw new SharedFormatError(`"${where}" holds a SharedRing of format version ${version}; this memmapfs reads version ${RING_VERSION}`);
    }
    const capacity = header[HeaderWord.capacity], maxMessage = header[HeaderWord.maxMessage];
    const sane = capacity >= 2 && capacity <= MAX_CAPACITY && (capacity & (capacity - 1)) === 0 &&
      maxMessage >= 1 && maxMessage <= MAX_MESSAGE && header[HeaderWord.slotSize] === slotSizeFor(maxMessage) &&
      header[HeaderWord.headerSize] === HEADER_SIZE && ringBytes(capacity, maxMessage) <= region.size;
    if (!sane) {
      throw new SharedFormatError(`"${where}" holds a corrupt SharedRing header (capacity ${capacity}, maxMessage ${maxMessage})`);
    }
    return new SharedRing(region, capacity, maxMessage);
  }

  #initialise(): void {
    const words = this.#words;
    words[HeaderWord.version] = RING_VERSION;
    words[HeaderWord.capacity] = this.capacity;
    words[HeaderWord.maxMessage] = this.maxMessage;
    words[HeaderWord.slotSize] = this.#slotSize;
    words[HeaderWord.headerSize] = HEADER_SIZE;
    for (let slot = 0; slot < this.capacity; slot++) words[this.#seqIndex(slot)] = slot;
    Atomics.store(words, HeaderWord.magic, RING_MAGIC);
  }

  /** The shared-memory name, or `null` for a file. */
  get name(): string | null {
    return this.#region.name;
  }

  /** The backing file, or `null` for a shared-memory object. */
  get path(): string | null {
    return this.#region.path;
  }

  /** Whether {@linkcode SharedRing.close} was called. */
  get closed(): boolean {
    return this.#region.closed;
  }

  /** Messages in the ring now (pushed, not yet popped): a snapshot. */
  get length(): number {
    this.#assertOpen();
    const used = (Atomics.load(this.#words, HeaderWord.tail) - Atomics.load(this.#words, HeaderWord.head)) | 0;
    return Math.max(0, Math.min(used, this.capacity));
  }

  #seqIndex(slot: number): number {
    return (HEADER_SIZE + slot * this.#slotSize) >>> 2;
  }

  #assertOpen(): void {
    if (this.#region.closed) throw new ClosedError(`SharedRing "${this.#region.name ?? this.#region.path}"`);
  }

  #identity(): bigint {
    return this.#me ??= packOwner(currentOwner(this.#platform));
  }

  /**
   * Adds a message; `false` when the ring is full. Strings are sent as UTF-8.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 2 });
   * console.log(ring.push("a"), ring.push("b"), ring.push("c")); // true true false
   * ring.unlink();
   * ```
   *
   * @throws {RangeError} When the message is longer than `maxMessage`.
   * @throws {ClosedError} After close.
   */
  push(message: Uint8Array | string): boolean {
    this.#assertOpen();
    return this.#push(this.#toBytes(message));
  }

  #toBytes(message: Uint8Array | string): Uint8Array {
    const bytes = typeof message === "string" ? encoder.encode(message) : message;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Message must be a Uint8Array or a string, got ${message === null ? "null" : typeof message}`);
    }
    if (bytes.length > this.maxMessage) {
      throw new RangeError(`Message of ${bytes.length} bytes is longer than the ring's maxMessage (${this.maxMessage})`);
    }
    return bytes;
  }

  #push(bytes: Uint8Array): boolean {
    const words = this.#words, owners = this.#owners;
    for (;;) {
      const position = Atomics.load(words, HeaderWord.tail);
      const slot = position & this.#mask;
      const seqIndex = this.#seqIndex(slot);
      const ownerIndex = (seqIndex >>> 1) + 1;
      const seq = Atomics.load(words, seqIndex);
      const lead = (seq - position) | 0;
      if (lead > 0) continue; // another producer advanced tail: read it again
      if (lead < 0) {
        // The slot still holds the previous lap: full, unless its consumer died mid-pop.
        if (!this.#reclaimFromDeadConsumer(seqIndex, ownerIndex, position)) return false;
        continue;
      }
      if (!this.#claim(ownerIndex, position)) continue;
      // Winning tail also proves the slot is still free for this position: no
      // one else pushed it, and consumers leave a reserved slot alone.
      if (Atomics.compareExchange(words, HeaderWord.tail, position, (position + 1) | 0) !== position) {
        Atomics.store(owners, ownerIndex, 0n);
        continue;
      }
      const data = (seqIndex << 2) + SLOT_HEADER;
      this.#bytes.set(bytes, data);
      Atomics.store(words, seqIndex + 1, bytes.length);
      Atomics.store(words, seqIndex, (position + 1) | 0); // published: whole from here on
      Atomics.store(owners, ownerIndex, 0n);
      this.#signal(HeaderWord.consumersSleeping, HeaderWord.dataEvents);
      return true;
    }
  }

  /**
   * Takes the owner word of a slot (0 → me); when a thread holds it that
   * stalled and is dead, takes it from that thread. False: try again.
   */
  #claim(ownerIndex: number, position: number): boolean {
    const me = this.#identity();
    const holder = Atomics.compareExchange(this.#owners, ownerIndex, 0n, me);
    if (holder === 0n) return true;
    if (!this.#stalledDead(position, holder)) return false;
    return Atomics.compareExchange(this.#owners, ownerIndex, holder, me) === holder;
  }

  /**
   * Whether `holder` has held up `position` for STALL_CHECK_MS and its thread
   * is gone. Cheap until then: one clock read.
   */
  #stalledDead(position: number, holder: bigint): boolean {
    if (holder === 0n) return false;
    const now = performance.now();
    if (this.#stallPosition !== position) {
      this.#stallPosition = position;
      this.#stallSince = now;
      return false;
    }
    if (now - this.#stallSince < STALL_CHECK_MS) return false;
    this.#stallSince = now;
    const { tid, startTime } = unpackOwner(holder);
    return !ownerAlive(this.#platform, tid, startTime);
  }

  /** A full slot whose consumer died after taking its message: free it for `position`. */
  #reclaimFromDeadConsumer(seqIndex: number, ownerIndex: number, position: number): boolean {
    const previous = (position - this.capacity) | 0;
    const words = this.#words;
    if (Atomics.load(words, seqIndex) !== ((previous + 1) | 0)) return false;
    if (((Atomics.load(words, HeaderWord.head) - previous) | 0) <= 0) return false; // not popped: really full
    const holder = Atomics.load(this.#owners, ownerIndex);
    if (!this.#stalledDead(position, holder)) return false;
    if (Atomics.compareExchange(this.#owners, ownerIndex, holder, this.#identity()) !== holder) return false;
    Atomics.store(words, seqIndex, position);
    Atomics.store(this.#owners, ownerIndex, 0n);
    this.#spaceFreed();
    return true;
  }

  #spaceFreed(): void {
    this.#signal(HeaderWord.producersSleeping, HeaderWord.spaceEvents);
  }

  /**
   * Wakes the other side's sleepers, if any said they sleep: the flag is
   * exchanged with 0, so a burst of pushes while a consumer wakes up costs one
   * system call, not one each. Safe without the bump when the flag was 0: a
   * sleeper raises it before its last look at the ring, so it either sees
   * this change or is seen here (all accesses are sequentially consistent).
   */
  #signal(sleepersWord: number, eventWord: number): void {
    if (Atomics.load(this.#words, sleepersWord) === 0 || Atomics.exchange(this.#words, sleepersWord, 0) === 0) return;
    Atomics.add(this.#words, eventWord, 1);
    notifyAddress(this.#platform, this.#eventAddress(eventWord), 0x7fff_ffff);
  }

  /** The futex word's address, straight to the kernel: region.notify/wait would re-check it each time. */
  #eventAddress(eventWord: number): bigint {
    let address = this.#eventAddresses.get(eventWord);
    if (address === undefined) {
      address = regionAddress(this.#region, eventWord * 4);
      this.#eventAddresses.set(eventWord, address);
    }
    return address;
  }

  /**
   * Removes the oldest message and returns a copy the caller owns; `null`
   * when there is none.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4 });
   * console.log(ring.pop()); // null
   * ring.unlink();
   * ```
   *
   * @throws {ClosedError} After close.
   */
  pop(): Uint8Array | null {
    this.#assertOpen();
    return this.#pop((data, length) => {
      // Not slice(): Deno's slice of foreign memory costs 2 µs for 64 bytes.
      const copy = new Uint8Array(length);
      copyOut(this.#bytes, data, length, copy);
      return copy;
    }, null);
  }

  /**
   * Removes the oldest message into `target` and returns its length, with no
   * allocation; `null` when there is none. A message longer than `target`
   * stays in the ring.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4, maxMessage: 16 });
   * const target = new Uint8Array(16);
   * ring.push("hi");
   * console.log(ring.popInto(target)); // 2
   * ring.unlink();
   * ```
   *
   * @throws {RangeError} When the next message does not fit in `target` (it stays).
   */
  popInto(target: Uint8Array): number | null {
    this.#assertOpen();
    if (!(target instanceof Uint8Array)) throw new TypeError("Target must be a Uint8Array");
    return this.#pop((data, length) => {
      copyOut(this.#bytes, data, length, target);
      return length;
    }, target.length);
  }

  #pop<T>(consume: (data: number, length: number) => T, room: number | null): T | null {
    const words = this.#words, owners = this.#owners;
    for (;;) {
      const position = Atomics.load(words, HeaderWord.head);
      const slot = position & this.#mask;
      const seqIndex = this.#seqIndex(slot);
      const ownerIndex = (seqIndex >>> 1) + 1;
      const seq = Atomics.load(words, seqIndex);
      const lead = (seq - ((position + 1) | 0)) | 0;
      if (lead > 0) continue; // another consumer advanced head
      if (lead < 0) {
        if (Atomics.load(words, HeaderWord.tail) === position) return null; // empty
        // Reserved by a producer still writing it, or one that died doing so.
        if (!this.#skipDeadProducer(seqIndex, ownerIndex, position)) return null;
        continue;
      }
      if (!this.#claim(ownerIndex, position)) continue;
      if (room !== null) {
        // Look before taking: a message that does not fit stays in the ring.
        const length = Atomics.load(words, seqIndex + 1);
        const current = Atomics.load(words, seqIndex) === ((position + 1) | 0) &&
          Atomics.load(words, HeaderWord.head) === position;
        if (current && length !== DEAD_LENGTH && length > room) {
          Atomics.store(owners, ownerIndex, 0n);
          throw new RangeError(`Target of ${room} bytes is too small for the next message (${length} bytes)`);
        }
      }
      // Winning head proves the slot still holds this position's message.
      if (Atomics.compareExchange(words, HeaderWord.head, position, (position + 1) | 0) !== position) {
        Atomics.store(owners, ownerIndex, 0n);
        continue;
      }
      const length = Atomics.load(words, seqIndex + 1);
      const result = length === DEAD_LENGTH ? undefined : consume((seqIndex << 2) + SLOT_HEADER, length);
      Atomics.store(words, seqIndex, (position + this.capacity) | 0);
      Atomics.store(owners, ownerIndex, 0n);
      this.#spaceFreed();
      if (result !== undefined) return result;
    }
  }

  /** A slot whose producer died after reserving it: publish it as DEAD so consumers skip it. */
  #skipDeadProducer(seqIndex: number, ownerIndex: number, position: number): boolean {
    const holder = Atomics.load(this.#owners, ownerIndex);
    if (!this.#stalledDead(position, holder)) return false;
    if (Atomics.compareExchange(this.#owners, ownerIndex, holder, this.#identity()) !== holder) return false;
    if (Atomics.load(this.#words, seqIndex) === position) {
      Atomics.store(this.#words, seqIndex + 1, DEAD_LENGTH);
      Atomics.store(this.#words, seqIndex, (position + 1) | 0);
    }
    Atomics.store(this.#owners, ownerIndex, 0n);
    return true;
  }

  /**
   * {@linkcode SharedRing.pop}, blocking this thread up to `timeoutMs`
   * (default: no limit) while the ring is empty; `null` on timeout.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4 });
   * console.log(ring.popWait(10)); // null, after 10 ms
   * ring.unlink();
   * ```
   */
  popWait(timeoutMs?: number): Uint8Array | null {
    const timeout = toTimeout(timeoutMs);
    return this.#blocking(() => this.pop(), HeaderWord.dataEvents, HeaderWord.consumersSleeping, timeout);
  }

  /**
   * {@linkcode SharedRing.push}, blocking this thread up to `timeoutMs`
   * (default: no limit) while the ring is full; `false` on timeout.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 2 });
   * ring.push("first");
   * ring.push("second");
   * console.log(ring.pushWait("third", 10)); // false: nobody popped
   * ring.unlink();
   * ```
   *
   * @throws {RangeError} When the message is longer than `maxMessage`.
   */
  pushWait(message: Uint8Array | string, timeoutMs?: number): boolean {
    this.#assertOpen();
    const bytes = this.#toBytes(message);
    const timeout = toTimeout(timeoutMs);
    return this.#blocking(() => this.#push(bytes) || null, HeaderWord.spaceEvents, HeaderWord.producersSleeping, timeout) ??
      false;
  }

  #blocking<T>(attempt: () => T | null, eventWord: number, sleepersWord: number, timeoutMs: number): T | null {
    const deadline = performance.now() + timeoutMs;
    const words = this.#words;
    for (;;) {
      const done = attempt();
      if (done !== null) return done;
      // No spinning before the sleep: measured on a busy two-CPU machine, a
      // spinner takes the CPU its peer needs (a 20 µs spin made the round
      // trip 8x slower, see bench/shared_ring_ipc.ts).
      Atomics.store(words, sleepersWord, 1);
      const event = Atomics.load(words, eventWord);
      const again = attempt();
      if (again !== null) return again;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return null;
      this.#assertOpen();
      waitOnAddress(this.#platform, this.#eventAddress(eventWord), event, Math.min(remaining, STALL_CHECK_MS * 5));
    }
  }

  /**
   * {@linkcode SharedRing.popWait} without blocking the event loop.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4 });
   * setTimeout(() => ring.push("later"), 5);
   * console.log(new TextDecoder().decode((await ring.popAsync(5_000))!)); // "later"
   * ring.unlink();
   * ```
   */
  async popAsync(timeoutMs?: number): Promise<Uint8Array | null> {
    const timeout = toTimeout(timeoutMs);
    const deadline = performance.now() + timeout;
    const words = this.#words;
    for (;;) {
      const message = this.pop();
      if (message) return message;
      Atomics.store(words, HeaderWord.consumersSleeping, 1);
      const event = Atomics.load(words, HeaderWord.dataEvents);
      const again = this.pop();
      if (again) return again;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return null;
      await this.#region.waitAsync(HeaderWord.dataEvents * 4, event, Math.min(remaining, STALL_CHECK_MS * 5));
    }
  }

  /**
   * Messages as they arrive, without blocking the event loop; ends when the
   * ring is closed.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4 });
   * ring.push("one");
   * for await (const message of ring) {
   *   console.log(new TextDecoder().decode(message)); // "one"
   *   break;
   * }
   * ring.unlink();
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (!this.closed) {
      let message: Uint8Array | null;
      try {
        message = await this.popAsync();
      } catch (error) {
        if (error instanceof ClosedError) return;
        throw error;
      }
      if (message) yield message;
    }
  }

  /**
   * Unmaps the ring; pending asynchronous pops reject with ClosedError (an
   * async iteration ends). The ring stays for other processes until
   * {@linkcode SharedRing.unlink}.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * const ring = SharedRing.create({ capacity: 4 });
   * ring.close();
   * console.log(ring.closed); // true
   * ring.unlink();
   * ```
   */
  close(): void {
    this.#region.close();
  }

  /**
   * Removes the ring's name (or file); processes that have it open keep
   * using it.
   *
   * @example
   * ```ts
   * import { SharedRing } from "@memmapfs/memmapfs";
   * using ring = SharedRing.create({ capacity: 4 });
   * ring.unlink();
   * ```
   */
  unlink(): void {
    this.#region.unlink();
  }

  /** Same as {@linkcode SharedRing.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Below this many bytes a loop copies faster than making a subarray to `set` from (measured). */
const LOOP_COPY_MAX = 256;

/** Copies `length` bytes at `start` of `from` to the start of `to`. */
function copyOut(from: Uint8Array, start: number, length: number, to: Uint8Array): void {
  if (length > LOOP_COPY_MAX) {
    to.set(from.subarray(start, start + length));
    return;
  }
  for (let i = 0; i < length; i++) to[i] = from[start + i];
}

function assertCount(value: unknown, name: string, max: number): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${name[0].toUpperCase()}${name.slice(1)} must be a number, got ${value === null ? "null" : typeof value}`);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name[0].toUpperCase()}${name.slice(1)} must be an integer from 1 to ${max}, got ${value}`);
  }
}
