// Model-based fuzzing of MappedFile (issue 7.4): fast-check runs random command sequences on
// a file and on a Uint8Array model, and after every command compares return values, thrown
// errors, what the handle shows and the file as node:fs reads it. Commands: open (again after
// close), write, writeAt, read, readAt, seek with every whence and the position setter, resize
// (to 0 too), sync, zero-copy views written through, typed accessors, close and use after
// close. Windows of one or two pages make slides constant, and offsets cluster around page
// edges so accesses straddle windows. Seed and replay: tests/model_fuzz_kit.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { ClosedError, MappedFile, pageSize } from "../mod.ts";
import { assertPassed, bytes, command, count, describeBytes, directories, fuzz, PAGES, place, replay, runName, sameBytes, scale, seed, sized, slow, stats, throwsExactly, useFuzzDirectories } from "./model_fuzz_kit.ts";

useFuzzDirectories();

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
    // A start past the end is a RangeError, as in subarray() (issue 13.9).
    if ((options?.offset ?? 0) > handle.size) throwsExactly(() => handle.sync(options), RangeError, "sync");
    // A private mapping has no file to write to.
    else if (m.options.mode === "copyonwrite") throwsExactly(() => handle.sync(options), TypeError, "sync");
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


/** One run: a fresh file of `initial` bytes in `where`, opened with `options`, then the commands. */
const mappedFileProperty = fc.property(place, fc.integer({ min: 0, max: 3 * pageSize }), openOptions, mappedFileCommands, (where, initial, options, steps) => {
  const file = path.join(directories[where], runName("bin"));
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

describe("model-based fuzzing", () => {
  const mappedRuns = Math.max(1, Math.round(300 * scale));
  it(`MappedFile matches a Uint8Array and node:fs (${mappedRuns} runs of up to ${MAPPED_FILE_COMMANDS} commands, seed ${seed})`, slow, () => {
    assertPassed("MappedFile", fuzz("MappedFile", mappedFileProperty, mappedRuns));
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
