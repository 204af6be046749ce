/**
 * Wait and notify on a 32-bit word of shared memory, across processes, with
 * `Atomics.wait` semantics: the word is compared and the caller put to sleep
 * in one step by the kernel, so a notify between the check and the sleep is
 * never lost.
 *
 * Linux: the futex system call without `FUTEX_PRIVATE_FLAG`, so waiters in
 * different processes (or different mappings of the same page) meet — the
 * kernel keys a shared futex by the page of the object, not by the virtual
 * address. Darwin (`os_sync_wait_on_address` with
 * `OS_SYNC_WAIT_ON_ADDRESS_SHARED`, macOS 14.4+, or `__ulock_wait` with
 * `UL_COMPARE_AND_WAIT_SHARED`) and Windows (named events: `WaitOnAddress`
 * only meets waiters of its own process) have no back-end yet: there every
 * call throws {@linkcode UnsupportedRuntimeError} saying so.
 *
 * Results: `"ok"` when woken by a notify — or when the word changed while the
 * caller slept (after an EINTR, or between two slices of a waiter thread),
 * which a futex cannot tell from a notify; as with any futex, re-check the
 * word after waking. `"not-equal"` when the word did not hold `expected` at
 * the call. `"timed-out"` when the time ran out.
 *
 * @module
 */

import { ClosedError, UnsupportedRuntimeError } from "../errors.ts";
import type { Platform } from "../os/platform.ts";

/**
 * What {@linkcode SharedMemory.wait}, `waitAsync` and the waits of
 * `MappedFile` report, as `Atomics.wait` does.
 *
 * @example
 * ```ts
 * import { SharedMemory, type WaitResult } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 64 });
 * const result: WaitResult = region.wait(0, 1); // the word holds 0
 * console.log(result); // "not-equal"
 * region.unlink();
 * ```
 */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/** Longest single kernel wait of a waitAsync (it re-checks the region between slices). */
export const ASYNC_SLICE_MS = 200;

/** The largest count FUTEX_WAKE takes (INT_MAX): "everyone". */
const WAKE_ALL = 0x7fff_ffff;

/** Where a region's words live: the address of a word, a view of it, whether it closed. */
export interface WordSource {
  /** Names the region in errors, as `SharedMemory "psm_1"`. */
  readonly description: string;
  readonly size: number;
  readonly closed: boolean;
  /** Throws when this region cannot be waited on (not shared, windowed); after the closed check. */
  assertWaitable?(): void;
  /** The address of the 4 bytes at `byteOffset` (validated). */
  addressOf(byteOffset: number): bigint;
  /** A view of the 4 bytes at `byteOffset` (validated). */
  wordView(byteOffset: number): Int32Array;
}

/** Checks a word offset: an integer, 4-aligned, inside the region. */
export function assertWordOffset(byteOffset: unknown, size: number, name = "byteOffset"): asserts byteOffset is number {
  if (typeof byteOffset !== "number") {
    throw new TypeError(`${capitalized(name)} must be a number, got ${describe(byteOffset)}`);
  }
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0) {
    throw new RangeError(`${capitalized(name)} must be a non-negative integer, got ${byteOffset}`);
  }
  if (byteOffset % 4 !== 0) {
    throw new RangeError(`${capitalized(name)} must be a multiple of 4 (a 32-bit word), got ${byteOffset}`);
  }
  if (byteOffset + 4 > size) {
    throw new RangeError(
      `${capitalized(name)} ${byteOffset} is outside the region: a word needs 4 bytes and the region has ${size}`,
    );
  }
}

/** Checks `expected` (an int32 or uint32 value, as Atomics would store it) and returns it as int32. */
export function toWordValue(value: unknown, name = "expected"): number {
  if (typeof value !== "number") throw new TypeError(`${capitalized(name)} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
    throw new RangeError(`${capitalized(name)} must be a 32-bit integer, got ${value}`);
  }
  return value | 0;
}

/** Checks a timeout in ms: undefined or Infinity for none, else a number >= 0. */
export function toTimeout(timeoutMs: unknown, name = "timeoutMs"): number {
  if (timeoutMs === undefined) return Infinity;
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs)) {
    throw new TypeError(`${capitalized(name)} must be a number of milliseconds, got ${describe(timeoutMs)}`);
  }
  if (timeoutMs < 0) throw new RangeError(`${capitalized(name)} must be 0 or more, got ${timeoutMs}`);
  return timeoutMs;
}

function toCount(count: unknown): number {
  if (count === undefined || count === Infinity) return WAKE_ALL;
  if (typeof count !== "number") throw new TypeError(`Count must be a number, got ${describe(count)}`);
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Count must be a non-negative integer or Infinity, got ${count}`);
  }
  return Math.min(count, WAKE_ALL);
}

/** The futex calls, or the error of a platform without them. */
function futexOf(platform: Platform): Required<Pick<Platform, "waitOnAddress" | "wakeAddress">> {
  if (platform.waitOnAddress && platform.wakeAddress) return platform as Required<Pick<Platform, "waitOnAddress" | "wakeAddress">>;
  throw new UnsupportedRuntimeError(
    `Cross-process wait/notify is not supported on this platform (${platform.label}) yet: ` +
      "memmapfs has a Linux futex back-end; macOS needs os_sync_wait_on_address (14.4+) or " +
      "__ulock_wait, Windows named events",
  );
}

