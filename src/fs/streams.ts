/**
 * Web streams over a `MappedFile`. A readable stream reads from its own claim
 * on the mapping (an independent read-only handle), so it outlives the file
 * object it came from — `return new Response(file.readable())` inside a
 * `using` block works — and lets the claim go when it ends, errors or is
 * cancelled. Chunks are copies, so they stay valid after everything closes.
 * A writable stream writes at the file's position, like `Deno.FsFile.writable`.
 *
 * @module
 */

/** The part of a claim a readable stream uses. */
export interface RangeSource {
  readAt(target: Uint8Array, offset: number): number;
  close(): void;
}

/** The part of MappedFile a writable stream uses. */
export interface PositionedFile {
  write(source: Uint8Array): number;
}

/** What a readable stream covers. */
export interface StreamRange {
  readonly start: number;
  readonly end: number;
  readonly chunkSize: number;
}

/**
 * A stream dropped without being read to the end or cancelled still lets its
 * claim go once it is collected: the claim's memory is reachable only
 * through the stream, so nobody can be reading it.
 */
const abandoned = new FinalizationRegistry<RangeSource>((source) => {
  try {
    source.close();
  } catch { /* nobody is left to tell */ }
});

/**
 * A stream of copies of `[range.start, range.end)` read from `source` in
 * chunks of at most `range.chunkSize` bytes. It owns `source` and closes it
 * exactly once; `null` means an empty stream.
 *
 * @example
 * ```ts ignore
 * const stream = readableFrom(claim, { start: 0, end: claim.size, chunkSize: 65536 });
 * ```
 */
export function readableFrom(source: RangeSource | null, range: StreamRange): ReadableStream<Uint8Array> {
  let offset = range.start;
  let held = source;
  const token = {};
  const release = () => {
    const claim = held;
    held = null;
    if (!claim) return;
    abandoned.unregister(token);
    claim.close();
  };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!held || offset >= range.end) {
        release();
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(range.chunkSize, range.end - offset));
      try {
        const count = held.readAt(chunk, offset);
        if (count === 0) throw new RangeError(`The range ended early at ${offset}`);
        offset += count;
        controller.enqueue(count === chunk.length ? chunk : chunk.slice(0, count));
        // Let go as soon as the last byte is out, not at the next pull.
        if (offset >= range.end) {
          release();
          controller.close();
        }
      } catch (error) {
        try {
          release();
        } finally {
          controller.error(error);
        }
      }
    },
    cancel() {
      release();
    },
  });
  if (source) abandoned.register(stream, source, token);
  return stream;
}

/**
 * A stream whose chunks are written to `file`. A chunk for which `isOwnView`
 * is true (a view of the file's own mapping) is copied when it is queued: a
 * resize or window slide before its turn would detach it, and it would then
 * be written as nothing.
 *
 * @example
 * ```ts ignore
 * await body.pipeTo(writableTo(file, (chunk) => mapping.holds(chunk)));
 * ```
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
