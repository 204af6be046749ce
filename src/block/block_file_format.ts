/**
 * The on-disk format of a BlockFile, version 1. All integers are
 * little-endian; 64-bit fields hold byte offsets or counts below 2^53.
 *
 * A BlockFile is a whole number of blocks of `blockSize` bytes (a multiple of
 * the page size, at least 4096). Block 0 is the header block. Every other
 * block below the high-water mark is in exactly one of three states: in use
 * (handed out by `allocate`), free (its offset is listed on a free-list
 * page), or a free-list page. Blocks at and above the high-water mark were
 * never handed out (the file grows ahead of need).
 *
 * ## Header block
 *
 * Two header slots of `blockSize / 2` bytes: slot 0 at offset 0, slot 1 at
 * `blockSize / 2`. Both are written when the file is created; after that each
 * commit writes the slot *not* holding the newest header, with a sequence
 * number one higher. On open the valid slot with the highest sequence wins,
 * so a commit cut short by a crash leaves the previous header in charge. The
 * magic, version and block size of both slots never change after creation
 * (a rewrite stores the same bytes), so the block size, which locates slot 1,
 * is readable even from a slot torn mid-write.
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `"MMFSBLK\0"` |
 * | 8 | 4 | format version, 1 |
 * | 12 | 4 | CRC-32 (IEEE, as zlib) of bytes 0–11, then of bytes 16 to 64 + control length |
 * | 16 | 4 | block size in bytes |
 * | 20 | 4 | reserved, 0 |
 * | 24 | 8 | sequence number of this header |
 * | 32 | 8 | high-water mark: blocks in use, free or holding the free list, header included |
 * | 40 | 8 | free-list head: byte offset of the first free-list page, 0 for none |
 * | 48 | 8 | free blocks: offsets listed on all free-list pages together |
 * | 56 | 4 | free-list pages in the chain |
 * | 60 | 4 | length of the control data |
 * | 64 | … | control data, up to `blockSize / 2 - 64` bytes |
 *
 * ## Free-list page
 *
 * A block that lists free blocks. Pages form a chain from the header's
 * free-list head. A page is never rewritten while a header on disk refers to
 * it: a commit writes new pages into blocks the previous header considers
 * free (or unused), so the previous header's list stays intact until the new
 * header replaces it.
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | tag `"FLST"` |
 * | 4 | 4 | number of entries, at most `(blockSize - 24) / 8` |
 * | 8 | 8 | byte offset of the next free-list page, 0 at the end |
 * | 16 | 4 | CRC-32 of bytes 0–15, then of the entries |
 * | 20 | 4 | reserved, 0 |
 * | 24 | 8 × n | byte offsets of free blocks |
 *
 * Free blocks themselves hold zeros once the commit that frees them is done;
 * nothing in them is part of the format.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";

/** `"MMFSBLK\0"`. */
export const MAGIC: Uint8Array = new Uint8Array([0x4d, 0x4d, 0x46, 0x53, 0x42, 0x4c, 0x4b, 0x00]);
/** The version this code writes and reads. */
export const FORMAT_VERSION = 1;
/** Bytes of a header slot before the control data. */
export const HEADER_FIXED = 64;
/** Bytes of a free-list page before its entries. */
export const PAGE_FIXED = 24;
/** `"FLST"` read as a little-endian u32. */
const PAGE_TAG = 0x54534c46;
/** The smallest block size: both header slots must hold the fixed fields and 1 KiB of control data. */
export const MIN_BLOCK_SIZE = 4096;
/** The largest block size (offsets stay exact and a slot's checksum stays cheap). */
export const MAX_BLOCK_SIZE = 2 ** 30;

/** One header: everything a BlockFile records besides the blocks themselves. */
export interface Header {
  readonly blockSize: number;
  readonly sequence: number;
  /** Blocks below this are the header, in use, free or free-list pages. */
  readonly highWater: number;
  /** Byte offset of the first free-list page, 0 for none. */
  readonly freeHead: number;
  /** Free blocks listed on all pages. */
  readonly freeCount: number;
  /** Free-list pages in the chain. */
  readonly freePages: number;
  readonly control: Uint8Array;
}

/** Why a header slot cannot be used. */
export type SlotProblem = "magic" | "version" | "checksum";

/**
 * The most control data a block size allows.
 *
 * @example
 * ```ts ignore
 * controlCapacity(4096); // 1984
 * ```
 */
export function controlCapacity(blockSize: number): number {
  return blockSize / 2 - HEADER_FIXED;
}

/**
 * Entries one free-list page holds.
 *
 * @example
 * ```ts ignore
 * pageCapacity(4096); // 509
 * ```
 */
export function pageCapacity(blockSize: number): number {
  return Math.floor((blockSize - PAGE_FIXED) / 8);
}

/**
 * Whether `blockSize` is one a header may record.
 *
 * @example
 * ```ts ignore
 * plausibleBlockSize(8192); // true
 * ```
 */
