/**
 * Waiter threads for Node and Bun: the thread that blocks in the kernel so
 * the event loop does not. Deno has `nonblocking` FFI calls for this; Node's
 * and Bun's FFI have none, so each pending `waitAsync` borrows a worker
 * thread that makes the blocking futex call itself.
 *
 * Protocol (one 32-byte SharedArrayBuffer per worker, no postMessage on the
 * hot path): the caller writes the address, the expected value and the
 * timeout, sets `state` to REQUEST and notifies; the worker waits on `state`
 * with `Atomics.wait`, runs the futex wait, writes the result, sets `state`
 * to DONE and notifies; the caller awaits that with `Atomics.waitAsync`, which
 * on V8 and JSC does not keep the process alive by itself: the worker is
 * ref'ed while it waits, so a pending wait keeps the process alive (as a
 * pending socket read does), and unref'ed when idle. Workers are reused; a
 * few idle ones are kept.
 *
 * Node joins worker threads at exit, and a thread blocked in the kernel
 * cannot be interrupted, so the worker waits in slices of at most
 * {@linkcode SLICE_MS}: `process.exit()` with a wait pending returns within
 * one slice. Each slice lets the kernel compare the word again, so a change
 * it slept through ends the wait too (EAGAIN).
 *
 * One of the files allowed to name `node:ffi` and `bun:ffi` (in the worker's
 * source below).
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";

/** Longest single kernel wait of a waiter thread, in ms. */
export const SLICE_MS = 200;

const STATE = 0, EXPECTED = 1, RESULT = 2;
const IDLE = 0, REQUEST = 1, DONE = 2;
/** Result of a worker that failed (FFI unavailable in the worker, or it died). */
const WORKER_FAILED = -2;
const KEEP_IDLE = 4;

interface WorkerLike {
  ref(): void;
  unref(): void;
  terminate(): unknown;
  on(event: "error" | "exit", listener: (value: unknown) => void): void;
}
type WorkerConstructor = new (source: string, options: { eval: true; workerData: unknown }) => WorkerLike;

