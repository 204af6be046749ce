// Model-based fuzzing (issue 7.4). fast-check runs random command sequences on the library and
// on a plain model, and after every command compares return values, thrown errors, what the
// handles show and the files as node:fs reads them.
// - MappedFile: open (again after close), write, writeAt, read, readAt, seek with every whence
//   and the position setter, resize (to 0 too), sync, zero-copy views written through, typed
//   accessors, close and use after close, against a Uint8Array. Windows of one or two pages make
//   slides constant, and offsets cluster around page edges so accesses straddle windows.
// - MemMapFS: writeFile, readFile, open (handles kept and closed later), openFile with every
//   flag, create, truncate, rename, remove, against a map of names to files, with a small
//   mapping cache so entries are evicted and invalidated all the time.
// Deterministic: the seed below unless MEMMAPFS_FUZZ_SEED is set; MEMMAPFS_FUZZ_RUNS scales the
// runs. A failure prints the shrunk commands and MEMMAPFS_FUZZ_TARGET=… MEMMAPFS_FUZZ_SEED=…
// MEMMAPFS_FUZZ_PATH=… MEMMAPFS_FUZZ_REPLAY=…, which replay exactly that failure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import fc from "fast-check";
import { ClosedError, MappedFile, MemMapFS, MmapError, pageSize } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

