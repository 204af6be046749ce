/**
 * `SharedMutex`: a lock in 16 bytes of shared memory that threads of any
 * process mapping the region can take, and that survives its holder's death.
 *
 * Layout (4-byte aligned, little-endian 32-bit words):
 *
 * | offset | word                                                           |
 * |--------|----------------------------------------------------------------|
 * | 0      | state: holder's thread id (bits 0-29), WAITERS (bit 31); 0 free |
 * | 4      | magic `0x3158544d` ("MTX1"), written last by `create`          |
 * | 8      | holder's thread id again, published after acquiring; 0 free   |
 * | 12     | holder's thread start time (low 32 bits of clock ticks)        |
 *
 * The lock is a futex mutex (Drepper's "Futexes are tricky", mutex 2) whose
 * locked value is the holder's thread id rather than 1, as the kernel's own
 * PI and robust futexes do (`FUTEX_TID_MASK`), so any process can tell who
 * holds it from the one word it compares and swaps.
 *
 * Robustness, and why not the kernel's: Linux releases robust futexes of a
 * dying thread by walking a list registered with `set_robust_list`, but that
 * list is per thread and glibc already registers its own for every thread;
 * replacing it from JavaScript would break glibc's robust pthread mutexes.
 * So liveness is checked instead (boost.interprocess's robust emulation, plus
 * a start-time check against thread-id reuse; see `owner_identity.ts`): a
 * waiter waits in slices of {@linkcode LIVENESS_CHECK_MS}, and when a slice
 * ends with the same holder it asks the kernel whether that thread still
 * lives; `tryLock` asks at once. A dead holder's lock is taken over with one
 * compare-and-swap (so exactly one waiter wins it) and the winner is told:
 * its guard has `previousOwnerDied === true`, and the data the lock protects
 * may be half-updated — repair it before unlocking. Unlike
 * `pthread_mutex_consistent`, no extra call is needed: unlocking the guard
 * makes the mutex ordinary again.
 *
 * Limits: a holder that is stopped (SIGSTOP, a debugger) is alive and keeps
 * the lock; a holder whose start time cannot be read is checked by thread id
 * alone; detection takes up to one liveness slice after the death.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import { platform as activePlatform } from "../os/mod.ts";
import type { Platform } from "../os/platform.ts";
import { currentOwner, type OwnerIdentity, ownerAlive } from "./owner_identity.ts";
import { LockTimeoutError, MutexOwnershipError, SharedFormatError } from "./sync_errors.ts";
import { assertWordOffset, toTimeout, type WaitResult } from "./wait_notify.ts";

/** How long a waiter sleeps before it checks whether the holder still lives. */
export const LIVENESS_CHECK_MS = 50;

const MAGIC = 0x3158544d;
const TID_MASK = 0x3fff_ffff;
const WAITERS = 0x8000_0000 | 0;
const STATE = 0, MAGIC_WORD = 1, HOLDER = 2, HOLDER_START = 3;

/**
 * What a {@linkcode SharedMutex} (or a `SharedRing`) lives in: a
 * `SharedMemory` or a shared `MappedFile`.
 *
 * @example
 * ```ts
 * import { SharedMemory, type WaitableRegion } from "@memmapfs/memmapfs";
 * using memory = SharedMemory.create({ size: 4096 });
 * const region: WaitableRegion = memory;
 * console.log(region.size); // 4096
 * memory.unlink();
 * ```
 */
export interface WaitableRegion {
  /** Bytes in the region. */
  readonly size: number;
  /** Whether the region was closed. */
  readonly closed: boolean;
  /** A zero-copy view of `[start, end)`. */
  subarray(start: number, end?: number): Uint8Array;
  /** Blocks while the word at `byteOffset` holds `expected` (see `SharedMemory.wait`). */
  wait(byteOffset: number, expected: number, timeoutMs?: number): WaitResult;
  /** {@linkcode WaitableRegion.wait} without blocking the event loop. */
  waitAsync(byteOffset: number, expected: number, timeoutMs?: number): Promise<WaitResult>;
  /** Wakes up to `count` waiters on the word at `byteOffset`. */
  notify(byteOffset: number, count?: number): number;
}

/**
 * A held {@linkcode SharedMutex}: release it with `unlock()` or `using`.
 *
 * @example
 * ```ts
 * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 64 });
 * const mutex = SharedMutex.create(region, 0);
 * {
 *   using guard = mutex.lock();
 *   if (guard.previousOwnerDied) { /* repair the data it protects *\/ }
 * } // unlocked here
 * region.unlink();
 * ```
 */
export class MutexGuard implements Disposable {
  readonly #mutex: SharedMutex;
  /**
   * The holder before this one died while holding the lock: what it protects
   * may be half-updated. Repair it before unlocking.
   */
  readonly previousOwnerDied: boolean;

