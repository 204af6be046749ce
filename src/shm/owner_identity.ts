/**
 * Who holds a lock or a slot, in a form another process can check: the
 * kernel thread id (`gettid`, which is the pid for a main thread) and the
 * thread's start time (field 22 of `/proc/<tid>/stat`, clock ticks since
 * boot, low 32 bits). A holder is dead when `kill(tid, 0)` says ESRCH, or
 * when a thread with its id exists but started at another time: the id was
 * reused, which a bare pid check (boost.interprocess's robust emulation)
 * would take for the old holder.
 *
 * Thread ids, not process ids: two worker threads of one process are two
 * holders, and a worker that ends while holding is a dead holder.
 *
 * Limits: a start time that cannot be read (no /proc, or Deno without
 * --allow-read=/proc) is recorded as 0 and the check falls back to
 * `kill(tid, 0)` alone; a thread that dies and whose id is reused by a thread
 * started at the same clock tick (10 ms on most kernels) is not detected.
 *
 * @module
 */

import { UnsupportedRuntimeError } from "../errors.ts";
import type { Platform } from "../os/platform.ts";
import { nodeBuiltins } from "../node_builtins.ts";

/** The kernel's id of a thread with the low 32 bits of its start time. */
export interface OwnerIdentity {
  /** Thread id, below 2^30 (the kernel's PID_MAX_LIMIT is 2^22). */
  readonly tid: number;
  /** Start time in clock ticks since boot, low 32 bits; 0 when unknown. */
  readonly startTime: number;
}

let self: OwnerIdentity | undefined;

/** This thread's identity (module state is per thread: each worker has its own). */
export function currentOwner(platform: Platform): OwnerIdentity {
  if (self) return self;
  if (!platform.threadId) {
    throw new UnsupportedRuntimeError(
      `Cross-process locks are not supported on this platform (${platform.label}) yet: they need Linux's gettid and futex`,
    );
  }
  const tid = platform.threadId();
  self = { tid, startTime: startTimeOf(tid) ?? 0 };
  return self;
}

/** Field 22 of /proc/<tid>/stat, low 32 bits, or undefined when it cannot be read. */
export function startTimeOf(tid: number): number | undefined {
  let stat: string;
  try {
    stat = nodeBuiltins().fs.readFileSync(`/proc/${tid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = fields[22 - 3];
  if (ticks === undefined || !/^\d+$/.test(ticks)) return undefined;
  return Number(BigInt(ticks) & 0xffff_ffffn);
}

/**
 * Whether the thread `tid` still runs. With `startTime` (not 0), a thread of
 * that id that started at another time counts as dead: the id was reused.
 */
export function ownerAlive(platform: Platform, tid: number, startTime = 0): boolean {
  if (tid === 0) return false;
  if (!platform.processExists(tid)) return false;
  // Alive, or EPERM: exists but belongs to another user.
  if (startTime === 0) return true;
  const now = startTimeOf(tid);
  return now === undefined || now === startTime;
}

/** The identity packed into 64 bits (start time high, tid low), for one-word claims. */
export function packOwner(owner: OwnerIdentity): bigint {
  return (BigInt(owner.startTime) << 32n) | BigInt(owner.tid);
}

/** The inverse of {@linkcode packOwner}. */
export function unpackOwner(packed: bigint): OwnerIdentity {
  return { tid: Number(packed & 0xffff_ffffn), startTime: Number((packed >> 32n) & 0xffff_ffffn) };
}
