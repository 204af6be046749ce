// The platform seam (src/os/platform.ts): nothing above src/os names the
// operating system, and the classes above it work on a platform shaped like
// Windows — offsets aligned to a 64 KiB allocation granularity instead of the
// page, no mremap, no partial unmap, no in-place overlay, no residency, no
// memory file, no shared-memory unlink — which is what a back-end without
// those powers relies on.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BlockFile, MappedFile, MemMapFS, MmapError, pageSize, SharedMemory } from "../mod.ts";
import { platform, usePlatform } from "../src/os/mod.ts";
import type { Platform, PlatformMapping, PlatformMapRequest } from "../src/os/platform.ts";
import { makeDirectory, mappingsOf, pattern, removeDirectory } from "./helpers.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(here, "..", "src");

/** The source text of `file` without its comments and string contents (quotes kept, empty). */
function codeOnly(text: string): string {
  let out = "";
  for (let i = 0; i < text.length;) {
    const two = text.slice(i, i + 2);
    if (two === "//") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (two === "/*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (text[i] === '"' || text[i] === "'" || text[i] === "`") {
      const quote = text[i++];
      while (i < text.length && text[i] !== quote) i += text[i] === "\\" ? 2 : 1;
      i++;
      out += quote + quote;
    } else {
      out += text[i++];
    }
  }
  return out;
}

function sourcesAbove(): string[] {
  const found: string[] = [];
  const walk = (directory: string) => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      const relative = path.relative(src, full);
      if (entry.isDirectory()) {
        if (relative !== "os" && relative !== "ffi") walk(full);
      } else if (entry.name.endsWith(".ts")) {
        found.push(full);
      }
    }
  };
  walk(src);
  return found;
}

describe("nothing above src/os knows which system runs", () => {
  it("no file outside src/os and src/ffi uses a POSIX constant, a libc call or the Libc binding", () => {
    const files = sourcesAbove();
    assert.ok(files.length > 40, `found only ${files.length} files under src/`);
    const constant = /\b(?:MAP_[A-Z]+|PROT_[A-Z]+|O_[A-Z]{3,}|MS_A?SYNC|MADV_[A-Z_]+|MREMAP_[A-Z]+|S_IF[A-Z]+|LOCK_(?:EX|NB|UN)|AT_[A-Z_]+|MFD_[A-Z_]+|POSIX_FADV_[A-Z]+|RESOLVE_[A-Z_]+)\b/;
    const call = /\.(?:mmap|munmap|mremap|mprotect|madvise|msync|mlock|munlock|mincore|flock|shmOpen|shmUnlink|memfdCreate|ftruncate|fstat|fstatat|openat2?|posixFallocate|posixFadvise|futexWait|futexWake|geteuid|kill)\(/;
    const binding = /\bLibc\b|\berrnoNames\b|\.constants\b/;
    const offenders: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(file, "utf8");
      const code = codeOnly(text);
      const imports = [...text.matchAll(/from\s+"([^"]+)"/g)].map((match) => match[1]);
      const ffiImport = imports.find((specifier) => /\/ffi\/(?:libc|mod|native|deno|bun|node)\.ts$/.test(specifier));
      const what = code.match(constant)?.[0] ?? code.match(call)?.[0] ?? code.match(binding)?.[0] ?? ffiImport;
      if (what) offenders.push(`${path.relative(src, file)}: ${what}`);
    }
    assert.deepEqual(offenders, []);
  });

  it("the check finds what it looks for (it would catch a regression)", () => {
    const planted = 'import { libc } from "../ffi/mod.ts"; // a comment naming MAP_SHARED is fine\n' +
      "const flags = libc().constants.MAP_SHARED; const s = 'PROT_READ';";
    const code = codeOnly(planted);
    assert.match(code, /\bMAP_SHARED\b/);
    assert.doesNotMatch(code, /PROT_READ|comment/);
  });
});

/**
 * The runtime's platform with the powers a Windows back-end lacks taken away,
 * a 64 KiB allocation granularity laid over its mappings (recording the
 * deltas it hands out), and Windows's refusal to change a file's size while
 * a view of it is mapped (error 1224, EBUSY).
 */
function windowsShaped(inner: Platform): Platform & { deltas: number[] } {
  const granularity = 65536;
  const absent = new Set<PropertyKey>([
    "remap", "unmapTail", "overlay", "resident", "createMemoryFile", "unlinkSharedMemory", "adviseFile", "reopenInProcess",
  ]);
  const deltas: number[] = [];
  /** Views mapped now: address → the file they show. */
  const views = new Map<bigint, number | null>();
  const map = (request: PlatformMapRequest): PlatformMapping => {
    const delta = request.offset % granularity;
    const mapped = inner.map({ ...request, offset: request.offset - delta, length: request.length + delta });
    assert.equal(mapped.delta, 0, "the inner platform maps an offset aligned to 64 KiB from its start");
    deltas.push(delta);
    views.set(mapped.address, request.file);
    return { ...mapped, delta };
  };
  const unmap = (address: bigint, length: number, label: string | null) => {
    const error = inner.unmap(address, length, label);
    if (!error) views.delete(address);
    return error;
  };
  const pinned = (file: number, label: string | null) => {
    if ([...views.values()].includes(file)) throw inner.error("EBUSY", "SetEndOfFile", label);
  };
  const setSize = (file: number, newSize: number, oldSize: number, label: string | null) => {
    pinned(file, label);
    inner.setSize(file, newSize, oldSize, label);
  };
  const truncateFile = (file: number, size: number, label: string | null) => {
    pinned(file, label);
    inner.truncateFile(file, size, label);
  };
  return new Proxy(inner as Platform & { deltas: number[] }, {
    get(target, key) {
      if (absent.has(key)) return undefined;
      if (key === "granularity") return granularity;
      if (key === "map") return map;
      if (key === "unmap") return unmap;
      if (key === "setSize") return setSize;
      if (key === "truncateFile") return truncateFile;
      if (key === "viewsPinFileSize") return true;
      if (key === "deltas") return deltas;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("the classes above the seam on a platform shaped like Windows", () => {
  let directory: string;
  let shaped: ReturnType<typeof windowsShaped>;
  let native: Platform;
  before(() => {
    directory = makeDirectory();
    native = platform();
    shaped = windowsShaped(native);
    usePlatform(shaped);
  });
  after(() => {
    usePlatform(null);
    removeDirectory(directory);
  });

  it("maps any byte offset through a 64 KiB-aligned view, writes through, syncs, grows and shrinks by mapping anew, unmapped while the file's size changes", () => {
    const file = path.join(directory, "offset.bin");
    const size = 3 * 65536 + 1234;
    const bytes = pattern(size, 7);
    fs.writeFileSync(file, bytes);
    const offset = 65536 + 4464; // not a multiple of 64 KiB, a multiple of 16 bytes
    shaped.deltas.length = 0;
    {
      using mapped = MappedFile.open(file, { mode: "readwrite", offset, length: 70_000 });
      assert.deepEqual(shaped.deltas, [4464], "the view starts 4464 bytes before the wanted offset");
      assert.deepEqual(mapped.bytes, bytes.subarray(offset, offset + 70_000));
      mapped.bytes[0] = 0xab;
      mapped.setUint32(69_996, 0xdeadbeef);
      mapped.sync();
      assert.equal(fs.readFileSync(file)[offset], 0xab);
      // Growing inside the file: no mremap here, so the range is mapped anew at the same delta.
      mapped.resize(100_000);
      assert.equal(mapped.getUint32(69_996), 0xdeadbeef);
      assert.deepEqual(mapped.bytes.subarray(70_000), bytes.subarray(offset + 70_000, offset + 100_000));
      // Growing the file: the view goes, the file grows, the range is mapped again.
      mapped.resize(70_000 + 100_000);
      assert.equal(mapped.getUint32(69_996), 0xdeadbeef);
      assert.equal(mapped.bytes[0], 0xab);
      mapped.bytes[169_999] = 0x5a;
      mapped.sync();
      const grown = fs.readFileSync(file);
      assert.equal(grown.length, offset + 170_000);
      assert.equal(new DataView(grown.buffer, grown.byteOffset).getUint32(offset + 69_996), 0xdeadbeef);
      assert.equal(grown[offset + 169_999], 0x5a);
      // Shrinking (the range ends the file, so the file is cut): no partial unmap here either.
      mapped.resize(1000);
      assert.equal(mapped.size, 1000);
      assert.equal(mapped.bytes[0], 0xab);
      assert.deepEqual(mapped.bytes.subarray(1, 1000), bytes.subarray(offset + 1, offset + 1000));
      mapped.sync();
      assert.ok(shaped.deltas.length >= 3 && shaped.deltas.every((delta) => delta === 4464), `deltas ${shaped.deltas}`);
    }
    const after = fs.readFileSync(file);
    assert.equal(after.length, offset + 1000);
    assert.equal(after[offset], 0xab);
    // Where the process's mappings can be listed (Linux), none of the file is left.
    if (fs.existsSync("/proc/self/maps")) assert.deepEqual(mappingsOf(file), [], "every view, old and new, was unmapped");
  });

  it("a window slides across 64 KiB boundaries and reads every byte where it is", () => {
    const file = path.join(directory, "window.bin");
    const bytes = pattern(5 * 65536 + 77, 3);
    fs.writeFileSync(file, bytes);
    using mapped = MappedFile.open(file, { window: pageSize * 2, offset: 100 });
    const copy = new Uint8Array(bytes.length - 100);
    assert.equal(mapped.readAt(copy, 0), copy.length);
    assert.deepEqual(copy, bytes.subarray(100));
    assert.equal(mapped.getUint8(3 * 65536), bytes[100 + 3 * 65536]);
  });

  it("private anonymous memory keeps its bytes across growth and shrinking by copy", () => {
    using memory = MappedFile.anonymous(pageSize);
    memory.bytes.set(pattern(pageSize, 1));
    memory.resize(pageSize * 5);
    assert.deepEqual(memory.bytes.subarray(0, pageSize), pattern(pageSize, 1));
    memory.bytes[pageSize * 5 - 1] = 9;
    memory.resize(10);
    assert.deepEqual(memory.bytes, pattern(pageSize, 1).subarray(0, 10));
  });

  it("a platform without residency says so: resident() is ENOSYS, nothing else changes", () => {
    const file = path.join(directory, "resident.bin");
    fs.writeFileSync(file, pattern(pageSize));
    using mapped = MappedFile.open(file);
    assert.throws(() => mapped.resident(), (error: unknown) => error instanceof MmapError && error.code === "ENOSYS");
    assert.equal(mapped.bytes[1], pattern(pageSize)[1]);
  });

  it("shared anonymous memory without a memory file is fixed-size: growth is ENOTSUP", () => {
    using memory = MappedFile.anonymous(pageSize, { shared: true });
    memory.bytes[0] = 1;
    assert.throws(() => memory.resize(pageSize * 2), (error: unknown) => error instanceof MmapError && error.code === "ENOTSUP");
    assert.equal(memory.bytes[0], 1);
  });

  it("MemMapFS, SharedMemory and BlockFile work unchanged", () => {
    using fsys = new MemMapFS({ root: directory });
    fsys.writeFile("note.txt", "through the seam");
    {
      using note = fsys.open("note.txt");
      assert.equal(new TextDecoder().decode(note.bytes), "through the seam");
    }
    fsys.truncate("note.txt", 7);
    assert.equal(fsys.stat("note.txt").size, 7);
    assert.deepEqual(fsys.readDir(".").filter((entry) => entry.isFile).map((entry) => entry.name).includes("note.txt"), true);

    const region = SharedMemory.create({ size: 100 });
    try {
      region.bytes[5] = 55;
      using reader = SharedMemory.open(region.name!, { readonly: true });
      assert.equal(reader.bytes[5], 55);
      region.unlink(); // no unlink on this platform: the name stays until the last handle goes
      using again = SharedMemory.open(region.name!);
      assert.equal(again.bytes[5], 55);
    } finally {
      region.close();
      native.unlinkSharedMemory?.(region.name!); // the runtime's own platform removes the name here
    }

    const blocks = path.join(directory, "blocks.db");
    {
      using store = BlockFile.create(blocks);
      const at = store.allocate();
      store.with(at, 1, (view) => view.set([1, 2, 3]));
      store.setControlData(new Uint8Array([at / store.blockSize]));
      store.sync();
    }
    using store = BlockFile.open(blocks);
    const at = store.controlData()[0] * store.blockSize;
    assert.deepEqual([...store.with(at, 1, (view) => view.slice(0, 3))], [1, 2, 3]);
  });
});
