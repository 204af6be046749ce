/**
 * Reading a BlockFile back: find the newest valid header slot, check the file
 * is long enough for it, and walk and check every free-list page — refusing
 * anything inconsistent with a {@linkcode BlockFileCorruptError} rather than
 * guessing. Only reads: a file that fails is left exactly as it was.
 *
 * @module
 */

import { Bitmap } from "./bitmap.ts";
import { BlockFileCorruptError, type BlockFileCorruptCode } from "./block_file_errors.ts";
import {
  decodeHeader,
  decodePage,
  FORMAT_VERSION,
  type Header,
  HEADER_FIXED,
  MAGIC,
  plausibleBlockSize,
  recordedBlockSize,
} from "./block_file_format.ts";

/** Bytes of a mapped file, as BlockFile reads them. */
export interface ByteSource {
  readonly size: number;
  subarray(start: number, end: number): Uint8Array;
}

/** A checked BlockFile: its newest header and the free space it describes. */
export interface LoadedBlockFile {
  readonly header: Header;
  /** The slot holding `header`; the next commit writes the other one. */
  readonly slot: 0 | 1;
  /** Blocks listed as free. */
  readonly free: Bitmap;
  /** Block numbers of the free-list pages, head first. */
  readonly pages: number[];
  /** Entries on each of `pages`. */
  readonly counts: number[];
}

/**
 * Reads and checks the BlockFile in `file`.
 *
 * @example
 * ```ts ignore
 * const { header, free } = readBlockFile(mapped, mapped.path);
 * ```
 *
 * @throws {BlockFileCorruptError} When the file is not a BlockFile or is damaged.
 */
export function readBlockFile(file: ByteSource, path: string | null): LoadedBlockFile {
  const fail = (what: string, code: BlockFileCorruptCode) => new BlockFileCorruptError(what, code, path);
  const size = file.size;
  if (size === 0) throw fail("the file is empty: no BlockFile header", "ETRUNCATED");
  const head = file.subarray(0, Math.min(size, HEADER_FIXED));
  for (let i = 0; i < Math.min(head.length, MAGIC.length); i++) {
    if (head[i] !== MAGIC[i]) throw fail("not a BlockFile (no magic number)", "ENOTBLOCKFILE");
  }
  if (size < HEADER_FIXED) throw fail(`only ${size} bytes, too short for a header`, "ETRUNCATED");
  const blockSize = recordedBlockSize(head);
  if (!plausibleBlockSize(blockSize)) {
    throw fail(`the header records block size ${blockSize}, which no BlockFile has`, "EHEADER");
  }
  if (size < blockSize) {
    throw fail(`the header block needs ${blockSize} bytes but the file has ${size}`, "ETRUNCATED");
  }
  const { header, slot } = newestHeader(file, blockSize, fail);
  checkHeader(header, size, fail);
  return { header, slot, ...walkFreeList(file, header, fail) };
}

type Fail = (what: string, code: BlockFileCorruptCode) => BlockFileCorruptError;

/** The valid slot with the highest sequence. */
function newestHeader(file: ByteSource, blockSize: number, fail: Fail): { header: Header; slot: 0 | 1 } {
  const half = blockSize / 2;
  let best: { header: Header; slot: 0 | 1 } | undefined;
  let otherVersion: number | undefined;
  for (const slot of [0, 1] as const) {
    const bytes = file.subarray(slot * half, (slot + 1) * half);
    const decoded = decodeHeader(bytes);
    if (decoded === "version") otherVersion = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
    // A slot recording another block size is not one this file wrote.
    if (typeof decoded === "string" || decoded.blockSize !== blockSize) continue;
    if (!best || decoded.sequence > best.header.sequence) best = { header: decoded, slot };
  }
  if (best) return best;
  if (otherVersion !== undefined) {
    throw fail(
      `written by BlockFile format version ${otherVersion}; this memmapfs reads version ${FORMAT_VERSION}`,
      "EVERSION",
    );
  }
  throw fail("neither header slot passes its checksum", "ECHECKSUM");
}

/** Checks the fields of a checksummed header against each other and the file size. */
function checkHeader(header: Header, size: number, fail: Fail): void {
  const { blockSize, highWater, freeHead, freeCount, freePages } = header;
  if (!Number.isSafeInteger(highWater) || highWater < 1) {
    throw fail(`the header's high-water mark ${highWater} is not a block count`, "EHEADER");
  }
  if (highWater * blockSize > size) {
    throw fail(
      `the header counts ${highWater} blocks of ${blockSize} bytes (${highWater * blockSize} bytes) ` +
        `but the file has ${size}`,
      "ETRUNCATED",
    );
  }
  if ((freeHead === 0) !== (freePages === 0) || !(freeCount + freePages <= highWater - 1)) {
    throw fail(
      `the header's free list (head ${freeHead}, ${freeCount} blocks on ${freePages} pages) ` +
        `does not fit ${highWater} blocks`,
      "EHEADER",
    );
  }
}

/** Follows the chain of free-list pages, refusing loops, strays, repeats and wrong counts. */
function walkFreeList(
  file: ByteSource,
  header: Header,
  fail: Fail,
): { free: Bitmap; pages: number[]; counts: number[] } {
  const { blockSize, highWater } = header;
  const free = new Bitmap(highWater);
  const isPage = new Bitmap(highWater);
  const pages: number[] = [];
  const counts: number[] = [];
  let total = 0;
  /** The block number of a byte offset, if it names a data block below the high-water mark. */
  const blockAt = (offset: number, what: string): number => {
    const index = offset / blockSize;
    if (!Number.isInteger(index) || index < 1 || index >= highWater) {
      throw fail(`${what} ${offset} is not a data block below the high-water mark`, "EFREELIST");
    }
    return index;
  };
  for (let offset = header.freeHead; offset !== 0;) {
    if (pages.length === header.freePages) {
      throw fail(`the free list runs past the ${header.freePages} pages the header counts (a loop?)`, "EFREELIST");
    }
    const page = blockAt(offset, "the free list points at");
    if (isPage.has(page)) throw fail(`the free list loops at ${offset}`, "EFREELIST");
    isPage.add(page);
    const decoded = decodePage(file.subarray(offset, offset + blockSize));
    if (typeof decoded === "string") throw fail(`the free-list page at ${offset} ${decoded}`, "EFREELIST");
    for (const entry of decoded.entries) {
      const block = blockAt(entry, `the free-list page at ${offset} lists`);
      if (free.has(block)) throw fail(`block ${entry} is listed free twice`, "EFREELIST");
      free.add(block);
    }
    pages.push(page);
    counts.push(decoded.entries.length);
    total += decoded.entries.length;
    offset = decoded.next;
  }
  if (pages.length !== header.freePages || total !== header.freeCount) {
    throw fail(
      `the header counts ${header.freeCount} free blocks on ${header.freePages} pages ` +
        `but the list has ${total} on ${pages.length}`,
      "EFREELIST",
    );
  }
  for (const page of pages) {
    if (free.has(page)) throw fail(`block ${page * blockSize} is both a free-list page and listed free`, "EFREELIST");
  }
  return { free, pages, counts };
}
