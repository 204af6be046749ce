/**
 * Finds out once whether the kernel knows an `madvise` advice, by trying it on
 * a page of scratch memory of each kind that could accept it.
 *
 * @module
 */

import type { AdviceName } from "../../ffi/constants.ts";
import { MAP_FAILED } from "../../ffi/constants.ts";
import type { Libc } from "../../ffi/libc.ts";
import { errnoNumber } from "./posix_errors.ts";

const known = new Map<AdviceName, boolean>();

/**
 * True when some mapping kind (private or shared anonymous) accepts `advice`.
 * Only a definite answer is remembered: a probe that could not map its page,
 * or that the kernel refused for a reason other than EINVAL, is asked again.
 */
export function probeAdvice(libc: Libc, advice: AdviceName): boolean {
  const cached = known.get(advice);
  if (cached !== undefined) return cached;
  const number = libc.constants.advice[advice];
  if (number === undefined) return remember(advice, false);
  let answers = 0;
  for (const kind of [libc.constants.MAP_PRIVATE, libc.constants.MAP_SHARED]) {
    const answer = tryOn(libc, kind, number);
    if (answer === "accepted") return remember(advice, true);
    if (answer === "unknown-advice") answers++;
  }
  return answers === 2 ? remember(advice, false) : false;
}

function remember(advice: AdviceName, supported: boolean): boolean {
  known.set(advice, supported);
  return supported;
}

type ProbeAnswer = "accepted" | "unknown-advice" | "inconclusive";

function tryOn(libc: Libc, kind: number, advice: number): ProbeAnswer {
  const c = libc.constants;
  const page = libc.pageSize();
  const address = libc.mmap(0n, page, c.PROT_READ | c.PROT_WRITE, kind | c.MAP_ANONYMOUS, -1, 0);
  if (address === MAP_FAILED) return "inconclusive";
  try {
    if (libc.madvise(address, page, advice) === 0) return "accepted";
    return libc.errno === errnoNumber(libc, "EINVAL") ? "unknown-advice" : "inconclusive";
  } finally {
    libc.munmap(address, page);
  }
}
