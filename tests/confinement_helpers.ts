// Shared by the confinement tests: a box to confine a MemMapFS to, an
// outside directory with a canary file whose bytes, mode, size, times and
// existence are checked, the C attacker that swaps names with
// renameat2(RENAME_EXCHANGE), and a way to run a test with openat2 or with
// the openat walk forced (openat2 answering ENOSYS, as on Linux < 5.6).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { FaultyLibc, libc, useLibc } from "../src/ffi/mod.ts";

/** Bytes no read from inside the box may ever return. */
export const SECRET = "OUTSIDE-SECRET-".repeat(8);

/** The outside world a confined file system must never reach. */
export interface Outside {
  readonly directory: string;
  readonly canary: string;
  /** Everything observable about the outside now, to compare before and after. */
  snapshot(): string;
}

/** Makes `top/outside` with the canary `secret.txt` (mode 0640) and a marker file. */
export function makeOutside(top: string): Outside {
  const directory = path.join(top, "outside");
  fs.mkdirSync(directory);
  const canary = path.join(directory, "secret.txt");
  fs.writeFileSync(canary, SECRET, { mode: 0o640 });
  fs.chmodSync(canary, 0o640);
  fs.writeFileSync(path.join(directory, "outside-only.txt"), "marker");
  return {
    directory,
    canary,
    snapshot() {
      const listing = fs.readdirSync(directory).sort();
      const canaryState = fs.existsSync(canary)
        ? (() => {
          const stat = fs.lstatSync(canary);
          return `${stat.mode.toString(8)} ${stat.size} ${stat.mtimeMs} ${stat.uid}:${stat.gid} ${fs.readFileSync(canary, "latin1")}`;
        })()
        : "missing";
      const directoryStat = fs.statSync(directory);
      return JSON.stringify({ listing, canaryState, directory: `${directoryStat.mode.toString(8)} ${directoryStat.mtimeMs}` });
    },
  };
}

/** The attacker binary, built once per directory with `cc` (Bun runs every file in one process); `null` without a compiler. */
const built = new Map<string, string | null>();
export function exchangeLoop(top: string): string | null {
  if (built.has(top)) return built.get(top)!;
  const source = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "exchange_loop.c");
  const binary = path.join(top, "exchange_loop");
  const result = spawnSync("cc", ["-O2", "-o", binary, source], { encoding: "utf8" });
  if ((result.error as { code?: string } | undefined)?.code === "ENOENT") {
    built.set(top, null);
    return null;
  }
  assert.equal(result.status, 0, `cc failed: ${result.stderr}`);
  built.set(top, binary);
  return binary;
}

/**
 * Runs the attacker over `pairs` of names in `directory` while `work` runs
 * (synchronously, for as long as it likes); returns `work`'s result and the
 * number of exchanges made.
 */
export async function whileSwapping<T>(
  binary: string,
  directory: string,
  pairs: [string, string][],
  work: () => T,
): Promise<{ result: T; exchanges: number }> {
  const stop = path.join(path.dirname(directory), `stop-${Math.random().toString(36).slice(2)}`);
  const child = spawn(binary, [directory, stop, ...pairs.flat()], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => stdout += chunk);
  child.stderr.on("data", (chunk) => stderr += chunk);
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (stdout.includes("ready\n")) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
    child.on("close", () => {
      clearInterval(poll);
      reject(new Error(`the attacker exited early: ${stderr}`));
    });
  });
  let result: T;
  try {
    result = work();
  } finally {
    fs.writeFileSync(stop, "");
  }
  const status = await exited;
  fs.rmSync(stop, { force: true });
  assert.equal(status, 0, `the attacker failed: ${stderr}`);
  return { result, exchanges: Number(stdout.split("\n")[1]) };
}

/** How a confined file system resolves paths in a test. */
export type Resolution = "openat2" | "walk";

/**
 * Runs `work` with the runtime's libc (openat2 where the kernel has it) or
 * with openat2 failing ENOSYS once, so the openat walk takes over for the
 * rest of that libc's life. Returns the counting libc for assertions.
 */
export async function withResolution<T>(resolution: Resolution, work: (counting: FaultyLibc) => T | Promise<T>): Promise<T> {
  const counting = new FaultyLibc(libc());
  const enosys = Number(Object.entries(libc().constants.errnoNames).find(([, name]) => name === "ENOSYS")![0]);
  if (resolution === "walk") counting.fail("openat2", { errno: enosys });
  useLibc(counting);
  try {
    return await work(counting);
  } finally {
    useLibc(null);
  }
}

/** Whether this kernel and libc have openat2 (Linux 5.6+). */
export function kernelHasOpenat2(): boolean {
  const l = libc();
  if (!l.openat2) return false;
  const c = l.constants;
  const fd = l.openat2(c.AT_FDCWD, "/", c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0, 0);
  if (fd < 0) return false;
  l.close(fd);
  return true;
}
