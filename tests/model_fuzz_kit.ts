// Shared pieces of the model-based fuzz tests (issue 7.4): the seed and how to replay a
// failure, byte comparison, commands that count themselves, where runs keep their files, and
// running a property so a failure prints its replay line.
// Deterministic: DEFAULT_SEED unless MEMMAPFS_FUZZ_SEED is set; MEMMAPFS_FUZZ_RUNS scales the
// runs. A failure prints the shrunk commands and MEMMAPFS_FUZZ_TARGET=… MEMMAPFS_FUZZ_SEED=…
// MEMMAPFS_FUZZ_PATH=… MEMMAPFS_FUZZ_REPLAY=…, which replay exactly that failure.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import process from "node:process";
import fc from "fast-check";
import type { MmapError } from "../mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

export const DEFAULT_SEED = 0x6d6d6170; // "mmap"
export const seed = envInteger("MEMMAPFS_FUZZ_SEED") ?? DEFAULT_SEED;
export const scale = (envInteger("MEMMAPFS_FUZZ_RUNS") ?? 300) / 300;
export const replay = { path: process.env.MEMMAPFS_FUZZ_PATH || undefined, commands: process.env.MEMMAPFS_FUZZ_REPLAY || undefined };
export const PAGES = 6; // offsets reach about this many pages, so files stay a few pages long

function envInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got "${text}"`);
  return value;
}

export const stats = new Map<string, number>();
export const count = (name: string) => stats.set(name, (stats.get(name) ?? 0) + 1);

export function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) assert.fail(`${what}: ${actual.length} bytes, the model has ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: byte ${i} is ${actual[i]}, the model has ${expected[i]}`);
  }
}

export function throwsExactly(work: () => unknown, kind: new (...args: never[]) => Error, what: string, code?: string): void {
  assert.throws(work, (error: unknown) => {
    assert.equal((error as Error)?.constructor, kind, `${what}: ${String(error)}`);
    if (code) assert.equal((error as MmapError).code, code, `${what}: ${String(error)}`);
    if (code) count(code);
    return true;
  }, `${what} should throw ${kind.name} ${code ?? ""}`);
}

export function describeBytes(bytes: Uint8Array): string {
  return bytes.length <= 8 ? `[${bytes.join(",")}]` : `${bytes.length} bytes from ${bytes[0]}`;
}

/** Grows or cuts `bytes` to `size`, zero-filled. */
export function sized(bytes: Uint8Array, size: number): Uint8Array {
  const result = new Uint8Array(size);
  result.set(bytes.subarray(0, size));
  return result;
}

/** A command with a label, run when `applies`, after which `verify` compares everything. */
export function command<M extends object, R>(label: string, applies: (m: Readonly<M>) => boolean, run: (m: M, r: R) => void, verify: (m: M, r: R) => void): fc.Command<M, R> {
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


// Most runs work in tmpfs (/dev/shm), where msync and fsync cost nothing; one in four in the
// ordinary temporary directory (a disk here), so that disk-backed files are fuzzed too. The
// place is part of each run's input, so a replay uses the same one.
export type Place = "memory" | "disk";
export const place = fc.constantFrom<Place>("memory", "memory", "memory", "disk");
export const directories = { memory: "", disk: "" };
let runNumber = 0;
/** A new file name for one run. */
export const runName = (extension: string) => `run-${runNumber++}.${extension}`;

/** Makes the run directories before a test file's fuzzing and removes them after. */
export function useFuzzDirectories(): void {
  before(() => {
    directories.disk = makeDirectory("memmapfs-fuzz-");
    directories.memory = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/memmapfs-fuzz-") : directories.disk;
  });
  after(() => {
    removeDirectory(directories.memory);
    removeDirectory(directories.disk);
  });
}

// Small random bytes, or longer patterned runs that cross one or two page edges.
export const bytes = (longest: number) =>
  fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 12 }),
    fc.tuple(fc.integer({ min: 1, max: longest }), fc.integer({ min: 0, max: 255 }))
      .map(([length, start]) => Uint8Array.from({ length }, (_, i) => (start + i * 7) & 0xff)),
  );

/** Runs a property; a failure names the commands and how to replay them. */
export function fuzz<T>(target: string, property: fc.IProperty<T>, numRuns: number, parameters: fc.Parameters<T> = {}): fc.RunDetails<T> {
  const replaying = replay.path !== undefined && process.env.MEMMAPFS_FUZZ_TARGET === target;
  return fc.check(property, { seed, numRuns, ...(replaying ? { path: replay.path } : {}), ...parameters });
}

export function assertPassed<T>(target: string, details: fc.RunDetails<T>): void {
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
export const slow = { timeout: 120_000 };