// The worker: plain CommonJS run with `eval: true`, so the package needs no
// extra file next to dist/mod.js. `RUNTIME` selects the FFI it binds.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { control, libcPath, errnoFunction, runtime, SYS_futex, FUTEX_WAIT, ETIMEDOUT, EINTR, mmapFlags, sliceMs } = workerData;
const state = new Int32Array(control, 0, 4);
const address = new BigInt64Array(control, 16, 1);
const timeoutMs = new Float64Array(control, 24, 1);
let syscall, errno, timespec, timespecAddress;
if (runtime === "bun") {
  const ffi = process.getBuiltinModule("bun:ffi");
  const lib = ffi.dlopen(libcPath, {
    syscall: { args: ["i64", "u64", "i32", "i32", "u64", "u64", "i32"], returns: "i64" },
    mmap: { args: ["u64", "u64", "i32", "i32", "i32", "i64"], returns: "u64" },
    [errnoFunction]: { args: [], returns: "u64" },
  }).symbols;
  syscall = lib.syscall;
  const errnoAddress = Number(lib[errnoFunction]());
  errno = () => ffi.read.i32(errnoAddress, 0);
  timespecAddress = BigInt(lib.mmap(0n, 4096, 3, mmapFlags, -1, 0));
  timespec = new DataView(ffi.toArrayBuffer(Number(timespecAddress), 0, 16));
} else {
  const ffi = process.getBuiltinModule("node:ffi");
  const lib = ffi.dlopen(libcPath, {
    syscall: { arguments: ["int64", "uint64", "int32", "int32", "uint64", "uint64", "int32"], return: "int64" },
    mmap: { arguments: ["uint64", "uint64", "int32", "int32", "int32", "int64"], return: "uint64" },
    [errnoFunction]: { arguments: [], return: "uint64" },
  }).functions;
  syscall = (number, ...rest) => lib.syscall(BigInt(number), ...rest);
  const errnoAddress = lib[errnoFunction]();
  errno = () => ffi.getInt32(errnoAddress);
  timespecAddress = BigInt(lib.mmap(0n, 4096n, 3, mmapFlags, -1, 0n));
  timespec = new DataView(ffi.toArrayBuffer(timespecAddress, 16, false));
}
for (;;) {
  for (let now; (now = Atomics.load(state, ${STATE})) !== ${REQUEST};) Atomics.wait(state, ${STATE}, now);
  const addr = address[0], expected = state[${EXPECTED}], timeout = timeoutMs[0];
  const deadline = performance.now() + timeout;
  let result = -1;
  for (;;) {
    const slice = Math.min(deadline - performance.now(), sliceMs);
    if (slice <= 0) break;
    const seconds = Math.floor(slice / 1000);
    timespec.setBigInt64(0, BigInt(seconds), true);
    timespec.setBigInt64(8, BigInt(Math.round((slice - seconds * 1000) * 1e6)), true);
    if (Number(syscall(SYS_futex, addr, FUTEX_WAIT, expected, timespecAddress, 0n, 0)) === 0) {
      result = 0;
      break;
    }
    // Never read the word here: its region may be closed and unmapped by now.
    // The kernel compares it: EAGAIN (it changed) or EFAULT (it is gone) end the wait.
    const error = errno();
    if (error !== ETIMEDOUT && error !== EINTR) break;
  }
  Atomics.store(state, ${RESULT}, result);
  Atomics.store(state, ${STATE}, ${DONE});
  Atomics.notify(state, ${STATE});
}
`;

interface Waiter {
  worker: WorkerLike;
  state: Int32Array;
  address: BigInt64Array;
  timeout: Float64Array;
  /** Why the worker failed, once it did. */
  failure: unknown;
}

/**
 * A `futexWaitAsync` for the NativeCalls of Node or Bun, or `undefined` when
 * the runtime has no worker threads or the platform no futex.
 */
export function waiterPool(
  runtime: "node" | "bun",
  libcPath: string,
  constants: PlatformConstants,
): ((addr: bigint, expected: number, timeoutMs: number) => Promise<number>) | undefined {
  const futex = constants.futex;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!futex || !getBuiltin) return undefined;
  const idle: Waiter[] = [];
  // Loaded at the first wait, not at import: node:worker_threads costs Bun ~30 ms to load.
  let Worker: WorkerConstructor | undefined;

  const spawn = (): Waiter => {
    Worker ??= (getBuiltin("node:worker_threads") as { Worker?: WorkerConstructor } | undefined)?.Worker;
    if (!Worker) throw new Error("waitAsync needs worker threads (node:worker_threads), which this runtime lacks");
    const control = new SharedArrayBuffer(32);
    const state = new Int32Array(control, 0, 4);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        control, libcPath, runtime, errnoFunction: constants.errnoFunction,
        SYS_futex: futex.SYS_futex, FUTEX_WAIT: futex.FUTEX_WAIT, ETIMEDOUT: futex.ETIMEDOUT, EINTR: futex.EINTR,
        mmapFlags: constants.MAP_PRIVATE | constants.MAP_ANONYMOUS, sliceMs: SLICE_MS,
      },
    });
    worker.unref();
    const fail = (why: unknown) => {
      waiter.failure ??= why;
      // A worker that cannot start (no FFI in it) or died ends its wait as failed.
      Atomics.store(state, RESULT, WORKER_FAILED);
      Atomics.store(state, STATE, DONE);
      Atomics.notify(state, STATE);
    };
    worker.on("error", fail);
    worker.on("exit", fail);
    const waiter: Waiter = {
      worker, state, address: new BigInt64Array(control, 16, 1), timeout: new Float64Array(control, 24, 1),
      failure: undefined,
    };
    return waiter;
  };

  return async (addr, expected, timeoutMs) => {
    const waiter = idle.pop() ?? spawn();
    const { state } = waiter;
    waiter.address[0] = addr;
    waiter.timeout[0] = timeoutMs;
    state[EXPECTED] = expected;
    waiter.worker.ref();
    Atomics.store(state, STATE, REQUEST);
    Atomics.notify(state, STATE);
    while (Atomics.load(state, STATE) === REQUEST) {
      const outcome = Atomics.waitAsync(state, STATE, REQUEST);
      if (outcome.async) await outcome.value;
    }
    const result = state[RESULT];
    waiter.worker.unref();
    if (result === WORKER_FAILED) {
      waiter.worker.terminate();
      throw new Error("The waiter thread of waitAsync failed (it could not bind libc, or it died)", {
        cause: waiter.failure,
      });
    }
    Atomics.store(state, STATE, IDLE);
    if (idle.length < KEEP_IDLE) idle.push(waiter);
    else waiter.worker.terminate();
    return result;
  };
}
