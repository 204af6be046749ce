// Model-based fuzzing (issue 7.4): fast-check runs random sequences of open, write, writeAt,
// read, readAt, seek, position, resize, sync, views, typed accessors, window slides and close on
// a MappedFile, and the same sequence on a plain Uint8Array model. After every command the
// return value, the position and size, every mapped byte (read through the mapping) and the
// file as node:fs reads it must match the model. Windows of one or two pages make slides
// happen all the time, and offsets cluster around page edges so reads, writes and typed
// values straddle windows.
//
// Deterministic by default (seed below); MEMMAPFS_FUZZ_SEED=<n> picks another seed,
// MEMMAPFS_FUZZ_RUNS=<n> more runs, and a failure prints the seed and fast-check's path, so
// the `MEMMAPFS_FUZZ_SEED=… MEMMAPFS_FUZZ_PATH=… MEMMAPFS_FUZZ_REPLAY=…` it prints replays just
// the shrunk failure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import fc from "fast-check";
import { ClosedError, MappedFile, pageSize } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

const DEFAULT_SEED = 0x6d6d6170; // "mmap"
const seed = envInteger("MEMMAPFS_FUZZ_SEED") ?? DEFAULT_SEED;
const numRuns = envInteger("MEMMAPFS_FUZZ_RUNS") ?? 300;
const replayPath = process.env.MEMMAPFS_FUZZ_PATH || undefined;
/** fast-check's record of which commands ran, printed with a counterexample as replayPath="…". */
const commandsReplay = process.env.MEMMAPFS_FUZZ_REPLAY || undefined;
const MAX_COMMANDS = 100;
const PAGES = 6; // offsets reach about this many pages, so files stay a few pages long

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got "${text}"`);
  return value;
}

type Mode = "readwrite" | "readonly" | "copyonwrite";
interface OpenOptions {
  mode: Mode;
  window: number | undefined;
  offset: number;
  sync: "immediate" | "lazy" | "never" | "periodic";
  append: boolean;
}

/** What the file and the open handle should be. */
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

/** Set by the canary test only: the model forgets the last byte of every writeAt. */
let injectedModelBug = false;
const stats = new Map<string, number>();
function count(command: object): void {
  stats.set(command.constructor.name, (stats.get(command.constructor.name) ?? 0) + 1);
}

function rangeOf(m: Model): Uint8Array {
  return m.private ?? m.file.subarray(m.options.offset);
}

/** Makes the range `size` bytes: the file becomes offset + size, zero-filled when it grows. */
function setRangeSize(m: Model, size: number): void {
  const file = new Uint8Array(m.options.offset + size);
  file.set(m.file.subarray(0, Math.min(file.length, m.file.length)));
  m.file = file;
}

/** What writeAt must do: the count it returns, or the error it throws (read-only; copy-on-write growth). */
function modelWriteAt(m: Model, bytes: Uint8Array, at: number): number | TypeErrorConstructor {
  if (m.options.mode === "readonly") return TypeError;
  if (bytes.length === 0) return 0;
  const end = at + bytes.length;
  if (end > rangeOf(m).length && m.options.mode === "copyonwrite") return TypeError;
  if (end > rangeOf(m).length) setRangeSize(m, end);
  rangeOf(m).set(injectedModelBug ? bytes.subarray(0, bytes.length - 1) : bytes, at);
  return bytes.length;
}

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) {
    assert.fail(`${what}: ${actual.length} bytes, the model has ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: byte ${i} is ${actual[i]}, the model has ${expected[i]}`);
    }
  }
}

function throwsExactly(work: () => unknown, kind: new (...args: never[]) => Error, what: string): void {
  assert.throws(work, (error: unknown) => {
    assert.equal((error as Error)?.constructor, kind, `${what}: ${String(error)}`);
    return true;
  }, `${what} should throw ${kind.name}`);
}

/**
 * Compares everything observable with the model: the file through node:fs always; for an open
 * handle its size and position and every byte read through the mapping, after which the window
 * goes back where it was so the checks do not decide where later commands find it.
 */
function verify(m: Model, r: Real): void {
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

/** A command on the model and the real file; `check` says when it applies. */
abstract class Step implements fc.Command<Model, Real> {
  abstract check(m: Readonly<Model>): boolean;
  abstract apply(m: Model, handle: MappedFile): void;
  run(m: Model, r: Real): void {
    count(this);
    const window = r.handle!.windowOffset;
    this.apply(m, r.handle!);
    if (!r.handle!.closed && r.handle!.windowOffset !== window) count({ constructor: { name: "slides" } });
    verify(m, r);
  }
  abstract toString(): string;
}

abstract class OpenStep extends Step {
  check(m: Readonly<Model>): boolean {
    return m.open;
  }
}

class Open implements fc.Command<Model, Real> {
  readonly options: OpenOptions;
  constructor(options: OpenOptions) {
    this.options = options;
  }
  check(m: Readonly<Model>): boolean {
    return !m.open;
  }
  run(m: Model, r: Real): void {
    count(this);
    const { mode, offset, sync, append } = this.options;
    // Known bug, held out: a copy-on-write window that slides away drops its private writes.
    const window = mode === "copyonwrite" ? undefined : this.options.window;
    const options = { mode, window, offset, sync, ...(append && mode === "readwrite" ? { append } : {}) };
    if (offset > m.file.length) {
      throwsExactly(() => MappedFile.open(r.path, options), RangeError, `open past the end ${this}`);
    } else {
      r.handle = MappedFile.open(r.path, options);
      m.open = true;
      m.options = { ...this.options, window, append: append && mode === "readwrite" };
      m.position = 0;
      m.private = mode === "copyonwrite" ? m.file.slice(offset) : null;
      assert.equal(r.handle.mode, mode);
    }
    verify(m, r);
  }
  toString(): string {
    return `open(${JSON.stringify(this.options)})`;
  }
}

class Close extends OpenStep {
  apply(m: Model, handle: MappedFile): void {
    handle.close();
    assert.equal(handle.closed, true);
    handle.close(); // a second close does nothing
    m.open = false;
    m.private = null;
  }
  override run(m: Model, r: Real): void {
    super.run(m, r);
    r.handle = null;
  }
  toString(): string {
    return "close()";
  }
}

/** Any use of a closed handle throws ClosedError and changes nothing. */
class UseAfterClose implements fc.Command<Model, Real> {
  readonly which: number;
  constructor(which: number) {
    this.which = which;
  }
  check(m: Readonly<Model>): boolean {
    return !m.open;
  }
  run(m: Model, r: Real): void {
    count(this);
    // The handle closed last, or a fresh one closed at once.
    const handle = MappedFile.open(r.path);
    handle.close();
    const uses: (() => unknown)[] = [
      () => handle.readAt(new Uint8Array(1), 0),
      () => handle.write("x"),
      () => handle.seek(0),
      () => handle.resize(1),
      () => handle.sync(),
      () => handle.bytes,
      () => handle.subarray(0, 0),
      () => handle.getUint8(0),
    ];
    throwsExactly(uses[this.which % uses.length], ClosedError, `${this}`);
    verify(m, r);
  }
  toString(): string {
    return `useAfterClose(${this.which})`;
  }
}

class WriteAt extends OpenStep {
  readonly bytes: Uint8Array;
  readonly at: number;
  constructor(bytes: Uint8Array, at: number) {
    super();
    this.bytes = bytes;
    this.at = at;
  }
  apply(m: Model, handle: MappedFile): void {
    const expected = modelWriteAt(m, this.bytes, this.at);
    if (expected === TypeError) throwsExactly(() => handle.writeAt(this.bytes, this.at), TypeError, `${this}`);
    else assert.equal(handle.writeAt(this.bytes, this.at), expected, `${this}`);
  }
  toString(): string {
    return `writeAt(${describeBytes(this.bytes)}, ${this.at})`;
  }
}

class Write extends OpenStep {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    super();
    this.bytes = bytes;
  }
  apply(m: Model, handle: MappedFile): void {
    if (m.options.append) m.position = rangeOf(m).length;
    const count = modelWriteAt(m, this.bytes, m.position);
    if (count === TypeError) {
      throwsExactly(() => handle.write(this.bytes), TypeError, `${this}`);
      return;
    }
    m.position += count;
    assert.equal(handle.write(this.bytes), count, `${this}`);
  }
  toString(): string {
    return `write(${describeBytes(this.bytes)})`;
  }
}

class ReadAt extends OpenStep {
  readonly length: number;
  readonly at: number;
  constructor(length: number, at: number) {
    super();
    this.length = length;
    this.at = at;
  }
  apply(m: Model, handle: MappedFile): void {
    const target = new Uint8Array(this.length).fill(0xee);
    const expected = rangeOf(m).subarray(this.at, this.at + this.length);
    assert.equal(handle.readAt(target, this.at), expected.length, `${this}`);
    sameBytes(target.subarray(0, expected.length), expected, `${this}`);
    assert.ok(target.subarray(expected.length).every((byte) => byte === 0xee), `${this} wrote past its count`);
  }
  toString(): string {
    return `readAt(${this.length}, ${this.at})`;
  }
}

class Read extends OpenStep {
  readonly length: number;
  constructor(length: number) {
    super();
    this.length = length;
  }
  apply(m: Model, handle: MappedFile): void {
    const target = new Uint8Array(this.length);
    const expected = rangeOf(m).subarray(m.position, m.position + this.length);
    assert.equal(handle.read(target), expected.length, `${this}`);
    sameBytes(target.subarray(0, expected.length), expected, `${this}`);
    m.position += expected.length;
  }
  toString(): string {
    return `read(${this.length})`;
  }
}

class Seek extends OpenStep {
  readonly offset: number;
  readonly whence: "start" | "current" | "end" | "position";
  constructor(offset: number, whence: "start" | "current" | "end" | "position") {
    super();
    this.offset = offset;
    this.whence = whence;
  }
  apply(m: Model, handle: MappedFile): void {
    if (this.whence === "position") {
      if (this.offset < 0) {
        throwsExactly(() => handle.position = this.offset, RangeError, `${this}`);
      } else {
        handle.position = this.offset;
        m.position = this.offset;
      }
      return;
    }
    const base = this.whence === "start" ? 0 : this.whence === "current" ? m.position : rangeOf(m).length;
    const target = base + this.offset;
    if (target < 0) {
      throwsExactly(() => handle.seek(this.offset, this.whence as "start"), RangeError, `${this}`);
      return;
    }
    const result = this.whence === "start" && this.offset % 2 === 0
      ? handle.seek(this.offset) // the default whence
      : handle.seek(this.offset, this.whence);
    assert.equal(result, target, `${this}`);
    m.position = target;
  }
  toString(): string {
    return this.whence === "position" ? `position = ${this.offset}` : `seek(${this.offset}, "${this.whence}")`;
  }
}

class Resize extends OpenStep {
  readonly size: number;
  constructor(size: number) {
    super();
    this.size = size;
  }
  apply(m: Model, handle: MappedFile): void {
    if (m.options.mode !== "readwrite") {
      throwsExactly(() => handle.resize(this.size), TypeError, `${this} ${m.options.mode}`);
      return;
    }
    handle.resize(this.size);
    setRangeSize(m, this.size);
  }
  toString(): string {
    return `resize(${this.size})`;
  }
}

class Sync extends OpenStep {
  readonly options: { offset?: number; length?: number; async?: boolean } | undefined;
  constructor(options: { offset?: number; length?: number; async?: boolean } | undefined) {
    super();
    this.options = options;
  }
  apply(m: Model, handle: MappedFile): void {
    // A private mapping has no file to write to.
    if (m.options.mode === "copyonwrite") throwsExactly(() => handle.sync(this.options), TypeError, `${this}`);
    else handle.sync(this.options);
  }
  toString(): string {
    return `sync(${this.options === undefined ? "" : JSON.stringify(this.options)})`;
  }
}

/** A zero-copy view (which slides the window), compared and, when writable, written through. */
class View extends OpenStep {
  readonly start: number;
  readonly length: number;
  readonly fill: number | null;
  constructor(start: number, length: number, fill: number | null) {
    super();
    this.start = start;
    this.length = length;
    this.fill = fill;
  }
  apply(m: Model, handle: MappedFile): void {
    const range = rangeOf(m);
    const end = this.start + this.length;
    if (end > range.length) {
      throwsExactly(() => handle.subarray(this.start, end), RangeError, `${this}`);
      return;
    }
    const view = handle.subarray(this.start, end);
    sameBytes(view, range.subarray(this.start, end), `${this}`);
    if (this.fill !== null && m.options.mode !== "readonly") {
      for (let i = 0; i < view.length; i++) view[i] = (this.fill + i) & 0xff;
      for (let i = 0; i < view.length; i++) range[this.start + i] = (this.fill + i) & 0xff;
    }
  }
  toString(): string {
    return `subarray(${this.start}, ${this.start + this.length})${this.fill === null ? "" : `.fill(${this.fill}+i)`}`;
  }
}

const TYPES = [["Uint8", 1], ["Uint16", 2], ["Int32", 4], ["Float64", 8], ["BigUint64", 8]] as const;

/** get and set accessors at any offset, straddling windows where they fall on an edge. */
class Typed extends OpenStep {
  readonly type: number;
  readonly set: boolean;
  readonly at: number;
  readonly value: number;
  readonly littleEndian: boolean;
  constructor(type: number, set: boolean, at: number, value: number, littleEndian: boolean) {
    super();
    this.type = type;
    this.set = set;
    this.at = at;
    this.value = value;
    this.littleEndian = littleEndian;
  }
  apply(m: Model, handle: MappedFile): void {
    const [name, size] = TYPES[this.type];
    const method = `${this.set ? "set" : "get"}${name}`;
    const call = handle[method as "getUint8"].bind(handle) as (...args: unknown[]) => unknown;
    const value = name === "BigUint64" ? BigInt(Math.abs(this.value)) * 977n : name === "Float64" ? this.value / 7 : this.value;
    const args = this.set ? [this.at, value, this.littleEndian] : [this.at, this.littleEndian];
    if (this.set && m.options.mode === "readonly") {
      throwsExactly(() => call(...args), TypeError, `${this} read-only`);
      return;
    }
    const range = rangeOf(m);
    if (this.at + size > range.length) {
      throwsExactly(() => call(...args), RangeError, `${this}`);
      return;
    }
    const scratch = new DataView(new ArrayBuffer(8));
    if (this.set) {
      (scratch[method as "setUint8"] as (...a: unknown[]) => void).call(scratch, 0, value, this.littleEndian);
      assert.equal(call(...args), undefined);
      range.set(new Uint8Array(scratch.buffer, 0, size), this.at);
    } else {
      scratch.setUint32(0, 0);
      new Uint8Array(scratch.buffer).set(range.subarray(this.at, this.at + size));
      const expected = (scratch[method as "getUint8"] as (...a: unknown[]) => unknown).call(scratch, 0, this.littleEndian);
      assert.ok(Object.is(call(...args), expected), `${this}: model has ${expected}`);
    }
  }
  toString(): string {
    const [name] = TYPES[this.type];
    return this.set
      ? `set${name}(${this.at}, ${this.value}, ${this.littleEndian})`
      : `get${name}(${this.at}, ${this.littleEndian})`;
  }
}

function describeBytes(bytes: Uint8Array): string {
  return bytes.length <= 8 ? `[${bytes.join(",")}]` : `${bytes.length} bytes from ${bytes[0]}`;
}

// Offsets anywhere in a few pages, or a few bytes either side of a page edge.
const offset = fc.oneof(
  fc.integer({ min: 0, max: PAGES * pageSize }),
  fc.tuple(fc.integer({ min: 0, max: PAGES }), fc.integer({ min: -9, max: 9 }))
    .map(([page, delta]) => Math.max(0, page * pageSize + delta)),
  fc.integer({ min: 0, max: 16 }),
);
// Small random bytes, or longer patterned runs that cross one or two page edges.
const bytes = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 12 }),
  fc.tuple(fc.integer({ min: 1, max: 2 * pageSize + 100 }), fc.integer({ min: 0, max: 255 }))
    .map(([length, start]) => Uint8Array.from({ length }, (_, i) => (start + i * 7) & 0xff)),
);
const length = fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 2 * pageSize + 100 }));
const openOptions: fc.Arbitrary<OpenOptions> = fc.record({
  mode: fc.constantFrom<Mode>("readwrite", "readwrite", "readwrite", "readonly", "copyonwrite"),
  // Rounded up to whole pages by the library: 1 byte means one page.
  window: fc.constantFrom(undefined, 1, pageSize, 2 * pageSize, pageSize + 1),
  offset: fc.oneof(fc.constant(0), fc.constant(0), offset),
  sync: fc.constantFrom("lazy", "immediate", "never", "periodic") as fc.Arbitrary<OpenOptions["sync"]>,
  append: fc.boolean(),
});

// Weighted so that a run mostly works on an open file but reopens a few times.
const commands = fc.commands([fc.oneof(
  { arbitrary: openOptions.map((options) => new Open(options)), weight: 6 },
  { arbitrary: fc.constant(new Close()), weight: 1 },
  { arbitrary: fc.nat(7).map((which) => new UseAfterClose(which)), weight: 1 },
  { arbitrary: fc.tuple(bytes, offset).map(([data, at]) => new WriteAt(data, at)), weight: 10 },
  { arbitrary: bytes.map((data) => new Write(data)), weight: 10 },
  { arbitrary: fc.tuple(length, offset).map(([n, at]) => new ReadAt(n, at)), weight: 10 },
  { arbitrary: length.map((n) => new Read(n)), weight: 10 },
  { arbitrary: fc.tuple(
    fc.integer({ min: -2 * pageSize, max: 2 * pageSize }),
    fc.constantFrom("start", "current", "end", "position") as fc.Arbitrary<Seek["whence"]>,
  ).map(([at, whence]) => new Seek(at, whence)), weight: 10 },
  { arbitrary: fc.oneof(fc.constant(0), offset).map((size) => new Resize(size)), weight: 10 },
  { arbitrary: fc.option(
    fc.record({ offset: offset, length: length, async: fc.boolean() }, { requiredKeys: [] }),
    { nil: undefined },
  ).map((options) => new Sync(options)), weight: 10 },
  { arbitrary: fc.tuple(offset, length, fc.option(fc.integer({ min: 0, max: 255 }))).map(([start, n, fill]) => new View(start, n, fill)), weight: 10 },
  { arbitrary: fc.tuple(
    fc.nat(TYPES.length - 1),
    fc.boolean(),
    offset,
    fc.integer({ min: -(2 ** 15), max: 2 ** 16 - 1 }),
    fc.boolean(),
  ).map(([type, set, at, value, le]) => new Typed(type, set, at, value, le)), weight: 10 },
)], { maxCommands: MAX_COMMANDS, size: "max", replayPath: commandsReplay });

let directory: string;
let runNumber = 0;
before(() => {
  directory = makeDirectory("memmapfs-fuzz-");
});
after(() => removeDirectory(directory));

/** One run: a fresh file of `initial` bytes, opened with `options`, then `steps`. */
const property = fc.property(
  fc.integer({ min: 0, max: 3 * pageSize }),
  openOptions,
  commands,
  (initial, options, steps) => {
    const file = path.join(directory, `run-${runNumber++}.bin`);
    const data = Uint8Array.from({ length: initial }, (_, i) => (i * 31 + 7) % 251);
    fs.writeFileSync(file, data);
    const model: Model = { file: data, open: false, options, position: 0, private: null };
    const real: Real = { path: file, handle: null };
    try {
      new Open(options).run(model, real);
      fc.modelRun(() => ({ model, real }), steps);
      if (real.handle) new Close().run(model, real);
    } finally {
      try {
        real.handle?.close();
      } catch { /* the assertion that failed matters more */ }
      fs.rmSync(file, { force: true });
    }
  },
);

/** Runs the property; on failure the message says how to replay it. */
function check(parameters: fc.Parameters<[number, OpenOptions, Iterable<fc.Command<Model, Real>>]>): fc.RunDetails<unknown> {
  return fc.check(property, parameters) as fc.RunDetails<unknown>;
}

describe("model-based fuzzing of MappedFile", () => {
  it(`matches a Uint8Array model and node:fs (${numRuns} runs of up to ${MAX_COMMANDS} commands, seed ${seed})`, () => {
    const details = check({ seed, numRuns, path: replayPath });
    const total = [...stats].reduce((sum, [name, n]) => name === "slides" ? sum : sum + n, 0);
    console.log(`model fuzz, seed ${seed}: ${total} commands (${[...stats].map(([name, n]) => `${name} ${n}`).join(", ")})`);
    if (details.failed) {
      const commandsPath = /replayPath="([^"]*)"/.exec(String(details.counterexample))?.[1];
      const replay = `MEMMAPFS_FUZZ_SEED=${details.seed} MEMMAPFS_FUZZ_PATH=${details.counterexamplePath}` +
        (commandsPath ? ` MEMMAPFS_FUZZ_REPLAY='${commandsPath}'` : "");
      console.error(`model fuzz failed; replay with ${replay}`);
      assert.fail(`${fc.defaultReportMessage(details)}\nError: ${String(details.errorInstance)}\nReplay: ${replay}`);
    }
  });

  it("fails when the model and the file disagree (canary with a bug injected into the model)", () => {
    injectedModelBug = true;
    try {
      const details = check({ seed, numRuns: 50, endOnFailure: true });
      assert.equal(details.failed, true, "an off-by-one in the model went unnoticed");
      assert.match(String(details.errorInstance), /byte \d+ is \d+, the model has \d+/);
    } finally {
      injectedModelBug = false;
    }
  });
});