const DEFAULT_SEED = 0x6d6d6170; // "mmap"
const seed = envInteger("MEMMAPFS_FUZZ_SEED") ?? DEFAULT_SEED;
const scale = (envInteger("MEMMAPFS_FUZZ_RUNS") ?? 300) / 300;
const replay = { path: process.env.MEMMAPFS_FUZZ_PATH || undefined, commands: process.env.MEMMAPFS_FUZZ_REPLAY || undefined };
const PAGES = 6; // offsets reach about this many pages, so files stay a few pages long

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got "${text}"`);
  return value;
}

const stats = new Map<string, number>();
const count = (name: string) => stats.set(name, (stats.get(name) ?? 0) + 1);

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) assert.fail(`${what}: ${actual.length} bytes, the model has ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: byte ${i} is ${actual[i]}, the model has ${expected[i]}`);
  }
}

function throwsExactly(work: () => unknown, kind: new (...args: never[]) => Error, what: string, code?: string): void {
  assert.throws(work, (error: unknown) => {
    assert.equal((error as Error)?.constructor, kind, `${what}: ${String(error)}`);
    if (code) assert.equal((error as MmapError).code, code, `${what}: ${String(error)}`);
    if (code) count(code);
    return true;
  }, `${what} should throw ${kind.name} ${code ?? ""}`);
}

function describeBytes(bytes: Uint8Array): string {
  return bytes.length <= 8 ? `[${bytes.join(",")}]` : `${bytes.length} bytes from ${bytes[0]}`;
}

/** Grows or cuts `bytes` to `size`, zero-filled. */
function sized(bytes: Uint8Array, size: number): Uint8Array {
  const result = new Uint8Array(size);
  result.set(bytes.subarray(0, size));
  return result;
}

/** A command with a label, run when `applies`, after which `verify` compares everything. */
function command<M extends object, R>(label: string, applies: (m: Readonly<M>) => boolean, run: (m: M, r: R) => void, verify: (m: M, r: R) => void): fc.Command<M, R> {
  return {
    check: applies,
    run: (m, r) => {
      count(label.slice(0, label.indexOf("(")).replace(/^[gs]et(Uint|Int|Float|BigUint).*/, "typed"));
      run(m, r);
      verify(m, r);
    },
    toString: () => label,
  };
}

// ---------------------------------------------------------------------------------------------
// MappedFile against a Uint8Array.

type Mode = "readwrite" | "readonly" | "copyonwrite";
interface OpenOptions {
  mode: Mode;
  window: number | undefined;
  offset: number;
  length: number | undefined;
  sync: "immediate" | "lazy" | "never" | "periodic";
  append: boolean;
}
interface Model {
  file: Uint8Array;
  open: boolean;
  options: OpenOptions;
  position: number;
  /** The private copy of the range while open "copyonwrite"; the file never sees it. */
  private: Uint8Array | null;
}
interface Real {
  path: string;
  handle: MappedFile | null;
}

/** Set by the canary test only: the model forgets the last byte of every write. */
let injectedModelBug = false;

const rangeOf = (m: Model) =>
  m.private ?? m.file.subarray(m.options.offset, m.options.length === undefined ? undefined : m.options.offset + m.options.length);
/**
 * Resizing makes the range `size` bytes. The file grows to hold the range and
 * is cut only where the range reached its end: bytes past a shorter range stay.
 */
function setRangeSize(m: Model, size: number): void {
  const oldEnd = m.options.offset + rangeOf(m).length;
  const newEnd = m.options.offset + size;
  const cuts = oldEnd >= m.file.length;
  m.file = sized(m.file, newEnd > m.file.length || cuts ? newEnd : m.file.length);
  if (m.options.length !== undefined) m.options.length = size;
}

/** What writeAt must do: return a count, or throw TypeError (read-only; copy-on-write growth). */
function modelWriteAt(m: Model, bytes: Uint8Array, at: number): number | TypeErrorConstructor {
  if (m.options.mode === "readonly") return TypeError;
  if (bytes.length === 0) return 0;
  const end = at + bytes.length;
  if (end > rangeOf(m).length && m.options.mode === "copyonwrite") return TypeError;
  if (end > rangeOf(m).length) setRangeSize(m, end);
  rangeOf(m).set(injectedModelBug ? bytes.subarray(0, bytes.length - 1) : bytes, at);
  return bytes.length;
}

/**
 * The file through node:fs always; for an open handle its size, position and every byte read
 * through the mapping, after which the window goes back where it was, so that the checks do
 * not decide where the next command finds it.
 */
function verifyFile(m: Model, r: Real): void {
  sameBytes(fs.readFileSync(r.path), m.file, "file on disk (node:fs)");
  const handle = r.handle;
  if (!m.open || !handle) return;
  const range = rangeOf(m);
  assert.equal(handle.size, range.length, "size");
  assert.equal(handle.position, m.position, "position");
  const window = handle.windowOffset;
  const mapped = new Uint8Array(range.length);
  assert.equal(handle.readAt(mapped, 0), range.length, "readAt of the whole range");
  sameBytes(mapped, range, "mapped bytes");
  if (window < range.length) handle.getUint8(window);
}

/** A command on the open handle; counts the window slides it causes. */
function onHandle(label: string, run: (m: Model, handle: MappedFile) => void): fc.Command<Model, Real> {
  return command<Model, Real>(label, (m) => m.open, (m, r) => {
    const window = r.handle!.windowOffset;
    run(m, r.handle!);
    if (r.handle!.windowOffset !== window) count("slides");
  }, verifyFile);
}

function open(options: OpenOptions): fc.Command<Model, Real> {
  return command<Model, Real>(`open(${JSON.stringify(options)})`, (m) => !m.open, (m, r) => {
    const { mode, offset, sync } = options;
    const { length } = options;
    if (mode === "copyonwrite" && options.window !== undefined) {
      // A slide would drop the private changes, so the combination is refused.
      return throwsExactly(() => MappedFile.open(r.path, { mode, window: options.window }), TypeError, "copy-on-write window");
    }
    const window = options.window;
    const append = options.append && mode === "readwrite";
    const opening = () => MappedFile.open(r.path, { mode, window, offset, length, sync, ...(append ? { append } : {}) });
    if (offset + (length ?? 0) > m.file.length) return throwsExactly(opening, RangeError, "open past the end");
    r.handle = opening();
    Object.assign(m, { open: true, options: { ...options, window, length, append }, position: 0 });
    m.private = mode === "copyonwrite" ? rangeOf(m).slice() : null;
    assert.equal(r.handle.mode, mode);
  }, verifyFile);
}

const close = () =>
  command<Model, Real>("close()", (m) => m.open, (m, r) => {
    r.handle!.close();
    assert.equal(r.handle!.closed, true);
    r.handle!.close(); // a second close does nothing
    Object.assign(m, { open: false, private: null });
    r.handle = null;
  }, verifyFile);

const useAfterClose = (which: number) =>
  command<Model, Real>(`useAfterClose(${which})`, (m) => !m.open, (_m, r) => {
    const handle = MappedFile.open(r.path);
    handle.close();
    const uses = [
      () => handle.readAt(new Uint8Array(1), 0), () => handle.write("x"), () => handle.seek(0),
      () => handle.resize(1), () => handle.sync(), () => handle.bytes, () => handle.subarray(0, 0),
      () => handle.getUint8(0),
    ];
    throwsExactly(uses[which % uses.length], ClosedError, `use ${which} after close`);
  }, verifyFile);

const writeAt = (bytes: Uint8Array, at: number) =>
  onHandle(`writeAt(${describeBytes(bytes)}, ${at})`, (m, handle) => {
    const expected = modelWriteAt(m, bytes, at);
    if (typeof expected !== "number") throwsExactly(() => handle.writeAt(bytes, at), TypeError, "writeAt");
    else assert.equal(handle.writeAt(bytes, at), expected, "writeAt");
  });

const write = (bytes: Uint8Array) =>
  onHandle(`write(${describeBytes(bytes)})`, (m, handle) => {
    if (m.options.append) m.position = rangeOf(m).length;
    const expected = modelWriteAt(m, bytes, m.position);
    if (typeof expected !== "number") return throwsExactly(() => handle.write(bytes), TypeError, "write");
    m.position += expected;
    assert.equal(handle.write(bytes), expected, "write");
  });

const readAt = (length: number, at: number) =>
  onHandle(`readAt(${length}, ${at})`, (m, handle) => {
    const target = new Uint8Array(length).fill(0xee);
    const expected = rangeOf(m).subarray(at, at + length);
    assert.equal(handle.readAt(target, at), expected.length, "readAt");
    sameBytes(target.subarray(0, expected.length), expected, "readAt");
    assert.ok(target.subarray(expected.length).every((byte) => byte === 0xee), "readAt wrote past its count");
  });

const read = (length: number) =>
  onHandle(`read(${length})`, (m, handle) => {
    const target = new Uint8Array(length);
    const expected = rangeOf(m).subarray(m.position, m.position + length);
    assert.equal(handle.read(target), expected.length, "read");
    sameBytes(target.subarray(0, expected.length), expected, "read");
    m.position += expected.length;
  });

type Whence = "start" | "current" | "end" | "position" | "default";
const seek = (offset: number, whence: Whence) =>
  onHandle(whence === "position" ? `position(= ${offset})` : `seek(${offset}, "${whence}")`, (m, handle) => {
    const base = whence === "current" ? m.position : whence === "end" ? rangeOf(m).length : 0;
    const move = whence === "position"
      ? () => (handle.position = offset)
      : whence === "default" ? () => handle.seek(offset) : () => handle.seek(offset, whence);
    if (base + offset < 0) return throwsExactly(move, RangeError, "seek before 0");
    assert.equal(move(), base + offset, "seek");
    m.position = base + offset;
  });

const resize = (size: number) =>
  onHandle(`resize(${size})`, (m, handle) => {
    if (m.options.mode !== "readwrite") return throwsExactly(() => handle.resize(size), TypeError, "resize");
    handle.resize(size);
    setRangeSize(m, size);
  });

const sync = (options: { offset?: number; length?: number; async?: boolean } | undefined) =>
  onHandle(`sync(${options === undefined ? "" : JSON.stringify(options)})`, (m, handle) => {
    // A private mapping has no file to write to.
    if (m.options.mode === "copyonwrite") throwsExactly(() => handle.sync(options), TypeError, "sync");
    else handle.sync(options);
  });

/** A zero-copy view (which slides the window), compared and, when writable, written through. */
const view = (start: number, length: number, fill: number | null) =>
  onHandle(`subarray(${start}, ${start + length}${fill === null ? "" : `, fill ${fill}`})`, (m, handle) => {
    const range = rangeOf(m);
    const end = start + length;
    if (end > range.length) return throwsExactly(() => handle.subarray(start, end), RangeError, "subarray");
    const bytes = handle.subarray(start, end);
    sameBytes(bytes, range.subarray(start, end), "subarray");
    if (fill === null || m.options.mode === "readonly") return;
    for (let i = 0; i < bytes.length; i++) bytes[i] = range[start + i] = (fill + i) & 0xff;
  });

const TYPES = [["Uint8", 1], ["Uint16", 2], ["Int32", 4], ["Float64", 8], ["BigUint64", 8]] as const;
type Accessor = (...args: unknown[]) => unknown;

/** The get and set accessors at any offset, straddling windows where they fall on an edge. */
const typed = (type: number, set: boolean, at: number, number: number, le: boolean) => {
  const [name, size] = TYPES[type];
  const method = `${set ? "set" : "get"}${name}`;
  const value = name === "BigUint64" ? BigInt(Math.abs(number)) * 977n : name === "Float64" ? number / 7 : number;
  return onHandle(`${method}(${at}${set ? `, ${value}` : ""}, ${le})`, (m, handle) => {
    const call = () => (handle[method as "getUint8"] as Accessor).apply(handle, set ? [at, value, le] : [at, le]);
    if (set && m.options.mode === "readonly") return throwsExactly(call, TypeError, method);
    const range = rangeOf(m);
    if (at + size > range.length) return throwsExactly(call, RangeError, method);
    const scratch = new DataView(new ArrayBuffer(8));
    const bytes = new Uint8Array(scratch.buffer, 0, size);
    if (set) {
      (scratch[method as "getUint8"] as Accessor).call(scratch, 0, value, le);
      assert.equal(call(), undefined);
      range.set(bytes, at);
    } else {
      bytes.set(range.subarray(at, at + size));
      const expected = (scratch[method as "getUint8"] as Accessor).call(scratch, 0, le);
      assert.ok(Object.is(call(), expected), `${method}: model has ${expected}`);
    }
  });
};

// Offsets anywhere in a few pages, or a few bytes either side of a page edge.
const offset = fc.oneof(
  fc.integer({ min: 0, max: PAGES * pageSize }),
  fc.tuple(fc.integer({ min: 0, max: PAGES }), fc.integer({ min: -9, max: 9 }))
    .map(([page, delta]) => Math.max(0, page * pageSize + delta)),
  fc.integer({ min: 0, max: 16 }),
);
// Small random bytes, or longer patterned runs that cross one or two page edges.
const bytes = (longest: number) =>
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 12 }),
    fc.tuple(fc.integer({ min: 1, max: longest }), fc.integer({ min: 0, max: 255 }))
      .map(([length, start]) => Uint8Array.from({ length }, (_, i) => (start + i * 7) & 0xff)),
  );
const length = fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 2 * pageSize + 100 }));
const openOptions: fc.Arbitrary<OpenOptions> = fc.record({
  mode: fc.constantFrom<Mode>("readwrite", "readwrite", "readwrite", "readonly", "copyonwrite"),
  // Rounded up to whole pages by the library: 1 byte means one page.
  window: fc.constantFrom(undefined, 1, pageSize, 2 * pageSize, pageSize + 1),
  offset: fc.oneof(fc.constant(0), fc.constant(0), offset),
  length: fc.option(fc.integer({ min: 0, max: 2 * pageSize }), { nil: undefined }),
  sync: fc.constantFrom<OpenOptions["sync"]>("lazy", "immediate", "never", "periodic"),
  append: fc.boolean(),
});

const MAPPED_FILE_COMMANDS = 100;
// Weighted so that a run mostly works on an open file but reopens a few times.
const mappedFileCommands = fc.commands([fc.oneof(
  { arbitrary: openOptions.map(open), weight: 6 },
  { arbitrary: fc.constant(null).map(close), weight: 1 },
  { arbitrary: fc.nat(7).map(useAfterClose), weight: 1 },
  { arbitrary: fc.tuple(bytes(2 * pageSize + 100), offset).map(([data, at]) => writeAt(data, at)), weight: 10 },
  { arbitrary: bytes(2 * pageSize + 100).map(write), weight: 10 },
  { arbitrary: fc.tuple(length, offset).map(([n, at]) => readAt(n, at)), weight: 10 },
  { arbitrary: length.map(read), weight: 10 },
  {
    arbitrary: fc.tuple(fc.integer({ min: -2 * pageSize, max: 2 * pageSize }), fc.constantFrom<Whence>("start", "current", "end", "position", "default"))
      .map(([at, whence]) => seek(at, whence)),
    weight: 10,
  },
  { arbitrary: fc.oneof(fc.constant(0), offset).map(resize), weight: 10 },
  {
    arbitrary: fc.option(fc.record({ offset, length, async: fc.boolean() }, { requiredKeys: [] }), { nil: undefined }).map(sync),
    weight: 10,
  },
  { arbitrary: fc.tuple(offset, length, fc.option(fc.integer({ min: 0, max: 255 }))).map(([start, n, fill]) => view(start, n, fill)), weight: 10 },
  {
    arbitrary: fc.tuple(fc.nat(TYPES.length - 1), fc.boolean(), offset, fc.integer({ min: -(2 ** 15), max: 2 ** 16 - 1 }), fc.boolean())
      .map((args) => typed(...args)),
    weight: 10,
  },
)], { maxCommands: MAPPED_FILE_COMMANDS, size: "max", replayPath: replay.commands });

// Most runs work in tmpfs (/dev/shm), where msync and fsync cost nothing; one in four in the
// ordinary temporary directory (a disk here), so that disk-backed files are fuzzed too. The
// place is part of each run's input, so a replay uses the same one.
type Place = "memory" | "disk";
const place = fc.constantFrom<Place>("memory", "memory", "memory", "disk");
const directories = { memory: "", disk: "" };
let runNumber = 0;
before(() => {
  directories.disk = makeDirectory("memmapfs-fuzz-");
  directories.memory = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/memmapfs-fuzz-") : directories.disk;
});
after(() => {
  removeDirectory(directories.memory);
  removeDirectory(directories.disk);
});

/** One run: a fresh file of `initial` bytes in `where`, opened with `options`, then the commands. */
const mappedFileProperty = fc.property(place, fc.integer({ min: 0, max: 3 * pageSize }), openOptions, mappedFileCommands, (where, initial, options, steps) => {
  const file = path.join(directories[where], `run-${runNumber++}.bin`);
  const data = Uint8Array.from({ length: initial }, (_, i) => (i * 31 + 7) % 251);
  fs.writeFileSync(file, data);
  const model: Model = { file: data, open: false, options, position: 0, private: null };
  const real: Real = { path: file, handle: null };
  try {
    open(options).run(model, real);
    fc.modelRun(() => ({ model, real }), steps);
    if (real.handle) close().run(model, real);
  } finally {
    try {
      real.handle?.close();
    } catch { /* the assertion that failed matters more */ }
    fs.rmSync(file, { force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// MemMapFS against a map of names to files. Held handles keep the file they opened (an inode),
// so they must keep showing its bytes after writeFile replaces the name, and truncations that
// would cut under them must be refused with EBUSY.

interface Inode {
  bytes: Uint8Array;
}
interface Tree {
  names: Map<string, Inode>;
  held: { inode: Inode; length: number }[];
}
interface RealTree {
  memfs: MemMapFS;
  root: string;
  held: MappedFile[];
}
const NAMES = ["a", "b", "c"];
type Flags = "r+" | "w" | "w+" | "a" | "a+";

function verifyTree(m: Tree, r: RealTree): void {
  assert.deepEqual(fs.readdirSync(r.root).sort(), [...m.names.keys()].sort(), "directory listing (node:fs)");
  for (const [name, inode] of m.names) sameBytes(fs.readFileSync(path.join(r.root, name)), inode.bytes, `${name} on disk (node:fs)`);
  m.held.forEach(({ inode, length }, i) => {
    assert.equal(r.held[i].size, length, `held handle ${i}: size`);
    sameBytes(r.held[i].bytes, inode.bytes.subarray(0, length), `held handle ${i}`);
  });
}

const onTree = (label: string, run: (m: Tree, r: RealTree) => void) => command<Tree, RealTree>(label, () => true, run, verifyTree);
const enoent = (work: () => unknown, what: string) => throwsExactly(work, MmapError, what, "ENOENT");
/** Whether a handle this file system gave out maps `inode` past `size`. */
const mappedPast = (m: Tree, inode: Inode | undefined, size: number) => m.held.some((h) => h.inode === inode && h.length > size);

const fsWriteFile = (name: string, data: Uint8Array) =>
  onTree(`writeFile(${name}, ${describeBytes(data)})`, (m, r) => {
    r.memfs.writeFile(name, data);
    m.names.set(name, { bytes: data.slice() });
  });

/** Another program rewrites the file in place (same inode, O_TRUNC), where no held handle would fault. */
const externalWrite = (name: string, data: Uint8Array) =>
  onTree(`externalWrite(${name}, ${describeBytes(data)})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode || mappedPast(m, inode, 0)) return;
    fs.writeFileSync(path.join(r.root, name), data);
    inode.bytes = data.slice();
  });

