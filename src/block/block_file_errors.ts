/**
 * The errors particular to {@linkcode BlockFile}: a file that is not (or no
 * longer) a valid BlockFile, and an operation refused because views are held.
 *
 * @module
 */

/**
 * What is wrong with a file {@linkcode BlockFileCorruptError} refuses.
 *
 * @example
 * ```ts
 * import { BlockFile, BlockFileCorruptError } from "@memmapfs/memmapfs";
 * const path = Deno.makeTempFileSync();
 * try {
 *   BlockFile.open(path);
 * } catch (error) {
 *   if (error instanceof BlockFileCorruptError) console.log(error.code); // "ETRUNCATED"
 * }
 * ```
 */
export type BlockFileCorruptCode =
  /** No BlockFile magic number at the start: some other kind of file. */
  | "ENOTBLOCKFILE"
  /** Written by a format version this code does not read. */
  | "EVERSION"
  /** Shorter than its header says: cut by a copy, a truncate or a full disk. */
  | "ETRUNCATED"
  /** Neither header slot passes its CRC-32. */
  | "ECHECKSUM"
  /** A checksummed header whose fields contradict each other or the file. */
  | "EHEADER"
  /** The free list is damaged: a bad page, a stray or repeated entry, a loop, a wrong count. */
  | "EFREELIST";

/**
 * The file is not a BlockFile, or is damaged: `code` says how. `open` throws
 * it before writing anything, so the file is left exactly as it was.
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
  readonly code: BlockFileCorruptCode;
  /** The file, or `null` for an anonymous BlockFile. */
  readonly path: string | null;

  /** `what` describes the damage; the message starts with the path. */
  constructor(what: string, code: BlockFileCorruptCode, path: string | null) {
    super(`${path ?? "BlockFile"}: ${what}`);
    this.name = "BlockFileCorruptError";
    this.code = code;
    this.path = path;
  }
}

/**
 * Views from `get()` are still held, so the BlockFile will not grow (growing
 * may move the mapping under them), free a block they show, or close.
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
  /** How many views were held. */
  readonly views: number;

  /** `message` says what was refused and what to do. */
  constructor(message: string, path: string | null, views: number) {
    super(message);
    this.name = "OutstandingViewsError";
    this.path = path;
    this.views = views;
  }
}
