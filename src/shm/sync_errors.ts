/**
 * Errors of the cross-process synchronisation objects (`SharedMutex`,
 * `SharedRing`).
 *
 * @module
 */

/**
 * The memory does not hold the structure asked for: no `SharedMutex` was
 * created at that offset, or the ring's header has another magic, version or
 * geometry than its region allows (foreign, corrupt or newer memory).
 *
 * @example
 * ```ts
 * import { SharedFormatError, SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 64 });
 * try {
 *   SharedMutex.at(region, 0); // nobody created one there
 * } catch (error) {
 *   console.log(error instanceof SharedFormatError); // true
 * }
 * region.unlink();
 * ```
 */
export class SharedFormatError extends Error {
  /** `message` names the memory and what in it did not match. */
  constructor(message: string) {
    super(message);
    this.name = "SharedFormatError";
  }
}

/**
 * A lock did not succeed within its timeout: another thread or process
 * held it all along (and is alive — a dead holder's lock is taken over).
 *
 * @example
 * ```ts ignore
 * import { LockTimeoutError, SharedMutex, SharedMemory } from "@memmapfs/memmapfs";
 * const region = SharedMemory.open("psm_app");
 * const mutex = SharedMutex.at(region, 0);
 * try {
 *   using guard = mutex.lock(100);
 *   // ... critical section ...
 * } catch (error) {
 *   if (error instanceof LockTimeoutError) console.log("busy, try later");
 *   else throw error;
 * }
 * ```
 */
export class LockTimeoutError extends Error {
  /** `message` says what could not be locked, and for how long it was tried. */
  constructor(message: string) {
    super(message);
    this.name = "LockTimeoutError";
  }
}

/**
 * Misuse of a lock's ownership: unlocking a `SharedMutex` this handle does
 * not hold, or locking one this thread already holds (which would wait for
 * itself forever).
 *
 * @example
 * ```ts
 * import { MutexOwnershipError, SharedMemory, SharedMutex } from "@memmapfs/memmapfs";
 * using region = SharedMemory.create({ size: 64 });
 * const mutex = SharedMutex.create(region, 0);
 * try {
 *   mutex.unlock();
 * } catch (error) {
 *   console.log(error instanceof MutexOwnershipError); // true
 * }
 * region.unlink();
 * ```
 */
export class MutexOwnershipError extends Error {
  /** `message` says which misuse it was. */
  constructor(message: string) {
    super(message);
    this.name = "MutexOwnershipError";
  }
}
