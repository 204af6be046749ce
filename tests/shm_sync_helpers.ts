// Utilities of the wait/notify, SharedMutex and SharedRing suites: children of
// any of the three runtimes (or python3) started from a script written next to
// the tests (so `../mod.ts` resolves), killable at any moment.
import * as fs from "node:fs";
import * as path from "node:path";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtime } from "./helpers.ts";

export type Runtime = "deno" | "bun" | "node";
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");

/** The binary of a runtime: the test runner's MEMMAPFS_* variables, else node_modules/.bin. */
export function runtimeBinary(name: Runtime): string {
  const variable = { deno: "MEMMAPFS_DENO", bun: "MEMMAPFS_BUN", node: "MEMMAPFS_NODE" }[name];
  return process.env[variable] ?? (name === runtime ? process.execPath : path.join(root, "node_modules", ".bin", name));
}

/** The other two runtimes, then this one: children "of a different runtime" come first. */
export const otherRuntimes: Runtime[] = (["deno", "bun", "node"] as Runtime[]).filter((name) => name !== runtime);

/** A running child: its process (to kill) and what it did once it ends. */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves at the child's first line of output that equals `ready`. */
  readonly ready: Promise<void>;
  readonly done: Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>;
}

/**
 * Starts `source` (TypeScript, or Python with `python3`) with `args`. The
 * child is killed after `guardMs` so a hung child cannot hang the suite.
 */
export function startChild(
  who: Runtime | "python3",
  source: string,
  args: string[] = [],
  guardMs = 120_000,
): Child {
  const extension = who === "python3" ? "py" : "ts";
  const file = path.join(here, `.child_${process.pid}_${Math.random().toString(36).slice(2)}.${extension}`);
  fs.writeFileSync(file, source);
  const command = who === "python3" ? "python3" : runtimeBinary(who);
  const flags = who === "deno" ? ["run", "-A"] : who === "node" ? ["--experimental-ffi", "--no-warnings"] : [];
  const env = { ...process.env, PYTHONPATH: path.join(root, "examples") };
  const child = spawn(command, [...flags, file, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "", stderr = "";
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => markReady = resolve);
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    if (/^ready$/m.test(stdout)) markReady();
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
  const guard = setTimeout(() => child.kill("SIGKILL"), guardMs);
  const done = new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      child.on("error", reject);
      child.on("close", (status, signal) => {
        clearTimeout(guard);
        fs.rmSync(file, { force: true });
        markReady(); // a child that died before "ready" releases its waiter
        resolve({ status, signal, stdout, stderr });
      });
    },
  );
  return { process: child, ready, done };
}

/** Runs a child to its end and insists it succeeded; returns its output. */
export async function runChild(who: Runtime | "python3", source: string, args: string[] = []): Promise<string> {
  const outcome = await startChild(who, source, args).done;
  if (outcome.status !== 0) {
    throw new Error(`${who} child failed (${outcome.status ?? outcome.signal}): ${outcome.stderr}${outcome.stdout}`);
  }
  return outcome.stdout;
}

/** Resolves after `ms` (for spacing kills, never for assertions). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