const fsReadFile = (name: string) =>
  onTree(`readFile(${name})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.readFile(name), "readFile");
    const copy = r.memfs.readFile(name);
    sameBytes(copy, inode.bytes, "readFile");
    copy.fill(0xff); // a copy the caller owns: the file must not change
  });

const fsOpen = (name: string, keep: boolean) =>
  onTree(`open(${name}${keep ? ", kept" : ""})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.open(name), "open");
    const handle = r.memfs.open(name);
    sameBytes(handle.bytes, inode.bytes, "open");
    if (keep && m.held.length < 4) {
      m.held.push({ inode, length: inode.bytes.length });
      r.held.push(handle);
    } else {
      handle.close();
    }
  });

const fsCloseHeld = (which: number) =>
  onTree(`closeHeld(${which})`, (m, r) => {
    if (m.held.length === 0) return;
    const at = which % m.held.length;
    r.held.splice(at, 1)[0].close();
    m.held.splice(at, 1);
  });

/** openFile with `flags`, one write (at the end for "a"/"a+", else at `at`), close. */
const fsOpenFile = (name: string, flags: Flags, data: Uint8Array, at: number) =>
  onTree(`openFile(${name}, "${flags}", ${describeBytes(data)}, ${at})`, (m, r) => {
    let inode = m.names.get(name);
    if (!inode && flags === "r+") return enoent(() => r.memfs.openFile(name, flags), "openFile r+");
    if (flags.startsWith("w") && mappedPast(m, inode, 0)) {
      return throwsExactly(() => r.memfs.openFile(name, flags), MmapError, "openFile over a held handle", "EBUSY");
    }
    if (!inode) m.names.set(name, inode = { bytes: new Uint8Array(0) });
    if (flags.startsWith("w")) inode.bytes = new Uint8Array(0);
    const where = flags.startsWith("a") ? inode.bytes.length : at;
    const handle = r.memfs.openFile(name, flags);
    try {
      assert.equal(flags.startsWith("a") ? handle.write(data) : handle.writeAt(data, at), data.length, "write");
    } finally {
      handle.close();
    }
    if (data.length > 0) {
      inode.bytes = sized(inode.bytes, Math.max(inode.bytes.length, where + data.length));
      inode.bytes.set(data, where);
    }
  });

