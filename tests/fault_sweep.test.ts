// Fault-injection sweep over every public operation of MappedFile, MemMapFS,
// SharedMemory and BlockFile (the tables are in fault_sweep_cases.ts).
//
// For each operation: one run with a RecordingLibc learns the libc calls it
// makes, as (call, nth) pairs. Then, for each pair and each errno that call can
// really return (ERRNOS), setup + operation run again with that single fault:
// - the operation throws an MmapError whose code is the errno's name, whose
//   syscall is the call's and whose path is the object's file, directory or
//   shared-memory name (or null for anonymous memory), unless the call is one
//   the operation absorbs by contract (listed with the reason in the tables);
// - the object is then either usable (the class's check: reads match the file,
//   writes read back and land) or closed (`closed`, and methods throw ClosedError);
// - a failed msync or fsync poisons it: a later sync() throws the same code, and
//   close() reports it (SharedMemory's close does not flush, so it cannot);
// - after closing everything, this process has the descriptors it had before
//   and no mapping of the test directory or the shared-memory object.
// An operation that calls mremap is swept a second time through a libc without
// it (as on Darwin), where growth maps anew and unmaps the old range.
// Every run's problems are collected, so one failing operation lists them all.
// The count printed at the end is of the (operation, call, errno) cases run.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MmapError } from "../mod.ts";
import { FaultyLibc, type Libc, libc, type LibcCall, useLibc } from "../src/ffi/mod.ts";
import { makeDirectory, openDescriptors, RecordingLibc, removeDirectory, runtime, withoutMremap } from "./helpers.ts";
import { removeTracked } from "./shared_memory_helpers.ts";
import { type Case, CALLS, type Ctx, ERRNO_NUMBERS, ERRNOS, type Kit, mappedFileKit, SYSCALL } from "./fault_sweep_cases.ts";
import { memMapFSKit } from "./fault_sweep_cases_memmapfs.ts";
import { blockFileKit, sharedMemoryKit } from "./fault_sweep_cases_shm_blocks.ts";

const KITS: Kit[] = [mappedFileKit, memMapFSKit, sharedMemoryKit, blockFileKit];

const directory = makeDirectory("memmapfs-sweep-");
const counts = new Map<string, { operations: number; withoutMremap: number; cases: number }>();
/** Faults an operation absorbed, by contract (see the reasons in the tables). */
const absorbedFaults = new Set<string>();
after(() => {
  removeTracked();
  removeDirectory(directory);
  const line = [...counts].map(([name, { operations, withoutMremap, cases }]) =>
    `${name} ${cases} (${operations} operations, ${withoutMremap} of them also without mremap)`
  ).join(", ");
  console.log(`fault sweep on ${runtime}: (operation, call, errno) cases run: ${line}`);
  if (absorbedFaults.size > 0) console.log(`fault sweep: absorbed by contract:\n  ${[...absorbedFaults].join("\n  ")}`);
});


let serial = 0;
function newCtx(): Ctx {
  const dir = path.join(directory, `run-${serial++}`);
  fs.mkdirSync(dir);
  const file = path.join(dir, "file.bin");
  return { dir, path: file, paths: [file, dir], closers: [] };
}

function snapshot(faulty: FaultyLibc): Map<LibcCall, number> {
  return new Map(CALLS.map((call) => [call, faulty.calls(call)]));
}

/** Closes what a run made; returns the errors close reported. */
function closeAll(c: Ctx): unknown[] {
  const errors: unknown[] = [];
  for (const close of c.closers.reverse()) {
    try {
      close();
    } catch (error) {
      errors.push(error);
    }
  }
  return errors;
}

/** The (call, nth) pairs `kase.run` makes when nothing fails. */
async function callsOf(kase: Case, inner: Libc): Promise<[LibcCall, number][]> {
  const recording = new RecordingLibc(inner);
  const c = newCtx();
  c.libc = recording;
  useLibc(recording);
  try {
    kase.setup?.(c);
    const before = snapshot(recording);
    await kase.run(c);
    const made = snapshot(recording);
    return CALLS.flatMap((call) =>
      Array.from({ length: made.get(call)! - before.get(call)! }, (_, i) => [call, i + 1] as [LibcCall, number])
    );
  } finally {
    const errors = closeAll(c);
    useLibc(null);
    fs.rmSync(c.dir, { recursive: true, force: true });
    assert.deepEqual(errors, [], `${kase.op} closes cleanly when nothing fails`);
  }
}

