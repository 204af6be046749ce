// Hostile input (issue 7.6): every row of tests/hostile_input_cases.ts — every argument of every
// public method and static of MappedFile, MemMapFS, SharedMemory and BlockFile, option fields
// included, given wrong types, NaN, ±Infinity, negative, fractional and unsafe numbers, empty
// strings and paths with NUL bytes — must throw exactly TypeError or RangeError (not MmapError,
// not an error from deeper down), with a message that names the argument, before any system
// call: the call runs under a counting libc and with every node:fs function counted, and both
// counts must stay at zero.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { BlockFile, MappedFile, MemMapFS, SharedMemory } from "../mod.ts";
import { MmapError } from "../src/errors.ts";
import { cString } from "../src/ffi/marshal.ts";
import { FaultyLibc, type LibcCall, libc } from "../src/ffi/mod.ts";
import { fsCall } from "../src/fs/fs_paths.ts";
import { makeDirectory, removeDirectory, withLibc } from "./helpers.ts";
import { type Fixture, heldBack, NO_ARGUMENTS, NOT_PUBLIC, type Row, rows, type Subject } from "./hostile_input_cases.ts";

const LIBC_CALLS: LibcCall[] = [
  "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mlock", "munlock", "mincore", "open", "close",
  "fstat", "stat", "ftruncate", "posixFallocate", "posixFadvise", "fsync", "flock", "unlink", "shmOpen", "shmUnlink", "memfdCreate",
  "openat", "openat2", "fstatat", "mkdirat", "unlinkat", "renameat", "fchmod", "fchmodat", "fchownat", "utimensat",
  "readlinkat", "fdopendir", "readdir", "closedir", "pread", "write",
];

let directory: string;
let fixture: Fixture;
let created = 0;
before(() => {
  directory = makeDirectory("memmapfs-hostile-");
  fixture = {
    file: path.join(directory, "fixture.bin"),
    directory,
    missing: () => path.join(directory, `new-${created++}`),
  };
});
after(() => removeDirectory(directory));

/** libc calls made through `counting` so far, by name. */
function libcCalls(counting: FaultyLibc): Map<LibcCall, number> {
  return new Map(LIBC_CALLS.map((call) => [call, counting.calls(call)]));
}