const fsCreate = (name: string, size: number) =>
  onTree(`create(${name}, ${size})`, (m, r) => {
    let inode = m.names.get(name);
    if (mappedPast(m, inode, 0)) return throwsExactly(() => r.memfs.create(name, size), MmapError, "create", "EBUSY");
    if (!inode) m.names.set(name, inode = { bytes: new Uint8Array(0) });
    inode.bytes = new Uint8Array(size);
    r.memfs.create(name, size).close();
  });

const fsTruncate = (name: string, size: number) =>
  onTree(`truncate(${name}, ${size})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.truncate(name, size), "truncate");
    if (mappedPast(m, inode, size)) return throwsExactly(() => r.memfs.truncate(name, size), MmapError, "truncate", "EBUSY");
    r.memfs.truncate(name, size);
    inode.bytes = sized(inode.bytes, size);
  });

const fsRename = (from: string, to: string) =>
  onTree(`rename(${from}, ${to})`, (m, r) => {
    const inode = m.names.get(from);
    if (!inode) return enoent(() => r.memfs.rename(from, to), "rename");
    r.memfs.rename(from, to);
    m.names.delete(from);
    m.names.set(to, inode);
  });

const fsRemove = (name: string) =>
  onTree(`remove(${name})`, (m, r) => {
    if (!m.names.has(name)) return enoent(() => r.memfs.remove(name), "remove");
    r.memfs.remove(name);
    m.names.delete(name);
  });

const fsStat = (name: string) =>
  onTree(`stat(${name})`, (m, r) => {
    const inode = m.names.get(name);
    assert.equal(r.memfs.exists(name), inode !== undefined, "exists");
    if (!inode) return enoent(() => r.memfs.stat(name), "stat");
    assert.equal(r.memfs.stat(name).size, inode.bytes.length, "stat size");
  });

const name = fc.constantFrom(...NAMES);
const small = fc.integer({ min: 0, max: 2 * pageSize + 10 });
const MEMMAPFS_COMMANDS = 50;
// Weighted towards commands that make files and keep handles, so that names mostly exist.
const treeCommands = fc.commands([fc.oneof(
  { arbitrary: fc.tuple(name, bytes(pageSize + 100)).map(([n, data]) => fsWriteFile(n, data)), weight: 3 },
  { arbitrary: name.map(fsReadFile), weight: 2 },
  { arbitrary: fc.tuple(name, bytes(pageSize + 100)).map(([n, data]) => externalWrite(n, data)), weight: 2 },
  { arbitrary: fc.tuple(name, fc.boolean()).map(([n, keep]) => fsOpen(n, keep)), weight: 3 },
  { arbitrary: fc.nat(3).map(fsCloseHeld), weight: 1 },
  {
    arbitrary: fc.tuple(name, fc.constantFrom<Flags>("r+", "w", "w+", "a", "a+"), bytes(pageSize + 100), small)
      .map(([n, flags, data, at]) => fsOpenFile(n, flags, data, at)),
    weight: 3,
  },
  { arbitrary: fc.tuple(name, small).map(([n, size]) => fsCreate(n, size)), weight: 2 },
  { arbitrary: fc.tuple(name, small).map(([n, size]) => fsTruncate(n, size)), weight: 2 },
  { arbitrary: fc.tuple(name, name).map(([from, to]) => fsRename(from, to)), weight: 1 },
  { arbitrary: name.map(fsRemove), weight: 1 },
  { arbitrary: name.map(fsStat), weight: 1 },
)], { maxCommands: MEMMAPFS_COMMANDS, size: "max", replayPath: replay.commands });

// Small caches, so entries are evicted and reloaded all the time, or none.
const cacheLimits = fc.constantFrom<false | { maxBytes?: number; maxFiles?: number } | undefined>(
  undefined, false, { maxFiles: 1 }, { maxBytes: pageSize, maxFiles: 2 },
);

const memMapFSProperty = fc.property(place, cacheLimits, treeCommands, (where, cache, steps) => {
  const root = path.join(directories[where], `tree-${runNumber++}`);
  fs.mkdirSync(root);
  const memfs = new MemMapFS({ root, cache });
  const real: RealTree = { memfs, root, held: [] };
  try {
    fc.modelRun(() => ({ model: { names: new Map(), held: [] } as Tree, real }), steps);
  } finally {
    for (const handle of real.held) handle.close();
    memfs.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------

/** Runs a property; a failure names the commands and how to replay them. */
function fuzz<T>(target: string, property: fc.IProperty<T>, numRuns: number, parameters: fc.Parameters<T> = {}): fc.RunDetails<T> {
  const replaying = replay.path !== undefined && process.env.MEMMAPFS_FUZZ_TARGET === target;
  return fc.check(property, { seed, numRuns, ...(replaying ? { path: replay.path } : {}), ...parameters });
}

function assertPassed<T>(target: string, details: fc.RunDetails<T>): void {
  // Counted besides commands: window slides and the errors expected (ENOENT, EBUSY).
  const total = [...stats].reduce((sum, [key, n]) => key === "slides" || /^E[A-Z]+$/.test(key) ? sum : sum + n, 0);
  console.log(`model fuzz ${target}, seed ${seed}: ${total} commands (${[...stats].map(([key, n]) => `${key} ${n}`).join(", ")})`);
  stats.clear();
  if (!details.failed) return;
  const commandsPath = /replayPath="([^"]*)"/.exec(String(details.counterexample))?.[1];
  const again = `MEMMAPFS_FUZZ_TARGET=${target} MEMMAPFS_FUZZ_SEED=${details.seed} MEMMAPFS_FUZZ_PATH=${details.counterexamplePath}` +
    (commandsPath ? ` MEMMAPFS_FUZZ_REPLAY='${commandsPath}'` : "");
  console.error(`model fuzz ${target} failed; replay with ${again}`);
  assert.fail(`${fc.defaultReportMessage(details)}\nError: ${String(details.errorInstance)}\nReplay: ${again}`);
}

// Bun's default is 5 s per test; a loaded machine can take longer than that.
const slow = { timeout: 120_000 };

describe("model-based fuzzing", () => {
  const mappedRuns = Math.max(1, Math.round(300 * scale));
  it(`MappedFile matches a Uint8Array and node:fs (${mappedRuns} runs of up to ${MAPPED_FILE_COMMANDS} commands, seed ${seed})`, slow, () => {
    assertPassed("MappedFile", fuzz("MappedFile", mappedFileProperty, mappedRuns));
  });

  const treeRuns = Math.max(1, Math.round(100 * scale));
  it(`MemMapFS matches a map of files and node:fs (${treeRuns} runs of up to ${MEMMAPFS_COMMANDS} commands, seed ${seed})`, slow, () => {
    assertPassed("MemMapFS", fuzz("MemMapFS", memMapFSProperty, treeRuns));
  });

  it("fails when the model and the file disagree (canary: a bug injected into the model)", () => {
    injectedModelBug = true;
    try {
      const details = fuzz("canary", mappedFileProperty, 50, { endOnFailure: true });
      assert.equal(details.failed, true, "an off-by-one in the model went unnoticed");
      assert.match(String(details.errorInstance), /byte \d+ is \d+, the model has \d+/);
    } finally {
      injectedModelBug = false;
      stats.clear();
    }
  });
});
