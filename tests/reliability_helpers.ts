// Utilities of the reliability suites (reliability_*.test.ts): a seeded PRNG
// whose seed a failure reports, self-checking numbered records, a snapshot of
// this process's descriptors, mappings and RSS, and a way to collect garbage
// on every runtime. Child scripts import this file too (they are written next
// to it by runScript/startScript).
import * as fs from "node:fs";

/**
 * The seed of a test's random choices: MEMMAPFS_SEED when set (to replay a
 * failure), otherwise a fresh one. Put it in every assertion message.
 */
export function chooseSeed(): number {
  const given = Number(process.env.MEMMAPFS_SEED);
  return Number.isSafeInteger(given) && given > 0 ? given : 1 + Math.floor(Math.random() * 0x7fffffff);
}

/** mulberry32: a small, fast, seedable generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes in one record. */
export const RECORD_SIZE = 64;

/**
 * Record `number` for stream `salt`: its number (u32 LE), the salt (u32 LE),
 * 52 bytes derived from both, and an FNV-1a checksum of the first 60 bytes.
 * A record is self-checking: a torn, shifted, stale or zeroed one fails
 * {@linkcode checkRecord}.
 */
export function makeRecord(number: number, salt: number): Uint8Array {
  const record = new Uint8Array(RECORD_SIZE);
  const view = new DataView(record.buffer);
  view.setUint32(0, number, true);
  view.setUint32(4, salt, true);
  for (let i = 8; i < RECORD_SIZE - 4; i++) record[i] = (number * 131 + salt * 17 + i * 29 + (number >>> 8)) & 0xff;
  view.setUint32(RECORD_SIZE - 4, fnv1a(record.subarray(0, RECORD_SIZE - 4)), true);
  return record;
}

/** Why the record at `number` in `bytes` is not what {@linkcode makeRecord} wrote, or null when it is. */
export function checkRecord(bytes: Uint8Array, number: number, salt: number): string | null {
  const start = number * RECORD_SIZE;
  if (start + RECORD_SIZE > bytes.length) return `missing: the data ends at byte ${bytes.length}`;
  const found = bytes.subarray(start, start + RECORD_SIZE);
  const view = new DataView(found.buffer, found.byteOffset, RECORD_SIZE);
  if (view.getUint32(RECORD_SIZE - 4, true) !== fnv1a(found.subarray(0, RECORD_SIZE - 4))) {
    return `bad checksum (number field ${view.getUint32(0, true)})`;
  }
  if (view.getUint32(0, true) !== number) return `holds record ${view.getUint32(0, true)}`;
  return sameRecord(found, number, salt) ? null : "a byte differs";
}

/** Whether `found` (RECORD_SIZE bytes) is exactly record `number` of stream `salt`. */
export function sameRecord(found: Uint8Array, number: number, salt: number): boolean {
  const expected = makeRecord(number, salt);
  for (let i = 0; i < RECORD_SIZE; i++) if (found[i] !== expected[i]) return false;
  return true;
}

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** What this process holds: descriptors, lines of /proc/self/maps, resident memory. */
export interface ProcessFootprint {
  descriptors: string[];
  /** Lines of /proc/self/maps. */
  mappings: number;
  /** Of those, pages of a V8 heap ({@linkcode isEngineHeapPage}). */
  engineHeapPages: number;
  /**
   * The size of those pages together. Neighbouring pages merge into one line
   * and split again as the engine frees some, so their count can rise while
   * the memory they cover shrinks: a leak shows in the size.
   */
  engineHeapKiB: number;
  rssKiB: number;
}

/**
 * Whether a line of /proc/self/maps looks like a page of V8's JavaScript heap:
 * anonymous, read-write, a multiple of 256 KiB (neighbours merge into one
 * line) and aligned to 256 KiB. V8 maps each heap page on its own and keeps
 * some after a collection for reuse, so their number drifts by a few with the
 * engine's sizing decisions. Nothing memmapfs maps in the suites that use this
 * has that shape (their files and regions are a few pages).
 */
export function isEngineHeapPage(line: string): boolean {
  const match = line.match(/^([0-9a-f]+)-([0-9a-f]+) rw-p 00000000 00:00 0\s*$/);
  if (!match) return false;
  const [start, end] = [BigInt(`0x${match[1]}`), BigInt(`0x${match[2]}`)];
  return (end - start) % 0x40000n === 0n && start % 0x40000n === 0n;
}

export function footprint(): ProcessFootprint {
  // Read maps and status first: readdir's own descriptor is gone before they are read.
  const lines = fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter(Boolean);
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const rssKiB = Number(status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1]);
  // readdir holds a descriptor of /proc/self/fd while it reads; it is the same
  // number every time, so two snapshots still compare equal.
  const descriptors = fs.readdirSync("/proc/self/fd").sort();
  const heap = lines.filter(isEngineHeapPage);
  const engineHeapKiB = heap.reduce((sum, line) => {
    const [start, end] = line.split(" ")[0].split("-").map((hex) => BigInt(`0x${hex}`));
    return sum + Number((end - start) / 1024n);
  }, 0);
  return { descriptors, mappings: lines.length, engineHeapPages: heap.length, engineHeapKiB, rssKiB };
}

/**
 * Collects garbage as well as this runtime allows: Bun.gc(true), or the
 * `gc()` that `--expose-gc` (Node) or `--v8-flags=--expose-gc` (Deno) gives.
 * Returns false when no collector could be called. Finalizers run later, in
 * a task of their own: await {@linkcode settle} where they matter.
 */
export function collectGarbage(): boolean {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) {
    bun.gc(true);
    return true;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return false;
  gc();
  return true;
}

/** Collects garbage a few times, letting finalizers (FinalizationRegistry callbacks) run in between. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    if (!collectGarbage()) throw new Error("No garbage collector to call: run with --expose-gc (Node) or --v8-flags=--expose-gc (Deno)");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once `check` holds, polling without blocking the event loop. */
export async function until(check: () => boolean, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