  /** @internal Made by {@linkcode SharedMutex}. */
  constructor(mutex: SharedMutex, previousOwnerDied: boolean) {
    this.#mutex = mutex;
    this.previousOwnerDied = previousOwnerDied;
  }

  /** Whether this guard still holds the lock. */
  get held(): boolean {
    return this.#mutex.heldBy(this);
  }

  /**
   * Releases the lock.
   *
   * @throws {MutexOwnershipError} When this guard no longer holds it.
   */
  unlock(): void {
    this.#mutex.unlockGuard(this);
  }

  /** Releases the lock if this guard still holds it. */
  [Symbol.dispose](): void {
    if (this.held) this.unlock();
  }
}

/**
 * A mutual-exclusion lock in 16 bytes of a shared region, for threads of any
 * number of processes; robust against a holder killed while holding it.
 *
 * @example Take the lock around an update other processes also make
 * ```ts
 * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 4096 });
 * const mutex = SharedMutex.create(region, 0);       // others: SharedMutex.at(region, 0)
 * const counter = new DataView(region.bytes.buffer, 16, 8);
 * mutex.withLock(() => counter.setFloat64(0, counter.getFloat64(0) + 1));
 * console.log(counter.getFloat64(0)); // 1
 * region.unlink();
 * ```
 */
export class SharedMutex {
  /** Bytes a mutex takes in its region. */
  static readonly byteLength = 16;
  readonly #platform: Platform;
  readonly #region: WaitableRegion;
  readonly #byteOffset: number;
  #words: Int32Array | undefined;
  #guard: MutexGuard | undefined;

  private constructor(platform: Platform, region: WaitableRegion, byteOffset: number) {
    this.#platform = platform;
    this.#region = region;
    this.#byteOffset = byteOffset;
  }

  /**
   * Initialises a free mutex at `byteOffset` (4-aligned, 16 bytes) of
   * `region` and returns it. Call it once, before other processes attach
   * with {@linkcode SharedMutex.at}; creating over a held mutex frees it.
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 16);
   * console.log(mutex.tryLock() !== null); // true
   * region.unlink();
   * ```
   *
   * @throws {TypeError} When `region` is not a SharedMemory or a shared, unwindowed MappedFile.
   * @throws {RangeError} When `byteOffset` is not a multiple of 4 with 16 bytes inside the region.
   * @throws {ClosedError} When the region is closed.
   */
  static create(region: WaitableRegion, byteOffset: number): SharedMutex {
    const mutex = SharedMutex.#checked(region, byteOffset);
    const words = mutex.#view();
    Atomics.store(words, MAGIC_WORD, 0);
    Atomics.store(words, HOLDER, 0);
    Atomics.store(words, HOLDER_START, 0);
    Atomics.store(words, STATE, 0);
    Atomics.store(words, MAGIC_WORD, MAGIC);
    return mutex;
  }

  /**
   * Attaches to the mutex another process (or this one) created at
   * `byteOffset` of `region`.
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * SharedMutex.create(region, 0);
   * using other = SharedMemory.open(region.name!);
   * const mutex = SharedMutex.at(other, 0);
   * mutex.withLock(() => console.log("held"));
   * region.unlink();
   * ```
   *
   * @throws {SharedFormatError} When no mutex was created there.
   * @throws {TypeError} When `region` is not a SharedMemory or a shared, unwindowed MappedFile.
   * @throws {RangeError} When `byteOffset` is not a multiple of 4 with 16 bytes inside the region.
   */
  static at(region: WaitableRegion, byteOffset: number): SharedMutex {
    const mutex = SharedMutex.#checked(region, byteOffset);
    if (Atomics.load(mutex.#view(), MAGIC_WORD) !== MAGIC) {
      throw new SharedFormatError(
        `No SharedMutex at byte ${byteOffset} of the region (its magic word differs): create it with SharedMutex.create first`,
      );
    }
    return mutex;
  }

  static #checked(region: WaitableRegion, byteOffset: number): SharedMutex {
    assertRegion(region);
    if (region.closed) throw new ClosedError("The region of the SharedMutex");
    assertWordOffset(byteOffset, region.size);
    if (byteOffset + SharedMutex.byteLength > region.size) {
      throw new RangeError(
        `ByteOffset ${byteOffset} leaves no room for a SharedMutex: it needs 16 bytes and the region has ${region.size}`,
      );
    }
    region.notify(byteOffset, 0); // refuses private and windowed mappings, and platforms without futex
    return new SharedMutex(activePlatform(), region, byteOffset);
  }