/**
 * Blocks the calling thread while the word at `address` holds `expected`, at
 * most `timeoutMs` (Infinity: no limit). An interruption restarts the wait
 * with the time that is left.
 */
export function waitOnAddress(platform: Platform, address: bigint, expected: number, timeoutMs: number): WaitResult {
  return futexOf(platform).waitOnAddress(address, expected, timeoutMs);
}

/**
 * Wakes up to `count` waiters on the word at `address` (all by default).
 * Returns how many the kernel woke.
 */
export function notifyAddress(platform: Platform, address: bigint, count: number): number {
  return futexOf(platform).wakeAddress(address, count);
}

/**
 * The waits and notifies of one region: argument checks, the blocking and
 * asynchronous waits, and the pending asynchronous waits to end when the
 * region closes. `SharedMemory` and `MappedFile` each hold one.
 */
export class RegionWaits {
  readonly #platform: Platform;
  readonly #source: WordSource;
  /** Addresses with pending asynchronous waits (address → how many). */
  readonly #pending = new Map<bigint, number>();
  /** Rejects every pending waitAsync of this region (at close). */
  readonly #cancellers = new Set<(error: Error) => void>();

  constructor(platform: Platform, source: WordSource) {
    this.#platform = platform;
    this.#source = source;
  }

  #assertOpen(): void {
    if (this.#source.closed) throw new ClosedError(this.#source.description);
    this.#source.assertWaitable?.();
  }

  wait(byteOffset: number, expected: number, timeoutMs?: number): WaitResult {
    this.#assertOpen();
    assertWordOffset(byteOffset, this.#source.size);
    const value = toWordValue(expected);
    const timeout = toTimeout(timeoutMs);
    futexOf(this.#platform);
    return waitOnAddress(this.#platform, this.#source.addressOf(byteOffset), value, timeout);
  }

  /** Like Atomics.waitAsync, bad arguments (and a closed region) throw at once, not through the promise. */
  waitAsync(byteOffset: number, expected: number, timeoutMs?: number): Promise<WaitResult> {
    this.#assertOpen();
    assertWordOffset(byteOffset, this.#source.size);
    const value = toWordValue(expected);
    const timeout = toTimeout(timeoutMs);
    futexOf(this.#platform);
    if (!this.#platform.waitOnAddressAsync) {
      throw new UnsupportedRuntimeError("This runtime has no thread to wait on for waitAsync (no worker threads)");
    }
    const word = this.#source.wordView(byteOffset);
    // Like Atomics.waitAsync: a word that already differs settles at once.
    if (Atomics.load(word, 0) !== value) return Promise.resolve("not-equal");
    if (timeout === 0) return Promise.resolve("timed-out");
    return this.#waitAsync(this.#source.addressOf(byteOffset), word, value, timeout);
  }

  async #waitAsync(address: bigint, word: Int32Array, expected: number, timeoutMs: number): Promise<WaitResult> {
    const platform = this.#platform;
    const deadline = performance.now() + timeoutMs;
    let cancel!: (error: Error) => void;
    const cancelled = new Promise<never>((_, reject) => cancel = reject);
    this.#cancellers.add(cancel);
    this.#pending.set(address, (this.#pending.get(address) ?? 0) + 1);
    try {
      for (;;) {
        const remaining = timeoutMs === Infinity ? Infinity : Math.max(0, deadline - performance.now());
        // In slices: a wait still in flight when its region closes ends within
        // one slice even when the close's wake missed it, instead of waiting
        // forever on whatever is mapped at that address next.
        const slice = Math.min(remaining, ASYNC_SLICE_MS);
        const result = await Promise.race([platform.waitOnAddressAsync!(address, expected, slice), cancelled]);
        if (result === true) return "ok";
        if (this.#source.closed) throw new ClosedError(this.#source.description);
        // Returned without a wake: the word changed (a wake-up we slept through), the time
        // ran out, or a signal interrupted the wait.
        if (Atomics.load(word, 0) !== expected) return "ok";
        if (performance.now() >= deadline) return "timed-out";
      }
    } finally {
      this.#cancellers.delete(cancel);
      const left = this.#pending.get(address)! - 1;
      if (left === 0) this.#pending.delete(address);
      else this.#pending.set(address, left);
    }
  }

  notify(byteOffset: number, count?: number): number {
    this.#assertOpen();
    assertWordOffset(byteOffset, this.#source.size);
    const wake = toCount(count);
    return notifyAddress(this.#platform, this.#source.addressOf(byteOffset), wake);
  }

  /**
   * Called by the region's close(), before it unmaps: rejects this region's
   * pending waitAsync promises with ClosedError and wakes the words they wait
   * on, so no thread stays blocked on memory that is going away. (That wake
   * also reaches other processes' waiters on those words, as a notify would.)
   */
  closeAll(): void {
    if (this.#cancellers.size === 0) return;
    const error = new ClosedError(this.#source.description);
    for (const cancel of this.#cancellers) cancel(error);
    for (const address of this.#pending.keys()) this.#platform.wakeAddress?.(address, WAKE_ALL);
    this.#pending.clear();
  }
}

function capitalized(name: string): string {
  return name[0].toUpperCase() + name.slice(1);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return `${value}n (a bigint)`;
  return typeof value === "object" ? "an object" : typeof value;
}
