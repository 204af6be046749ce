/**
 * Web streams over a `MappedFile`, reading and writing at its position like
 * `Deno.FsFile.readable` and `.writable`. Chunks read are copies, so they stay
 * valid after the file closes.
 *
 * @module
 */

/** The part of MappedFile the streams use. */
export interface PositionedFile {
  read(target: Uint8Array): number;
  write(source: Uint8Array): number;
}

/** A stream of copies read from `file` in chunks of `chunkSize` bytes. */
export function readableFrom(file: PositionedFile, chunkSize: number): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = new Uint8Array(chunkSize);
      const count = file.read(chunk);
      if (count === 0) {
        controller.close();
        return;
      }
      controller.enqueue(count === chunkSize ? chunk : chunk.slice(0, count));
    },
  });
}

/**
 * A stream whose chunks are written to `file`. A chunk for which `isOwnView`
 * is true (a view of the file's own mapping) is copied when it is queued: a
 * resize or window slide before its turn would detach it, and it would then
 * be written as nothing.
 */
export function writableTo(file: PositionedFile, isOwnView: (chunk: Uint8Array) => boolean = () => false): WritableStream<Uint8Array> {
  // What size() saw, in order: the sink writes chunks in the order they were queued.
  const queued: Uint8Array[] = [];
  return new WritableStream<Uint8Array>({
    write(chunk) {
      file.write(queued.shift() ?? chunk);
    },
  }, {
    // Called as write() queues the chunk, before any other code can run.
    size(chunk) {
      queued.push(chunk instanceof Uint8Array && isOwnView(chunk) ? chunk.slice() : chunk);
      return 1;
    },
  });
}