  /** The four words, viewed again after the region's views were replaced. */
  #view(): Int32Array {
    if (this.#region.closed) throw new ClosedError("The region of the SharedMutex");
    const words = this.#words;
    if (words && words.length === 4) return words;
    const bytes = this.#region.subarray(this.#byteOffset, this.#byteOffset + SharedMutex.byteLength);
    this.#words = new Int32Array(bytes.buffer, bytes.byteOffset, 4);
    return this.#words;
  }

  /** Whether this handle holds the lock now. */
  get locked(): boolean {
    return this.#guard !== undefined;
  }

  /**
   * Takes the lock without waiting: a guard, or `null` when a live thread
   * holds it. A dead holder's lock is taken over (`previousOwnerDied`).
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * const guard = mutex.tryLock();
   * console.log(guard?.previousOwnerDied); // false
   * guard?.unlock();
   * region.unlink();
   * ```
   *
   * @throws {MutexOwnershipError} When this thread already holds it.
   */
  tryLock(): MutexGuard | null {
    const words = this.#view();
    const me = currentOwner(this.#platform);
    const seen = Atomics.compareExchange(words, STATE, 0, me.tid);
    if (seen === 0) return this.#acquired(words, me, false);
    const taken = this.#takeOverIfDead(words, me, seen);
    return taken ?? null;
  }

  /**
   * Takes the lock, blocking this thread while another holds it, for at most
   * `timeoutMs` (default: no limit).
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * using guard = mutex.lock(1_000);
   * console.log(guard.held); // true
   * region.unlink();
   * ```
   *
   * @throws {LockTimeoutError} When `timeoutMs` passed with a live holder.
   * @throws {MutexOwnershipError} When this thread already holds it.
   * @throws {ClosedError} When the region is closed.
   */
  lock(timeoutMs?: number): MutexGuard {
    const timeout = toTimeout(timeoutMs);
    const words = this.#view();
    const me = currentOwner(this.#platform);
    if (Atomics.compareExchange(words, STATE, 0, me.tid) === 0) return this.#acquired(words, me, false);
    const deadline = performance.now() + timeout;
    for (;;) {
      const step = this.#contend(words, me);
      if (step instanceof MutexGuard) return step;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw this.#timeout(timeoutMs!);
      const result = this.#region.wait(this.#byteOffset, step, Math.min(remaining, LIVENESS_CHECK_MS));
      if (result === "timed-out") {
        const taken = this.#takeOverIfDead(this.#view(), me, step);
        if (taken) return taken;
      }
    }
  }

  /**
   * {@linkcode SharedMutex.lock} without blocking the event loop: waits with
   * `waitAsync`.
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * using guard = await mutex.lockAsync();
   * console.log(guard.held); // true
   * region.unlink();
   * ```
   *
   * @throws {LockTimeoutError} When `timeoutMs` passed with a live holder.
   */
  async lockAsync(timeoutMs?: number): Promise<MutexGuard> {
    const timeout = toTimeout(timeoutMs);
    const me = currentOwner(this.#platform);
    const deadline = performance.now() + timeout;
    for (;;) {
      const words = this.#view();
      const step = this.#contend(words, me);
      if (step instanceof MutexGuard) return step;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw this.#timeout(timeoutMs!);
      const result = await this.#region.waitAsync(this.#byteOffset, step, Math.min(remaining, LIVENESS_CHECK_MS));
      if (result === "timed-out") {
        const taken = this.#takeOverIfDead(this.#view(), me, step);
        if (taken) return taken;
      }
    }
  }

  /**
   * Runs `fn` holding the lock and releases it after, also when `fn` throws;
   * when `fn` returns a promise, the lock is held until it settles. `fn` gets
   * the guard (see `previousOwnerDied`).
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * const total = mutex.withLock(() => 40 + 2);
   * console.log(total); // 42
   * region.unlink();
   * ```
   */
  withLock<T>(fn: (guard: MutexGuard) => T, timeoutMs?: number): T {
    if (typeof fn !== "function") throw new TypeError(`Fn must be a function, got ${typeof fn}`);
    const guard = this.lock(timeoutMs);
    let result: T;
    try {
      result = fn(guard);
    } catch (error) {
      guard[Symbol.dispose]();
      throw error;
    }
    if (isThenable(result)) {
      return Promise.resolve(result).finally(() => guard[Symbol.dispose]()) as T;
    }
    guard[Symbol.dispose]();
    return result;
  }

  /**
   * Like {@linkcode SharedMutex.withLock}, taking the lock with
   * {@linkcode SharedMutex.lockAsync} so the event loop runs while it waits.
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * console.log(await mutex.withLockAsync(async () => "done")); // "done"
   * region.unlink();
   * ```
   */
  async withLockAsync<T>(fn: (guard: MutexGuard) => T | Promise<T>, timeoutMs?: number): Promise<T> {
    if (typeof fn !== "function") throw new TypeError(`Fn must be a function, got ${typeof fn}`);
    const guard = await this.lockAsync(timeoutMs);
    try {
      return await fn(guard);
    } finally {
      guard[Symbol.dispose]();
    }
  }

  /**
   * Releases the lock this handle holds (same as its guard's `unlock()`).
   *
   * @example
   * ```ts
   * import { SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
   * using region = SharedMemory.create({ size: 64 });
   * const mutex = SharedMutex.create(region, 0);
   * mutex.lock();
   * mutex.unlock();
   * console.log(mutex.locked); // false
   * region.unlink();
   * ```
   *
   * @throws {MutexOwnershipError} When this handle does not hold the lock.
   */
  unlock(): void {
    const guard = this.#guard;
    if (!guard) throw new MutexOwnershipError("Cannot unlock a SharedMutex this handle does not hold");
    this.unlockGuard(guard);
  }

  /** @internal Whether `guard` is the one holding this handle's lock. */
  heldBy(guard: MutexGuard): boolean {
    return this.#guard === guard;
  }

  /** @internal Releases the lock held through `guard`. */
  unlockGuard(guard: MutexGuard): void {
    if (this.#guard !== guard) throw new MutexOwnershipError("Cannot unlock a SharedMutex this guard does not hold");
    const words = this.#view();
    const me = currentOwner(this.#platform);
    const state = Atomics.load(words, STATE);
    if ((state & TID_MASK) !== me.tid) {
      this.#guard = undefined;
      throw new MutexOwnershipError(
        "Cannot unlock: the SharedMutex is no longer held by this thread (its memory was reinitialised or overwritten)",
      );
    }
    this.#guard = undefined;
    Atomics.store(words, HOLDER, 0);
    Atomics.store(words, HOLDER_START, 0);
    const previous = Atomics.exchange(words, STATE, 0);
    if (previous & WAITERS) this.#region.notify(this.#byteOffset, 1);
  }

  /**
   * One round of contention: acquires when free (keeping WAITERS, as others
   * may sleep), else makes sure WAITERS is set and returns the value to wait on.
   */
  #contend(words: Int32Array, me: OwnerIdentity): MutexGuard | number {
    for (;;) {
      const state = Atomics.load(words, STATE);
      if (state === 0) {
        if (Atomics.compareExchange(words, STATE, 0, me.tid | WAITERS) === 0) return this.#acquired(words, me, false);
        continue;
      }
      if ((state & TID_MASK) === me.tid) {
        const taken = this.#takeOverIfDead(words, me, state);
        if (taken) return taken;
      }
      if (state & WAITERS) return state;
      if (Atomics.compareExchange(words, STATE, state, state | WAITERS) === state) return state | WAITERS;
    }
  }

  /**
   * When the holder recorded in `state` is dead, takes the lock over with one
   * compare-and-swap and returns the guard (previousOwnerDied). `null` while
   * it lives, or when another thread changed the word first.
   */
  #takeOverIfDead(words: Int32Array, me: OwnerIdentity, state: number): MutexGuard | null {
    const holder = state & TID_MASK;
    if (holder === 0) return null;
    const published = Atomics.load(words, HOLDER) === holder;
    const startTime = published ? Atomics.load(words, HOLDER_START) >>> 0 : 0;
    if (holder === me.tid) {
      // Our thread id: this thread itself (through another handle) when the
      // published start time is ours, else a dead thread whose id we reuse.
      if (published && startTime === me.startTime) {
        throw new MutexOwnershipError("This thread already holds the SharedMutex: locking it again would wait forever");
      }
    } else if (ownerAlive(this.#platform, holder, startTime)) {
      return null;
    }
    if (Atomics.compareExchange(words, STATE, state, me.tid | WAITERS) !== state) return null;
    return this.#acquired(words, me, true);
  }

  #acquired(words: Int32Array, me: OwnerIdentity, previousOwnerDied: boolean): MutexGuard {
    Atomics.store(words, HOLDER_START, me.startTime | 0);
    Atomics.store(words, HOLDER, me.tid);
    const guard = new MutexGuard(this, previousOwnerDied);
    this.#guard = guard;
    return guard;
  }

  #timeout(timeoutMs: number): LockTimeoutError {
    return new LockTimeoutError(`Could not lock the SharedMutex within ${timeoutMs} ms: another thread holds it`);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** Checks that `region` is a SharedMemory or MappedFile-like object with wait and notify. */
export function assertRegion(region: unknown): asserts region is WaitableRegion {
  const candidate = region as Partial<WaitableRegion> | null | undefined;
  if (
    typeof candidate !== "object" || candidate === null || typeof candidate.subarray !== "function" ||
    typeof candidate.wait !== "function" || typeof candidate.notify !== "function" ||
    typeof candidate.waitAsync !== "function"
  ) {
    throw new TypeError("Region must be a SharedMemory or a shared MappedFile");
  }
}
