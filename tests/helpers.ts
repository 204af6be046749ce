// Shared test utilities: temporary directories, snapshots of this process's
// descriptors and mappings (to prove nothing leaks), and a way to run a
// script in a child process of the same runtime.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MemMapFS } from "../mod.ts";
import { FaultyLibc, type Libc, useLibc } from "../src/ffi/mod.ts";

/** The runtime running this test file. */
export const runtime: "deno" | "bun" | "node" =
  typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
    ? "deno"
    : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
    ? "bun"
    : "node";

/**
 * Set (to "qemu-aarch64") when the suite runs under qemu-user: the linux-arm64
 * leg of scripts/test.mjs. Tests whose subject qemu-user cannot show (it drops
 * MAP_POPULATE and most madvise advice) check what memmapfs asks of the kernel
 * instead, and say so in their names.
 */
export const emulator: string | undefined = process.env.MEMMAPFS_EMULATED || undefined;

/**
 * How much longer a child process may take: an emulated runtime starts in
 * seconds, not milliseconds, and a whole child (start, import, work) under
 * qemu on a busy 2-core machine was measured at 26 s against 0.5 s natively.
 */
export const childTimeoutScale = emulator ? 6 : 1;

/** A fresh temporary directory; remove it with `removeDirectory`. */
export function makeDirectory(prefix = "memmapfs-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDirectory(directory: string): void {
  try {
    fs.rmSync(directory, { recursive: true, force: true });
  } catch (error) {
    // Bun for Windows' recursive rmSync fails with EFAULT under Wine (the
    // Windows leg); one entry at a time works there.
    if (process.platform !== "win32") throw error;
    removeTree(directory);
  }
}

function removeTree(entry: string): void {
  const stat = fs.lstatSync(entry, { throwIfNoEntry: false });
  if (!stat) return;
  if (!stat.isDirectory()) return fs.unlinkSync(entry);
  for (const name of fs.readdirSync(entry)) removeTree(path.join(entry, name));
  fs.rmdirSync(entry);
}

/** Descriptor numbers open in this process now. */
export function openDescriptors(): string[] {
  return fs.readdirSync("/proc/self/fd").sort();
}

/**
 * Descriptors open now that were not open in `before`: what a leak leaves. A
 * runtime may close its own descriptors meanwhile (Bun closes a finished
 * child's pipes lazily), so this is the check to use after spawning children.
 */
export function newDescriptors(before: readonly string[]): string[] {
  return openDescriptors().filter((fd) => !before.includes(fd));
}

/** Lines of /proc/self/maps that map `file`. */
export function mappingsOf(file: string): string[] {
  return fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) =>
    line.includes(file)
  );
}

/** Bytes 0..n-1 with a recognisable pattern. */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) % 251;
  return bytes;
}

/** The command line that runs a TypeScript file with the current runtime. */
export function runtimeCommand(script: string): [string, string[]] {
  const exec = process.execPath;
  if (runtime === "deno") return [exec, ["run", "-A", script]];
  if (runtime === "bun") return [exec, [script]];
  return [exec, ["--experimental-ffi", "--no-warnings", script]];
}

/**
 * Writes `source` to a script file next to the tests (so relative imports of
 * ../mod.ts work) and runs it with the current runtime, optionally through
 * `bash -c` with a prefix such as `ulimit -l 64 && exec`.
 */
