/**
 * Reading a BlockFile back: find the newest valid header slot, check the file
 * is long enough, and walk the free list — refusing anything inconsistent with
 * a {@linkcode BlockFileCorruptError} rather than guessing.
 *
 * @module
 */

import { pageSize } from "../page_size.ts";
import { decodeHeader, type Header, MAGIC } from "./block_file_format.ts";
import type { MappedFile } from "./mapped_file.ts";

/**
 * The file is not a BlockFile, or is damaged: `code` says how
 * (`ENOTBLOCKFILE`, `ETRUNCATED`, `ECHECKSUM`, `EFREELIST`). Nothing was written.
 *
 * @example
 * ```ts
 * import { BlockFile, BlockFileCorruptError } from "@memmapfs/memmapfs";
 * const path = Deno.makeTempFileSync();
 * Deno.writeTextFileSync(path, "not blocks");
 * try {
 *   BlockFile.open(path);
 * } catch (error) {
 *   if (error instanceof BlockFileCorruptError) console.log(error.code); // "ENOTBLOCKFILE"
 * }
 * ```
 */
export class BlockFileCorruptError extends Error {
  /** What is wrong, as a code. */
  readonly code: "ENOTBLOCKFILE" | "ETRUNCATED" | "ECHECKSUM" | "EFREELIST";
  /** The file. */
  readonly path: string | null;

  /** `what` describes the damage. */
  constructor(what: string, code: BlockFileCorruptError["code"], path: string | null) {
    super(`${path ?? "BlockFile"}: ${what}`);
    this.name = "BlockFileCorruptError";
    this.code = code;
    this.path = path;
  }
}

/**
 * Views from `get()` are still held, so the file cannot grow, free that
 * block, or close.
 *
 * @example
 * ```ts
 * import { BlockFile, OutstandingViewsError } from "@memmapfs/memmapfs";
 * const blocks = BlockFile.anonymous();
 * const view = blocks.get(blocks.allocate());
 * try {
 *   blocks.close();
 * } catch (error) {
 *   console.log(error instanceof OutstandingViewsError); // true
 * }
 * blocks.release(view);
 * blocks.close();
 * ```
 */
export class OutstandingViewsError extends Error {
  /** The file, or `null` for an anonymous BlockFile. */
  readonly path: string | null;

  /** `message` says what was refused and what to do. */
  constructor(message: string, path: string | null) {
    super(message);
    this.name = "OutstandingViewsError";
    this.path = path;
  }
}

/** The current header and the set of free block offsets of a mapped BlockFile. */
export function readHeader(file: MappedFile): { header: Header; free: Set<number> } {
  const header = newestHeader(file);
  const { blockSize } = header;
  if (header.blockCount < 1 || header.blockCount * blockSize > file.size) {
    throw new BlockFileCorruptError(
      `the header counts ${header.blockCount} blocks of ${blockSize} bytes but the file has ${file.size} bytes`,
      "ETRUNCATED",
      file.path,
    );
  }
  return { header, free: walkFreeList(file, header) };
}

/** Tries every block size the file could have; the valid slot with the highest sequence wins. */
function newestHeader(file: MappedFile): Header {
  const size = file.size;
  if (size < 64) throw new BlockFileCorruptError(`only ${size} bytes, too short for a header`, "ETRUNCATED", file.path);
  const sizes = new Set<number>();
  const head = file.subarray(0, 64);
  if (MAGIC.every((byte, i) => head[i] === byte)) sizes.add(new DataView(head.buffer, head.byteOffset).getUint32(12, true));
  for (let candidate = pageSize; candidate <= 1 << 20; candidate *= 2) sizes.add(candidate);
  let best: Header | undefined;
  let sawMagic = false;
  let shortest = Infinity;
  for (const blockSize of sizes) {
    if (blockSize % pageSize !== 0 || blockSize === 0) continue;
    if (blockSize > size) {
      shortest = Math.min(shortest, blockSize);
      continue;
    }
    for (const slot of [0, 1]) {
      const bytes = file.subarray(slot * blockSize / 2, (slot + 1) * blockSize / 2);
      const decoded = decodeHeader(bytes.slice());
      if (decoded !== "magic") sawMagic = true;
      if (typeof decoded === "string") continue;
      if (!best || decoded.sequence > best.sequence) best = decoded;
    }
    if (best) return best;
  }
  if (sawMagic) throw new BlockFileCorruptError("no header slot passes its checksum", "ECHECKSUM", file.path);
  if (MAGIC.every((byte, i) => head[i] === byte)) {
    throw new BlockFileCorruptError(`the header block needs ${shortest} bytes`, "ETRUNCATED", file.path);
  }
  throw new BlockFileCorruptError("not a BlockFile (no magic number)", "ENOTBLOCKFILE", file.path);
}

/** Follows the free list, refusing loops, strays and a count that disagrees. */
function walkFreeList(file: MappedFile, header: Header): Set<number> {
  const free = new Set<number>();
  const limit = header.blockCount * header.blockSize;
  for (let offset = header.freeHead; offset !== 0;) {
    if (offset % header.blockSize !== 0 || offset < header.blockSize || offset >= limit) {
      throw new BlockFileCorruptError(`the free list points at ${offset}, not a data block`, "EFREELIST", file.path);
    }
    if (free.has(offset)) throw new BlockFileCorruptError(`the free list loops at ${offset}`, "EFREELIST", file.path);
    free.add(offset);
    offset = Number(file.getBigUint64(offset, true));
  }
  if (free.size !== header.freeCount) {
    throw new BlockFileCorruptError(
      `the header counts ${header.freeCount} free blocks but the list has ${free.size}`,
      "EFREELIST",
      file.path,
    );
  }
  return free;
}