export function plausibleBlockSize(blockSize: number): boolean {
  return blockSize >= MIN_BLOCK_SIZE && blockSize <= MAX_BLOCK_SIZE && blockSize % MIN_BLOCK_SIZE === 0;
}

/**
 * The header image: `HEADER_FIXED` bytes plus the control data, checksum set.
 *
 * @example
 * ```ts ignore
 * slotBytes.set(encodeHeader({ ...header, sequence: header.sequence + 1 }));
 * ```
 */
export function encodeHeader(header: Header): Uint8Array<ArrayBuffer> {
  const slot = new Uint8Array(HEADER_FIXED + header.control.length);
  const view = new DataView(slot.buffer);
  slot.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(16, header.blockSize, true);
  setU64(view, 24, header.sequence);
  setU64(view, 32, header.highWater);
  setU64(view, 40, header.freeHead);
  setU64(view, 48, header.freeCount);
  view.setUint32(56, header.freePages, true);
  view.setUint32(60, header.control.length, true);
  slot.set(header.control, HEADER_FIXED);
  view.setUint32(12, checksum(slot, 12, 16, slot.length), true);
  return slot;
}

/**
 * Decodes a slot (at least `HEADER_FIXED` bytes), or says why it is unusable.
 *
 * @example
 * ```ts ignore
 * const header = decodeHeader(bytes.subarray(0, 2048));
 * if (typeof header === "string") console.log(`slot 0: bad ${header}`);
 * ```
 */
export function decodeHeader(slot: Uint8Array): Header | SlotProblem {
  for (let i = 0; i < MAGIC.length; i++) if (slot[i] !== MAGIC[i]) return "magic";
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(8, true) !== FORMAT_VERSION) return "version";
  const controlLength = view.getUint32(60, true);
  // A torn length could point past the slot: that is a checksum failure, not a crash.
  if (HEADER_FIXED + controlLength > slot.length) return "checksum";
  if (view.getUint32(12, true) !== checksum(slot, 12, 16, HEADER_FIXED + controlLength)) return "checksum";
  return {
    blockSize: view.getUint32(16, true),
    sequence: getU64(view, 24),
    highWater: getU64(view, 32),
    freeHead: getU64(view, 40),
    freeCount: getU64(view, 48),
    freePages: view.getUint32(56, true),
    control: slot.slice(HEADER_FIXED, HEADER_FIXED + controlLength),
  };
}

/**
 * The block size recorded at offset 16, readable even when the slot's checksum fails.
 *
 * @example
 * ```ts ignore
 * const slot1 = recordedBlockSize(bytes) / 2;
 * ```
 */
export function recordedBlockSize(slot: Uint8Array): number {
  return new DataView(slot.buffer, slot.byteOffset, slot.byteLength).getUint32(16, true);
}

/**
 * The page image: `PAGE_FIXED` bytes plus 8 per entry. `entries` are byte offsets.
 *
 * @example
 * ```ts ignore
 * blockBytes.set(encodePage([8192, 12288], 0)); // the last page, listing two blocks
 * ```
 */
export function encodePage(entries: readonly number[], next: number): Uint8Array<ArrayBuffer> {
  const page = new Uint8Array(PAGE_FIXED + 8 * entries.length);
  const view = new DataView(page.buffer);
  view.setUint32(0, PAGE_TAG, true);
  view.setUint32(4, entries.length, true);
  setU64(view, 8, next);
  for (let i = 0; i < entries.length; i++) setU64(view, PAGE_FIXED + 8 * i, entries[i]);
  view.setUint32(16, checksum(page, 16, PAGE_FIXED, page.length), true);
  return page;
}

/**
 * Decodes the page in `block` (a whole block), or says what is wrong with it.
 *
 * @example
 * ```ts ignore
 * const page = decodePage(bytes.subarray(offset, offset + blockSize));
 * if (typeof page !== "string") console.log(page.entries, page.next);
 * ```
 */
export function decodePage(block: Uint8Array): { entries: number[]; next: number } | string {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (view.getUint32(0, true) !== PAGE_TAG) return "has no free-list tag";
  const count = view.getUint32(4, true);
  if (count > pageCapacity(block.length)) return `claims ${count} entries, more than a page holds`;
  const end = PAGE_FIXED + 8 * count;
  if (view.getUint32(16, true) !== checksum(block, 16, PAGE_FIXED, end)) return "fails its checksum";
  const entries = new Array<number>(count);
  for (let i = 0; i < count; i++) entries[i] = getU64(view, PAGE_FIXED + 8 * i);
  return { entries, next: getU64(view, 8) };
}

/** CRC-32 of `bytes[0, until)` then of `bytes[resume, end)`: the fields before the checksum and the data after. */
function checksum(bytes: Uint8Array, until: number, resume: number, end: number): number {
  return crc32(bytes.subarray(resume, end), crc32(bytes.subarray(0, until)));
}

function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
}

/** A u64 as a number; values past 2^53 become NaN so every range check fails. */
function getU64(view: DataView, at: number): number {
  const high = view.getUint32(at + 4, true);
  return high >= 2 ** 21 ? NaN : high * 2 ** 32 + view.getUint32(at, true);
}
