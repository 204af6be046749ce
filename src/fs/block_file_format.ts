/**
 * The on-disk format of a BlockFile.
 *
 * A BlockFile is a whole number of blocks of `blockSize` bytes (a multiple of
 * the page size). Block 0 is the header block; blocks 1 and up hold data.
 *
 * The header block holds two header slots, one at offset 0 and one at
 * `blockSize / 2`. Every change writes a complete header into the slot not in
 * use, with a sequence number one higher; the valid slot with the highest
 * sequence wins on open. A crash in the middle of writing a slot leaves that
 * slot with a bad checksum, and the other slot still describes a consistent
 * file — so opening after a crash always succeeds.
 *
 * A header slot, little-endian:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `"MMFSBLK\0"` |
 * | 8 | 4 | format version, 1 |
 * | 12 | 4 | block size in bytes |
 * | 16 | 8 | sequence number of this header |
 * | 24 | 8 | blocks in use or free: the high-water mark (the file may hold more, unused, after growth) |
 * | 32 | 8 | byte offset of the first free block, 0 for none |
 * | 40 | 8 | number of free blocks |
 * | 48 | 4 | length of the control data |
 * | 52 | 4 | CRC-32 of bytes 0–51 and of the control data |
 * | 56 | … | control data, up to `blockSize / 2 - 56` bytes |
 *
 * Free blocks form a singly linked list through their first 8 bytes (the
 * offset of the next free block, 0 at the end); the rest of a free block is
 * zero. A block below the high-water mark that is not on the free list is in
 * use.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";

/** `"MMFSBLK\0"`. */
export const MAGIC: Uint8Array = new Uint8Array([0x4d, 0x4d, 0x46, 0x53, 0x42, 0x4c, 0x4b, 0x00]);
export const FORMAT_VERSION = 1;
/** Bytes of a header slot before the control data. */
export const FIXED_HEADER = 56;

/** One header: everything a BlockFile records besides the blocks themselves. */
export interface Header {
  readonly blockSize: number;
  readonly sequence: number;
  readonly blockCount: number;
  readonly freeHead: number;
  readonly freeCount: number;
  readonly control: Uint8Array;
}

/** Why a header slot cannot be used. */
export type SlotProblem = "magic" | "version" | "checksum" | "size";

/** The most control data a block size allows. */
export function maxControlLength(blockSize: number): number {
  return blockSize / 2 - FIXED_HEADER;
}

/** Encodes `header` into a fresh slot image of `blockSize / 2` bytes. */
export function encodeHeader(header: Header): Uint8Array {
  const slot = new Uint8Array(FIXED_HEADER + header.control.length);
  const view = new DataView(slot.buffer);
  slot.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, header.blockSize, true);
  view.setBigUint64(16, BigInt(header.sequence), true);
  view.setBigUint64(24, BigInt(header.blockCount), true);
  view.setBigUint64(32, BigInt(header.freeHead), true);
  view.setBigUint64(40, BigInt(header.freeCount), true);
  view.setUint32(48, header.control.length, true);
  slot.set(header.control, FIXED_HEADER);
  view.setUint32(52, checksum(slot, header.control.length), true);
  return slot;
}

/** Decodes a slot image, or says why it is unusable. */
export function decodeHeader(slot: Uint8Array): Header | SlotProblem {
  for (let i = 0; i < MAGIC.length; i++) if (slot[i] !== MAGIC[i]) return "magic";
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(8, true) !== FORMAT_VERSION) return "version";
  const controlLength = view.getUint32(48, true);
  if (FIXED_HEADER + controlLength > slot.length) return "checksum";
  if (view.getUint32(52, true) !== checksum(slot, controlLength)) return "checksum";
  const header = {
    blockSize: view.getUint32(12, true),
    sequence: Number(view.getBigUint64(16, true)),
    blockCount: Number(view.getBigUint64(24, true)),
    freeHead: Number(view.getBigUint64(32, true)),
    freeCount: Number(view.getBigUint64(40, true)),
    control: slot.slice(FIXED_HEADER, FIXED_HEADER + controlLength),
  };
  if (header.blockSize !== slot.length * 2) return "size";
  return header;
}

function checksum(slot: Uint8Array, controlLength: number): number {
  const fixed = crc32(slot.subarray(0, 52));
  return crc32(slot.subarray(FIXED_HEADER, FIXED_HEADER + controlLength), fixed);
}
