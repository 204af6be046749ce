/**
 * The {@linkcode BlockStore} a BlockFile gives its free space: blocks of a
 * `MappedFile`, grown with `MappedFile.resize` (posix_fallocate + mremap) —
 * refused while views are held, since a resize may move the mapping and
 * detach every view — and flushed with `MappedFile.sync`.
 *
 * @module
 */

import { OutstandingViewsError } from "./block_file_errors.ts";
import type { BlockStore } from "./free_space.ts";
import type { HeldViews } from "./held_views.ts";
import type { MappedFile } from "../fs/mapped_file.ts";

/**
 * Blocks of `blockSize` bytes in `file`; durable when the file has a path.
 *
 * @example
 * ```ts ignore
 * const space = FreeSpace.create(mappedBlockStore(file, 4096, views));
 * ```
 */
export function mappedBlockStore(file: MappedFile, blockSize: number, views: HeldViews): BlockStore {
  return {
    blockSize,
    path: file.path,
    durable: file.path !== null,
    capacity: () => Math.floor(file.size / blockSize),
    grow: (blocks) => {
      if (views.size > 0) {
        throw new OutstandingViewsError(
          `Cannot grow the BlockFile while ${views.size} view(s) from get() are held: growing may move ` +
            "the mapping under them. Release them first, or make room beforehand with reserve()",
          file.path,
          views.size,
        );
      }
      file.resize(blocks * blockSize);
    },
    bytes: (offset, length) => file.subarray(offset, offset + length),
    flushAll: () => file.sync(),
    flushHeader: () => file.sync({ offset: 0, length: blockSize }),
  };
}
