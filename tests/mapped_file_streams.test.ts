// readable() streams hold their own claim on the mapping: a stream outlives
// the file object it came from (a Response body returned from a `using`
// block), covers any [start, end), and lets its mapping and descriptor go
// when it ends, errors or is cancelled.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MemMapFS, MmapError, pageSize } from "../mod.ts";
import { makeDirectory, mappingsOf, newDescriptors, openDescriptors, pattern, removeDirectory } from "./helpers.ts";

let directory: string;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

let files = 0;
function fileWith(bytes: Uint8Array | string): string {
  const file = path.join(directory, `stream-${files++}.bin`);
  fs.writeFileSync(file, bytes);
  return file;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; sizes: number[] }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { bytes, sizes: chunks.map((chunk) => chunk.length) };
}

const data = pattern(5 * pageSize + 123);

describe("readable() outlives its file", () => {
  const kinds: [string, (file: string) => MappedFile][] = [
    ["read-only", (file) => MappedFile.open(file)],
    ["readwrite", (file) => MappedFile.open(file, { mode: "readwrite" })],
    ["copy-on-write", (file) => MappedFile.open(file, { mode: "copyonwrite" })],
    ["windowed", (file) => MappedFile.open(file, { window: pageSize })],
    ["checked", (file) => MappedFile.open(file, { checked: true })],
    ["offset", (file) => MappedFile.open(file, { offset: 100 })],
  ];
  for (const [kind, open] of kinds) {
    it(`a ${kind} file's Response body is read after its using block ended`, async () => {
      const file = fileWith(data);
      let closedFile: MappedFile | undefined;
      function respond(): Response {
        using mapped = open(file);
        closedFile = mapped;
        return new Response(mapped.readable({ chunkSize: 1000 }));
      }
      const response = respond();
      assert.equal(closedFile!.closed, true);
      const body = new Uint8Array(await response.arrayBuffer());
      const offset = kind === "offset" ? 100 : 0;
      assert.deepEqual(body, data.subarray(offset));
      assert.deepEqual(mappingsOf(file), [], "the stream let its mapping go at the end");
    });
  }

  it("anonymous memory streams after close", async () => {
    const memory = MappedFile.anonymous(3 * pageSize, { shared: true });
    memory.writeAt(pattern(3 * pageSize, 4), 0);
    const stream = memory.readable();
    memory.close();
    assert.deepEqual((await collect(stream)).bytes, pattern(3 * pageSize, 4));
  });

  it("a copy-on-write file's stream shows its private changes", async () => {
    const file = fileWith("original bytes");
    const mapped = MappedFile.open(file, { mode: "copyonwrite" });
    mapped.writeAt("ORIGINAL", 0);
    const stream = mapped.readable();
    mapped.close();
    assert.equal(new TextDecoder().decode((await collect(stream)).bytes), "ORIGINAL bytes");
  });

  it("a readwrite file's stream shows bytes written before the stream started", async () => {
    const file = fileWith(data);
    const mapped = MappedFile.open(file, { mode: "readwrite", sync: "never" });
    mapped.writeAt("written", 10);
    const stream = mapped.readable({ start: 10, end: 17 });
    mapped.close();
    assert.equal(new TextDecoder().decode((await collect(stream)).bytes), "written");
  });

  it("a MemMapFS handle's stream outlives the handle and the file system's cache", async () => {
    const file = fileWith(data);
    const memfs = new MemMapFS({ root: directory });
    const handle = memfs.open(path.basename(file));
    const stream = handle.readable();
    handle.close();
    memfs.close();
    assert.deepEqual((await collect(stream)).bytes, data);
  });
});

describe("readable() ranges", () => {
  it("covers [start, end) in chunks of chunkSize", async () => {
    const file = fileWith(data);
    using mapped = MappedFile.open(file);
    const { bytes, sizes } = await collect(mapped.readable({ start: 10, end: 2510, chunkSize: 1000 }));
    assert.deepEqual(bytes, data.subarray(10, 2510));
    assert.deepEqual(sizes, [1000, 1000, 500]);
  });

  it("starts at the position by default and does not move it", async () => {
    const file = fileWith(data);
    using mapped = MappedFile.open(file);
    mapped.position = 4000;
    assert.deepEqual((await collect(mapped.readable())).bytes, data.subarray(4000));
    assert.equal(mapped.position, 4000);
  });

  it("is empty for start === end and for a position past the end", async () => {
    const file = fileWith(data);
    using mapped = MappedFile.open(file);
    assert.equal((await collect(mapped.readable({ start: 7, end: 7 }))).bytes.length, 0);
    mapped.position = data.length + 50;
    assert.equal((await collect(mapped.readable())).bytes.length, 0);
  });

  it("refuses a start after end and an end past the size before mapping anything", () => {
    const file = fileWith(data);
    using mapped = MappedFile.open(file);
    const before = mappingsOf(file).length;
    assert.throws(() => mapped.readable({ start: 10, end: 5 }), { name: "RangeError", message: /Start 10 is after end 5/ });
    assert.throws(() => mapped.readable({ end: data.length + 1 }), { name: "RangeError", message: /End \d+ is past/ });
    assert.throws(() => mapped.readable({ start: -1 }), { name: "RangeError", message: /Start/ });
    assert.throws(() => mapped.readable({ end: "9" as unknown as number }), { name: "TypeError", message: /End/ });
    assert.equal(mappingsOf(file).length, before);
  });
});

describe("readable() lets go of what it holds", () => {
  it("cancel releases the mapping and the descriptor of a closed readwrite file", async () => {
    const file = fileWith(data);
    const descriptors = openDescriptors();
    const mapped = MappedFile.open(file, { mode: "readwrite" });
    const stream = mapped.readable({ chunkSize: 100 });
    mapped.close();
    assert.ok(mappingsOf(file).length > 0, "the stream keeps its own mapping");
    assert.equal(newDescriptors(descriptors).length, 1, "and its hold on the descriptor");
    const reader = stream.getReader();
    assert.equal((await reader.read()).value?.length, 100);
    await reader.cancel();
    assert.deepEqual(mappingsOf(file), []);
    assert.deepEqual(newDescriptors(descriptors), []);
  });

  it("cancel of a stream that shares a mapping leaves the open file working", async () => {
    const file = fileWith(data);
    using mapped = MappedFile.open(file);
    const view = mapped.subarray(0, 10);
    const stream = mapped.readable();
    await stream.cancel();
    assert.deepEqual(view, data.subarray(0, 10), "the file's own views stay attached");
    mapped.close();
    assert.equal(view.byteLength, 0);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("a stream read to the end holds nothing, whichever closes first", async () => {
    const file = fileWith(data);
    const descriptors = openDescriptors();
    const mapped = MappedFile.open(file, { window: 2 * pageSize });
    const stream = mapped.readable();
    assert.deepEqual((await collect(stream)).bytes, data);
    assert.equal(newDescriptors(descriptors).length, 1, "only the open file's own descriptor");
    mapped.close();
    assert.deepEqual(newDescriptors(descriptors), []);
    assert.deepEqual(mappingsOf(file), []);
  });

  it("a MemMapFS refuses to cut a file that a closed handle's stream still maps", async () => {
    const file = fileWith(data);
    const memfs = new MemMapFS({ root: directory, cache: false });
    const name = path.basename(file);
    const handle = memfs.open(name);
    const stream = handle.readable();
    handle.close();
    assert.throws(() => memfs.truncate(name, 10), (error: unknown) => error instanceof MmapError && error.code === "EBUSY");
    await stream.cancel();
    memfs.truncate(name, 10);
    assert.equal(fs.statSync(file).size, 10);
  });
});
