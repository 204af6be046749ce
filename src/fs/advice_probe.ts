/**
 * Finds out once whether the kernel knows an `madvise` advice, by trying it on
 * a page of scratch memory of each kind that could accept it.
 *
 * @module
 */

import type { AdviceName } from "../ffi/constants.ts";
import { MAP_FAILED } from "../ffi/constants.ts";
import type { Libc } from "../ffi/libc.ts";

const known = new Map<AdviceName, boolean>();

/** True when some mapping kind (private or shared anonymous) accepts `advice`. */
export function probeAdvice(libc: Libc, advice: AdviceName): boolean {
  const cached = known.get(advice);
  if (cached !== undefined) return cached;
  const number = libc.constants.advice[advice];
  const supported = number !== undefined &&
    [libc.constants.MAP_PRIVATE, libc.constants.MAP_SHARED].some((kind) => tryOn(libc, kind, number));
  known.set(advice, supported);
  return supported;
}

function tryOn(libc: Libc, kind: number, advice: number): boolean {
  const c = libc.constants;
  const page = libc.pageSize();
  const address = libc.mmap(0n, page, c.PROT_READ | c.PROT_WRITE, kind | c.MAP_ANONYMOUS, -1, 0);
  if (address === MAP_FAILED) return false;
  try {
    return libc.madvise(address, page, advice) === 0;
  } finally {
    libc.munmap(address, page);
  }
}
