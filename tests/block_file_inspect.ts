// An independent reader of the BlockFile format, written from the table in
// src/block/block_file_format.ts and sharing no code with it: tests check what
// is on disk (or in the page cache, which is what a SIGKILL leaves) with it.
// Throws on any inconsistency; otherwise returns every block's state.

const TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const part of parts) for (const byte of part) c = TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u64 = (view: DataView, at: number) => view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;

export interface Inspected {
  blockSize: number;
  sequence: number;
  /** Which slot (0 or 1) holds the newest header. */
  slot: number;
  highWater: number;
  control: Uint8Array;
  /** Byte offsets of free blocks. */
  free: Set<number>;
  /** Byte offsets of free-list pages. */
  pages: Set<number>;
  /** Byte offsets of blocks in use. */
  inUse: Set<number>;
}

/** Decodes one header slot, or returns why not. */
export function readSlot(bytes: Uint8Array, at: number, blockSize: number) {
  const slot = bytes.subarray(at, at + blockSize / 2);
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (new TextDecoder().decode(slot.subarray(0, 8)) !== "MMFSBLK\0") return "magic";
  if (view.getUint32(8, true) !== 1) return "version";
  const controlLength = view.getUint32(60, true);
  if (64 + controlLength > slot.length) return "checksum";
  if (crc([slot.subarray(0, 12), slot.subarray(16, 64 + controlLength)]) !== view.getUint32(12, true)) {
    return "checksum";
  }
  return {
    blockSize: view.getUint32(16, true),
    sequence: u64(view, 24),
    highWater: u64(view, 32),
    freeHead: u64(view, 40),
    freeCount: u64(view, 48),
    freePages: view.getUint32(56, true),
    control: slot.slice(64, 64 + controlLength),
  };
}

export function inspect(bytes: Uint8Array): Inspected {
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blockSize = head.getUint32(16, true);
  const slots = [readSlot(bytes, 0, blockSize), readSlot(bytes, blockSize / 2, blockSize)];
  const valid = slots.map((s, i) => ({ s, i })).filter(({ s }) => typeof s !== "string");
  if (valid.length === 0) throw new Error(`no valid header slot: ${slots.join(", ")}`);
  valid.sort((a, b) => (b.s as { sequence: number }).sequence - (a.s as { sequence: number }).sequence);
  const header = valid[0].s as Exclude<ReturnType<typeof readSlot>, string>;
  if (header.blockSize !== blockSize) throw new Error("block size differs between slot and file");
  if (header.highWater * blockSize > bytes.length) throw new Error("file shorter than the high-water mark");
  const free = new Set<number>();
  const pages = new Set<number>();
  const inRange = (offset: number) =>
    offset % blockSize === 0 && offset >= blockSize && offset < header.highWater * blockSize;
  for (let offset = header.freeHead; offset !== 0;) {
    if (!inRange(offset) || pages.has(offset)) throw new Error(`bad free-list page ${offset}`);
    pages.add(offset);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, blockSize);
    if (view.getUint32(0, true) !== 0x54534c46) throw new Error(`page ${offset} has no tag`);
    const count = view.getUint32(4, true);
    const page = bytes.subarray(offset, offset + blockSize);
    if (crc([page.subarray(0, 16), page.subarray(24, 24 + 8 * count)]) !== view.getUint32(16, true)) {
      throw new Error(`page ${offset} fails its checksum`);
    }
    for (let i = 0; i < count; i++) {
      const entry = u64(view, 24 + 8 * i);
      if (!inRange(entry) || free.has(entry)) throw new Error(`bad or repeated free entry ${entry}`);
      free.add(entry);
    }
    offset = u64(view, 8);
  }
  if (free.size !== header.freeCount || pages.size !== header.freePages) throw new Error("counts disagree");
  for (const page of pages) if (free.has(page)) throw new Error(`page ${page} also listed free`);
  const inUse = new Set<number>();
  for (let block = 1; block < header.highWater; block++) {
    const offset = block * blockSize;
    if (!free.has(offset) && !pages.has(offset)) inUse.add(offset);
  }
  return {
    blockSize, sequence: header.sequence, slot: valid[0].i, highWater: header.highWater,
    control: header.control, free, pages, inUse,
  };
}
