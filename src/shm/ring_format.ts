/**
 * The memory format of a `SharedRing`, version 1. Everything another
 * implementation (the Python module in `examples/shared_ring.py`, a C
 * program) needs to read and write the same ring is here.
 *
 * All integers are little-endian; 32-bit words are accessed with atomic
 * loads, stores and compare-and-swaps (sequentially consistent), the 64-bit
 * owner words with 64-bit atomics. Positions are 32-bit counters that wrap;
 * compare them by the sign of their 32-bit difference.
 *
 * ```text
 * Header (HEADER_SIZE = 256 bytes)
 *   0  u32 magic        0x47524d4d ("MMRG"), stored last by the creator
 *   4  u32 version      1
 *   8  u32 capacity     slots, a power of two, at least 2
 *  12  u32 maxMessage   largest message in bytes
 *  16  u32 slotSize     SLOT_HEADER + maxMessage rounded up to 8
 *  20  u32 headerSize   256
 *  64  u32 head         position of the next message to pop   (own cache line)
 * 128  u32 tail         position of the next message to push  (own cache line)
 * 192  u32 dataEvents   futex word: +1 after every push
 * 196  u32 consumersSleeping  1: a consumer sleeps (or is about to) on dataEvents
 * 200  u32 spaceEvents  futex word: +1 after every pop
 * 204  u32 producersSleeping  1: a producer sleeps (or is about to) on spaceEvents
 *
 * Slot i at HEADER_SIZE + i * slotSize (SLOT_HEADER = 16 bytes, then data)
 *   0  u32 seq     the lap state (below)
 *   4  u32 length  bytes of the message, or DEAD (0xffffffff): skip it
 *   8  u64 owner   who is working on the slot: tid | startTime << 32; 0 none
 *  16  data[maxMessage]
 * ```
 *
 * The queue is Dmitry Vyukov's bounded MPMC queue: slot `p % capacity` is
 * free for the push of position `p` when `seq == p`, and holds the message of
 * position `p` when `seq == p + 1`; a pop frees it for the next lap with
 * `seq = p + capacity`. To survive a process that dies half-way, every
 * change of a slot happens under its `owner` word, taken with a 64-bit
 * compare-and-swap from 0 to the worker's identity (thread id and start
 * time, as `owner_identity.ts` describes) and cleared when done:
 *
 * push(p): take owner (0 → me) while `seq == p` and `tail == p`; advance
 *   `tail` p → p+1 (CAS); write length and data; `seq = p + 1` (publish);
 *   owner = 0; then signal the consumers (below).
 * pop(p):  take owner while `seq == p + 1` and `head == p`; advance `head`
 *   (CAS); copy the data out (or skip a DEAD slot); `seq = p + capacity`;
 *   owner = 0; then signal the producers.
 *
 * The owner word is released only after the publish, and a consumer must
 * take it before it reads: so a slot is never read while its producer still
 * writes, even by a peer that reads `seq` early.
 *
 * Recovery. An owner word naming a thread that no longer exists (checked
 * only after the slot stalled, see `STALL_CHECK_MS`) is taken over with a
 * compare-and-swap from the dead identity, so exactly one survivor repairs:
 * - dead before advancing `tail`/`head`: the slot never changed; the thief
 *   simply carries on with its own push or pop of that position;
 * - producer dead after advancing `tail`, before publishing (`seq == p`,
 *   `tail != p`): the consumer at `head == p` marks the slot DEAD and
 *   publishes it; every consumer skips DEAD slots. Its message is absent,
 *   never torn: nothing is published before the whole message is written;
 * - producer dead after publishing: the message is whole; the next consumer
 *   takes the owner word over and pops it normally;
 * - consumer dead after advancing `head`, before freeing (`seq == p + 1`,
 *   `head != p`): the producer that finds the slot full frees it. That
 *   message is lost with the consumer that took it (at-most-once delivery to
 *   a consumer that dies mid-pop).
 *
 * Sleeping. A consumer that finds the ring empty stores 1 in
 * `consumersSleeping`, reads `dataEvents`, looks at the ring once more, and
 * only then sleeps (FUTEX_WAIT, shared) while `dataEvents` holds what it
 * read. To signal, a producer exchanges `consumersSleeping` with 0 and, when
 * it was 1, adds 1 to `dataEvents` and wakes all its sleepers (FUTEX_WAKE).
 * Producers sleep on `spaceEvents` / `producersSleeping` the same way. Peers
 * that cannot use futexes may poll instead of sleeping, but must still
 * signal. Sleepers wake at least every 100 ms by themselves, so a dead peer
 * that raised a flag costs at most a spurious wake.
 *
 * @module
 */

/** "MMRG" read as a little-endian u32. */
export const RING_MAGIC = 0x47524d4d;
export const RING_VERSION = 1;
export const HEADER_SIZE = 256;
export const SLOT_HEADER = 16;
/** `length` of a slot whose producer died before finishing: consumers skip it. */
export const DEAD_LENGTH = 0xffff_ffff | 0;
/** The most slots a ring may have. */
export const MAX_CAPACITY = 2 ** 24;
/** The largest message a ring may be created for (1 GiB). */
export const MAX_MESSAGE = 2 ** 30;

/** 32-bit word indexes into the header. */
export const HeaderWord = {
  magic: 0,
  version: 1,
  capacity: 2,
  maxMessage: 3,
  slotSize: 4,
  headerSize: 5,
  head: 64 / 4,
  tail: 128 / 4,
  dataEvents: 192 / 4,
  consumersSleeping: 196 / 4,
  spaceEvents: 200 / 4,
  producersSleeping: 204 / 4,
} as const;

/** Byte offsets inside a slot. */
export const SlotField = { seq: 0, length: 4, owner: 8, data: SLOT_HEADER } as const;

/** Bytes per slot for messages of up to `maxMessage` bytes. */
export function slotSizeFor(maxMessage: number): number {
  return SLOT_HEADER + Math.ceil(maxMessage / 8) * 8;
}

/** Bytes of a whole ring. */
export function ringBytes(capacity: number, maxMessage: number): number {
  return HEADER_SIZE + capacity * slotSizeFor(maxMessage);
}

/** The next power of two at or above `n` (n >= 1). */
export function nextPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}
