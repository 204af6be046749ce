/**
 * What every workload script shares: its arguments, the runtime it runs on,
 * timing of interleaved contenders, peak RSS, and the one line of JSON the
 * driver (bench/run.mjs) reads back.
 *
 * @module
 */

import * as fs from "node:fs";

type Globals = { Deno?: { version: { deno: string } }; Bun?: { version: string } };

/** "deno", "bun" or "node". */
export function runtimeKey(): "deno" | "bun" | "node" {
  const globals = globalThis as Globals;
  if (globals.Deno) return "deno";
  if (globals.Bun) return "bun";
  return "node";
}

/** `--name=value` arguments as a map; bare `--flag` maps to "true". */
export function args(): Map<string, string> {
  const result = new Map<string, string>();
  for (const arg of process.argv.slice(2)) {
    if (!arg.startsWith("--")) continue;
    const at = arg.indexOf("=");
    if (at === -1) result.set(arg.slice(2), "true");
    else result.set(arg.slice(2, at), arg.slice(at + 1));
  }
  return result;
}

export function numberArg(all: Map<string, string>, name: string, fallback?: number): number {
  const raw = all.get(name);
  if (raw === undefined) {
    if (fallback === undefined) throw new Error(`missing --${name}=`);
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`--${name}=${raw} is not a number`);
  return value;
}

export function stringArg(all: Map<string, string>, name: string, fallback?: string): string {
  const value = all.get(name) ?? fallback;
  if (value === undefined) throw new Error(`missing --${name}=`);
  return value;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** A field of /proc/self/status in bytes (VmHWM: peak RSS, VmRSS: current), or null off Linux. */
export function statusBytes(field: "VmHWM" | "VmRSS"): number | null {
  try {
    const status = fs.readFileSync("/proc/self/status", "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** One contender: `run` does one repetition and returns a checksum, so no work is optimised away. */
export interface Contender {
  name: string;
  ours?: boolean;
  /** When set, compared only with contenders of the same group. */
  group?: string;
  run: () => number;
  /** Divides a repetition's time: ops per repetition for ns/op, 1 for a whole-run time. */
  perRep?: number;
}

export interface Measured {
  name: string;
  ours: boolean;
  group?: string;
  value: number;
  reps: number[];
  rssBytes?: number | null;
  rssDeltaBytes?: number | null;
}

/**
 * Runs every contender `warmup` times, then `reps` rounds in which each runs
 * once, in turn: machine noise drifts over a run, and interleaving spreads it
 * over all contenders instead of loading it on one. Value: median per rep,
 * in ns per op when `perRep` is given, else ms per repetition.
 */
export function measure(contenders: Contender[], reps: number, warmup = 1): Measured[] {
  const checks = new Map<string, number>();
  const check = (name: string, sum: number) => {
    const seen = checks.get(name);
    if (seen !== undefined && seen !== sum) throw new Error(`${name}: checksum changed between repetitions`);
    checks.set(name, sum);
  };
  for (let i = 0; i < warmup; i++) for (const contender of contenders) check(contender.name, contender.run());
  const times = new Map<string, number[]>(contenders.map((contender) => [contender.name, []]));
  for (let rep = 0; rep < reps; rep++) {
    // Each round starts with the next contender, so none always runs first
    // (after the previous round's last one, whose writeback or garbage it may pay for).
    const order = contenders.map((_, i) => contenders[(i + rep) % contenders.length]);
    for (const contender of order) {
      const start = performance.now();
      const sum = contender.run();
      const elapsed = performance.now() - start;
      check(contender.name, sum);
      times.get(contender.name)!.push(contender.perRep ? (elapsed * 1e6) / contender.perRep : elapsed);
    }
  }
  return contenders.map((contender) => {
    const values = times.get(contender.name)!;
    return { name: contender.name, ours: contender.ours ?? false, group: contender.group, value: median(values), reps: values };
  });
}

export interface WorkloadResult {
  workload: string;
  /** "ns/op" or "ms". */
  unit: string;
  params: Record<string, number | string>;
  contenders: Measured[];
  skipped?: { name: string; reason: string }[];
}

/** The line bench/run.mjs looks for on stdout. */
export function emit(result: WorkloadResult): void {
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
}