/** Runs `work` with every function of node:fs (as the library fetches it) pushing its name on `calls`. */
function countingNodeFs<T>(calls: string[], work: () => T): T {
  const nodeFs = process.getBuiltinModule("node:fs") as unknown as Record<string, unknown>;
  const saved = new Map<string, (...args: unknown[]) => unknown>();
  for (const [name, value] of Object.entries(nodeFs)) {
    if (typeof value !== "function" || /^[A-Z]/.test(name)) continue;
    saved.set(name, value as (...args: unknown[]) => unknown);
    nodeFs[name] = function (this: unknown, ...args: unknown[]) {
      calls.push(name);
      return (value as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
  try {
    return work();
  } finally {
    for (const [name, value] of saved) nodeFs[name] = value;
  }
}

function makeSubject(kind: Subject): { subject: unknown; dispose: () => void } {
  switch (kind) {
    case "none":
      return { subject: undefined, dispose: () => {} };
    case "mapped": {
      const mapped = MappedFile.open(fixture.file, { mode: "readwrite" });
      return { subject: mapped, dispose: () => mapped.close() };
    }
    case "memfs": {
      const memfs = new MemMapFS({ root: directory });
      return { subject: memfs, dispose: () => memfs.close() };
    }
    case "confined": {
      const memfs = new MemMapFS({ root: directory });
      return { subject: memfs.sub(directory), dispose: () => memfs.close() };
    }
    case "shm": {
      const region = SharedMemory.create({ path: fixture.missing(), size: 4096 });
      return { subject: region, dispose: () => (region.close(), region.unlink()) };
    }
    case "blocks": {
      const blocks = BlockFile.anonymous();
      blocks.allocate();
      return { subject: blocks, dispose: () => blocks.close({ force: true }) };
    }
  }
}

/** Closes whatever a call that should have thrown returned instead. */
function disposeResult(result: unknown): void {
  const disposable = result as { [Symbol.dispose]?: () => void } | null;
  try {
    if (typeof disposable?.[Symbol.dispose] === "function") disposable[Symbol.dispose]!();
  } catch { /* reported as not throwing already */ }
}

/** Runs one row; returns what is wrong with it, or null. */
function runRow(row: Row): string | null {
  fs.writeFileSync(fixture.file, new Uint8Array(8192).fill(1));
  const counting = new FaultyLibc(libc());
  return withLibc(counting, () => {
    const { subject, dispose } = makeSubject(row.subject);
    try {
      const before = libcCalls(counting);
      const nodeFsCalls: string[] = [];
      let thrown: unknown;
      let threw = false;
      let result: unknown;
      try {
        result = countingNodeFs(nodeFsCalls, () => row.call(subject as never, fixture));
      } catch (error) {
        thrown = error;
        threw = true;
      }
      const libcUsed = LIBC_CALLS.filter((call) => counting.calls(call) !== before.get(call));
      disposeResult(result);
      const problems: string[] = [];
      const kind = (thrown as Error)?.constructor;
      if (!threw) problems.push("did not throw");
      else if (kind !== row.bad.error) problems.push(`threw ${kind?.name ?? typeof thrown}, not ${row.bad.error.name}`);
      const message = threw ? String((thrown as Error)?.message ?? thrown) : "";
      // An engine's own message ("Cannot read properties of null (reading 'x')") is no check.
      const engine = /cannot read propert|is not an object \(evaluating|null is not an object/i.test(message);
      if (threw && (!row.names.test(message) || engine)) problems.push(`message does not name ${row.names}`);
      if (libcUsed.length > 0) problems.push(`libc calls: ${libcUsed.join(", ")}`);
      if (nodeFsCalls.length > 0) problems.push(`node:fs calls: ${[...new Set(nodeFsCalls)].join(", ")}`);
      return problems.length === 0 ? null : `${problems.join("; ")}${threw ? ` (${message})` : ""}`;
    } finally {
      try {
        dispose();
      } catch { /* a subject a row closed already */ }
    }
  });
}

const CLASSES = ["MappedFile", "MemMapFS", "SharedMemory", "BlockFile"] as const;
const classOf = (row: Row) => CLASSES.find((name) => row.target.replace(/^new /, "").startsWith(name))!;

describe("hostile input: TypeError or RangeError before any system call", () => {
  for (const name of CLASSES) {
    const table = rows.filter((row) => classOf(row) === name);
    it(`${name}: ${table.length} hostile inputs`, () => {
      const failures: string[] = [];
      for (const row of table) {
        const problem = runRow(row);
        if (problem) failures.push(`${row.target} ${row.argument} = ${row.bad.label}: ${problem}`);
      }
      console.log(`hostile input, ${name}: ${table.length} rows, ${failures.length} failed`);
      assert.deepEqual(failures, [], `${failures.length} of ${table.length} rows failed:\n${failures.join("\n")}`);
    });
  }

  it("the table covers every public method and static with arguments", () => {
    const all = [...rows, ...heldBack.map(({ row }) => row)];
    const covered = new Set([...all.map((row) => row.target.replace(/^new /, "").replace("#sub()#", "#")), ...NO_ARGUMENTS, ...NOT_PUBLIC]);
    const missing: string[] = [];
    for (const [name, type] of [["MappedFile", MappedFile], ["MemMapFS", MemMapFS], ["SharedMemory", SharedMemory], ["BlockFile", BlockFile]] as const) {
      const members = [
        ...Object.getOwnPropertyNames(type).filter((key) => !["length", "name", "prototype"].includes(key)).map((key) => `${name}.${key}`),
        ...Object.getOwnPropertyNames(type.prototype).filter((key) => key !== "constructor").map((key) => `${name}#${key}`),
      ];
      if (name === "MappedFile") {
        // Inherited from TypedAccess: the DataView-style accessors.
        members.push(...Object.getOwnPropertyNames(Object.getPrototypeOf(type.prototype)).filter((key) => key !== "constructor").map((key) => `${name}#${key}`));
      }
      missing.push(...members.filter((member) => !covered.has(member)));
    }
    assert.deepEqual(missing, [], "public members with no hostile-input rows");
    console.log(
      `hostile input: ${rows.length} rows over ${new Set(all.map((row) => row.target)).size} members; ` +
        `${heldBack.length} more held back as known gaps`,
    );
  });

  it("the harness sees a system call and a wrong error class (canary rows)", () => {
    const canary = (call: Row["call"], subject: Subject = "none"): Row => ({
      target: "canary", argument: "path", bad: { label: "a missing file", value: null, error: TypeError }, names: /path/i, subject, call,
    });
    const opened = runRow(canary((_s, f) => MappedFile.open(f.missing())));
    assert.match(opened ?? "", /threw MmapError, not TypeError.*libc calls: .*\bopen\b/);
    const statted = runRow(canary(((memfs: MemMapFS, f: Fixture) => memfs.stat(f.missing())) as Row["call"], "memfs"));
    assert.match(statted ?? "", /threw MmapError, not TypeError.*libc calls: .*\bfstatat\b/);
  });

  it("chown takes -1 (and 2**32-1, the same uid_t) as \"leave it unchanged\", like POSIX and node:fs", () => {
    fs.writeFileSync(fixture.file, "x");
    const before = fs.statSync(fixture.file);
    const memfs = new MemMapFS({ root: directory });
    memfs.chown(fixture.file, -1, -1);
    memfs.chown(fixture.file, 2 ** 32 - 1, -1);
    const after = fs.statSync(fixture.file);
    assert.deepEqual([after.uid, after.gid], [before.uid, before.gid]);
  });

  it("only errno errors from node:fs become MmapError; its own argument errors pass through", () => {
    const failing = (fields: Record<string, unknown>) => () => {
      throw Object.assign(new Error("failed"), fields);
    };
    const argument = Object.assign(new RangeError("out of range"), { code: "ERR_OUT_OF_RANGE" });
    assert.throws(() => fsCall("chown", "/x", () => { throw argument; }), (error) => error === argument);
    assert.throws(() => fsCall("mkdir", "/x", failing({ code: "ERR_INVALID_ARG_VALUE" })), (error) => !(error instanceof MmapError));
    assert.throws(() => fsCall("stat", "/x", failing({ code: "ENOENT", errno: -2, syscall: "stat" })), (error) =>
      error instanceof MmapError && error.code === "ENOENT" && error.errno === 2 && error.path === "/x");
    // Deno's utimesSync leaves errno out: the number comes from the name.
    assert.throws(() => fsCall("utime", "/x", failing({ code: "ENOENT" })), (error) => error instanceof MmapError && error.errno === 2);
    assert.throws(() => fsCall("stat", "/x", failing({ code: "ENOSUCHTHING" })), (error) => !(error instanceof MmapError));
  });

  it("the libc layer refuses a C string with a NUL (the last line of defence under every path check)", () => {
    assert.throws(() => cString("/tmp/secret.txt\0anything.txt"), TypeError);
    assert.deepEqual([...cString("ab")], [97, 98, 0]);
  });

  it("known gaps still fail (reported, not asserted: delete an entry once the library is fixed)", () => {
    const fixed = heldBack.filter(({ row }) => runRow(row) === null);
    for (const { row } of fixed) console.log(`known gap now passes: ${row.target} ${row.argument} = ${row.bad.label}`);
    console.log(`hostile input: ${heldBack.length - fixed.length} of ${heldBack.length} known-gap rows still fail`);
  });
});