/** One run with `call` #nth failing with `code`; returns the problems found. */
async function runOnce(kit: Kit, kase: Case, inner: Libc, call: LibcCall, nth: number, code: string): Promise<string[]> {
  const problems: string[] = [];
  const check = (what: string, body: () => void) => {
    try {
      body();
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
    }
  };
  const descriptors = openDescriptors();
  const faulty = new FaultyLibc(inner);
  const c = newCtx();
  c.libc = faulty;
  if (kase.anonymous) c.paths = [null, undefined];
  let closeErrors: unknown[] = [];
  let poisoned = false;
  useLibc(faulty);
  try {
    kase.setup?.(c);
    const before = faulty.calls(call);
    faulty.fail(call, { nth, errno: ERRNO_NUMBERS[code] });
    let thrown: unknown;
    try {
      await kase.run(c);
    } catch (error) {
      thrown = error;
    }
    const fired = faulty.calls(call) - before >= nth;
    if (!fired) problems.push(`the fault never fired (${call} made ${faulty.calls(call) - before} times)`);
    const absorbed = kase.absorbs?.[call] ?? kit.absorbs[call];
    if (thrown === undefined) {
      if (!absorbed) problems.push("no error: the failure was swallowed");
      else absorbedFaults.add(`${kit.name} ${kase.op}: ${call}`);
    } else {
      check("error", () => {
        assert.ok(thrown instanceof MmapError, `expected an MmapError, got ${thrown}`);
        assert.equal(thrown.code, code, "code");
        assert.equal(thrown.syscall, SYSCALL[call] ?? call, "syscall");
        assert.ok(c.paths.includes(thrown.path), `path ${thrown.path} is not one of ${c.paths.join(", ")}`);
      });
    }
    // A flush that failed (msync, fsync of the file, or open/fsync/close of its
    // directory after a create), reported or not (a timer's), must poison the object.
    poisoned = c.obj !== undefined && fired &&
      (call === "msync" || call === "fsync" || (thrown instanceof MmapError && thrown.path === c.dir));
    const obj = c.obj;
    if (obj !== undefined) {
      let closed = false;
      check("state", () => void (closed = kit.isClosed(obj)));
      if (closed) {
        check("closed object throws ClosedError", () => kit.closedProbe(obj));
      } else {
        check("usable after the failure", () => kit.usable(c, poisoned ? code : undefined));
        if (poisoned && kit.sync) {
          check("a failed flush poisons: sync throws again", () =>
            assert.throws(() => kit.sync!(obj), (error: unknown) => error instanceof MmapError && error.code === code));
        }
      }
    }
  } catch (error) {
    problems.push(`setup or check threw: ${error}`);
  } finally {
    closeErrors = closeAll(c);
    useLibc(null);
  }
  const reported = closeErrors.filter((error) => error instanceof MmapError && error.code === code);
  const closeFlushes = kit.closeReportsPoison && !kase.anonymous && !kase.closeSkipsFlush;
  if (poisoned && closeFlushes && !kit.isClosed(c.obj) && reported.length === 0) problems.push("close() of a poisoned object reported nothing");
  const unexpected = closeErrors.filter((error) => !(poisoned && reported.includes(error)));
  if (unexpected.length > 0) problems.push(`close after the run threw: ${unexpected.join("; ")}`);
  check("descriptors", () => assert.deepEqual(openDescriptors(), descriptors, "descriptors leaked"));
  check("mappings", () => assert.deepEqual(kit.mappings(c), [], "mappings leaked"));
  fs.rmSync(c.dir, { recursive: true, force: true });
  return problems;
}

for (const kit of KITS) {
  describe(`fault sweep: ${kit.name}`, () => {
    const tally = { operations: 0, withoutMremap: 0, cases: 0 };
    counts.set(kit.name, tally);
    for (const kase of kit.cases) {
      it(kase.op, async () => {
        const problems: string[] = [];
        const plans: string[] = [];
        // An operation that uses mremap is swept again as on a platform without
        // it (Darwin), where growth maps anew and unmaps the old range.
        for (const variant of ["", " without mremap"]) {
          const inner = variant ? withoutMremap(libc()) : libc();
          const plan = await callsOf(kase, inner);
          if (variant && !plans[0].includes("mremap")) break;
          plans.push(plan.map(([call, nth]) => `${call}#${nth}`).join(" "));
          if (variant) tally.withoutMremap++;
          else tally.operations++;
          for (const [call, nth] of plan) {
            for (const code of ERRNOS[call]) {
              tally.cases++;
              for (const problem of await runOnce(kit, kase, inner, call, nth, code)) {
                problems.push(`${call} #${nth} ${code}${variant}: ${problem}`);
              }
            }
          }
        }
        assert.deepEqual(problems, [], `${kase.op}: calls made ${plans.join("; without mremap: ")}`);
      });
    }
  });
}