export function runScript(
  source: string,
  options: {
    shellPrefix?: string;
    timeout?: number;
    args?: string[];
    env?: Record<string, string>;
    /** The prefix is the whole command before the script: no runtime flags are added. */
    bare?: boolean;
  } = {},
): SpawnSyncReturns<string> {
  const directory = path.dirname(fileURLToPath(import.meta.url));
  const file = path.join(directory, `.child_${process.pid}_${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, source);
  try {
    const [command, args] = options.bare ? ["", [file]] : runtimeCommand(file);
    const all = [...args, ...(options.args ?? [])];
    if (options.shellPrefix) {
      const quoted = (options.bare ? all : [command, ...all]).map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" ");
      return spawnSync("bash", ["-c", `${options.shellPrefix} ${quoted}`], {
        encoding: "utf8",
        timeout: (options.timeout ?? 30_000) * childTimeoutScale,
        env: { ...process.env, ...options.env },
      });
    }
    return spawnSync(command, all, {
      encoding: "utf8",
      timeout: (options.timeout ?? 30_000) * childTimeoutScale,
      env: { ...process.env, ...options.env },
    });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** What a child started with {@linkcode startScript} did. */
export interface ChildOutcome {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Like {@linkcode runScript}, without blocking: several children can run at
 * once. With `killAfterReady`, the child is killed with SIGKILL that many ms
 * after it prints "ready" (so its start-up time does not count).
 */
export function startScript(source: string, options: { killAfterReady?: number } = {}): Promise<ChildOutcome> {
  const directory = path.dirname(fileURLToPath(import.meta.url));
  const file = path.join(directory, `.child_${process.pid}_${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, source);
  const [command, args] = runtimeCommand(file);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killer: ReturnType<typeof setTimeout> | undefined;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (options.killAfterReady !== undefined && !killer && stdout.includes("ready\n")) {
        killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterReady);
      }
    });
    child.stderr.on("data", (chunk) => stderr += chunk);
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000 * childTimeoutScale);
    child.on("error", reject);
    child.on("close", (status, signal) => {
      clearTimeout(killer);
      clearTimeout(guard);
      fs.rmSync(file, { force: true });
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** A script started with the current runtime and killed with SIGKILL `delay` ms after it is ready. */
export function startScriptKilled(source: string, delay: number): Promise<ChildOutcome> {
  return startScript(source, { killAfterReady: delay });
}

/** Runs a seed example's body, collecting what it prints, joined as Go's test output shows it. */
export function example(body: (print: (line: string) => void) => void): string {
  const lines: string[] = [];
  body((line) => lines.push(line));
  return lines.join(" ");
}

/** Bytes 0, 1, …, 255, 0, 1, … as the seed examples fill their files. */
export function countingBytes(length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = i % 256;
  return data;
}

/**
 * The sum, in kB, of one field of /proc/self/smaps ("Rss", "Locked", …) over
 * every mapping of `file`.
 */
export function smapsTotal(file: string, field: string): number {
  let total = 0;
  let inFile = false;
  for (const line of fs.readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inFile = line.endsWith(` ${file}`);
    } else if (inFile && line.startsWith(`${field}:`)) {
      total += Number(line.slice(field.length + 1).trim().split(/\s+/)[0]);
    }
  }
  return total;
}

/** A libc call with its arguments, as {@linkcode RecordingLibc} saw it. */
export interface RecordedCall {
  address: bigint;
  length: number;
  /** msync flags or madvise advice. */
  flags: number;
}

/** A counting FaultyLibc that also records the arguments of msync and madvise. */
export class RecordingLibc extends FaultyLibc {
  readonly msyncs: RecordedCall[] = [];
  readonly madvises: RecordedCall[] = [];

  override msync(address: bigint, length: number, flags: number): number {
    this.msyncs.push({ address, length, flags });
    return super.msync(address, length, flags);
  }

  override madvise(address: bigint, length: number, advice: number): number {
    this.madvises.push({ address, length, flags: advice });
    return super.madvise(address, length, advice);
  }
}

/** Runs `work` with `replacement` as the active libc, always restoring the runtime's own. */
export function withLibc<L extends Libc, T>(replacement: L, work: (libc: L) => T): T {
  useLibc(replacement);
  try {
    return work(replacement);
  } finally {
    useLibc(null);
  }
}

/** The runtime's libc as a platform without mremap (Darwin) has it: growth maps anew. */
export function withoutMremap(inner: Libc): Libc {
  return new Proxy(inner, {
    get(target, key) {
      if (key === "mremap") return undefined;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

let roots = 0;

/** A new root directory under `top` and a MemMapFS over it. */
export function freshMemMapFS(top: string, options: ConstructorParameters<typeof MemMapFS>[0] = {}): [MemMapFS, string] {
  const root = path.join(top, `root-${roots++}`);
  fs.mkdirSync(root);
  return [new MemMapFS({ root, ...options }), root];
}
