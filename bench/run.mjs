// `npm run bench` / `deno task bench`: runs every workload in bench/workloads
// under Deno, Bun and Node 26, each against its peers in the same process (or
// in sibling processes where peak RSS must be its own), prints one table per
// runtime and writes bench/results/<runtime>.json, report.md and ratios.svg.
//
// Plain JavaScript that runs on the system Node (20 here), like
// scripts/test.mjs: it only generates data and spawns the runtimes.
//
//   --runs=N                 N full runs (default 3; 1 with --quick), interleaved:
//                            each workload runs on every runtime, then again, N
//                            times, before the next workload; the report gives
//                            each speed-up's median and its range over the runs
//   --quick                  small sizes, for development (under two minutes)
//   --runtime=deno,bun,node  only these runtimes (other runtimes' results stay)
//   --report-only            only re-render report.md and ratios.svg from the JSON
//   --only=random_read,...   only these workloads; they replace their own rows in
//                            the results on disk and the others stay
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDeps } from "../scripts/ensure_deps.mjs";
import { describeMachine, machine, version } from "./lib/machine.mjs";
import { installNpmPeers } from "./lib/npm_peers.mjs";
import { consoleTable, markdownReport, mergeRuns, metText, targets } from "./lib/report.mjs";
import { ratioChart } from "./lib/svg_chart.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
// --quick results go to their own (ignored) directory: they must never replace a full run's.
const resultsDir = join(root, "bench", "results", process.argv.includes("--quick") ? "quick" : "");
const RUNTIMES = ["deno", "bun", "node"];
const WORKLOADS = ["random_read", "zero_copy", "sequential_scan", "sparse_touch", "write_chunks", "small_file", "ffi_overhead"];
const MiB = 2 ** 20, GiB = 2 ** 30;

const args = process.argv.slice(2);
const listArg = (name, all) => {
  const raw = args.find((arg) => arg.startsWith(`--${name}=`));
  if (!raw) return all;
  const list = raw.slice(name.length + 3).split(",").filter(Boolean);
  for (const item of list) if (!all.includes(item)) die(`--${name}: unknown "${item}" (${all.join(", ")})`);
  return list;
};
function die(message) {
  console.error(`memmapfs bench: ${message}`);
  process.exit(2);
}
const unknown = args.filter((arg) => !/^--(quick|report-only|runtime=.*|only=.*|runs=.*)$/.test(arg));
if (unknown.length > 0) die(`unknown option ${unknown.join(" ")}`);
const quick = args.includes("--quick");
const runsArg = args.find((arg) => arg.startsWith("--runs="));
const runs = runsArg ? Number(runsArg.slice("--runs=".length)) : quick ? 1 : 3;
if (!Number.isSafeInteger(runs) || runs < 1) die(`--runs: expected a whole number of at least 1, got "${runsArg.slice("--runs=".length)}"`);
const runtimes = listArg("runtime", RUNTIMES);
const only = listArg("only", WORKLOADS);

// The issue's sizes by default; --quick keeps the same shapes, smaller.
const S = quick
  ? { big: 128 * MiB, sparse: 512 * MiB, write: 128 * MiB, reads: 50_000, ops: 2_000, calls: 20_000, reps: 3, bigReps: 2, writeReps: 2 }
  : { big: 1 * GiB, sparse: 4 * GiB, write: 1 * GiB, reads: 200_000, ops: 10_000, calls: 100_000, reps: 5, bigReps: 3, writeReps: 7 };
const sizesText = `${S.big / MiB} MiB page-cached file for random reads and the scan, ${S.sparse / MiB} MiB sparse file, ` +
  `${S.write / MiB} MiB written, ${S.reads.toLocaleString("en")} random reads, ${S.ops.toLocaleString("en")} small-file opens, ` +
  `${S.reps} repetitions (${S.bigReps} for scan and sparse touch, ${S.writeReps} for writes)`;

const COMMANDS = {
  deno: [bin("deno"), ["run", "-A", "--quiet"]],
  bun: [bin("bun"), []],
  node: [bin("node"), ["--experimental-ffi", "--no-warnings"]],
};

/** Runs one workload script; returns its parsed result or { error }. */
function runWorkload(runtime, workload, workloadArgs) {
  const [command, prefix] = COMMANDS[runtime];
  const script = join(root, "bench", "workloads", `${workload}.ts`);
  const child = spawnSync(command, [...prefix, script, ...workloadArgs], {
    cwd: root,
    encoding: "utf8",
    timeout: 900_000,
    maxBuffer: 64 * MiB,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const line = (child.stdout ?? "").split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (child.status === 0 && line) return JSON.parse(line.slice("BENCH_RESULT ".length));
  const why = child.error ? String(child.error) : (child.stderr || child.stdout || `exit ${child.status}`).trim().split("\n").slice(-3).join(" ");
  console.error(`  ${runtime} ${workload} failed: ${why}`);
  return { workload, error: why.slice(0, 300), contenders: [] };
}

/** Runs a workload once per variant, each in its own process, and merges the contenders. */
function runVariants(runtime, workload, variants, workloadArgs) {
  const parts = variants.map((variant) => runWorkload(runtime, workload, [...workloadArgs, `--variant=${variant}`]));
  const failed = parts.find((part) => part.error);
  if (failed) return failed;
  return { ...parts[0], contenders: parts.flatMap((part) => part.contenders) };
}

/** A text file of lines of varied length, so the newline count means something. */
function writeTextFile(path, size) {
  const lines = [];
  for (let i = 0, length = 0; length < 4 * MiB; i++) {
    lines.push(`${i} ${"x".repeat((i * 7919) % 113)} status=${200 + (i % 5)}\n`);
    length += lines[i].length;
  }
  const block = Buffer.from(lines.join(""));
  const fd = openSync(path, "w");
  for (let written = 0; written < size;) written += writeSync(fd, block, 0, Math.min(block.length, size - written));
  closeSync(fd);
}

/** Reads the file once, so "page-cached" holds before anything is timed. */
function warmPageCache(path) {
  const fd = openSync(path, "r");
  const buffer = Buffer.allocUnsafe(8 * MiB);
  while (readSync(fd, buffer) > 0);
  closeSync(fd);
}

/** The C limit, compiled for this run with the machine's cc; null (and why) without one. */
function buildCPeer(tempDir) {
  const output = join(tempDir, "mmap_memcpy");
  try {
    execFileSync("cc", ["-O2", "-o", output, join(root, "bench", "peers", "mmap_memcpy.c")], { stdio: ["ignore", "ignore", "pipe"] });
    return { binary: output };
  } catch (error) {
    return { reason: `C peer skipped: cc failed or is absent (${String(error.message).split("\n")[0]})` };
  }
}

// The report covers every runtime with results on disk, so a --runtime run refreshes only its own.
function writeReport() {
  const all = RUNTIMES.filter((r) => existsSync(join(resultsDir, `${r}.json`)))
    .map((r) => JSON.parse(readFileSync(join(resultsDir, `${r}.json`), "utf8")));
  if (all.length === 0) die(`no results in ${resultsDir}`);
  const npmRecord = all.find((r) => r.npmPeers?.length)?.npmPeers ?? [];
  writeFileSync(join(resultsDir, "report.md"), markdownReport(all, npmRecord));
  writeFileSync(join(resultsDir, "ratios.svg"), ratioChart(all, describeMachine(all[0].machine)));
}

if (args.includes("--report-only")) {
  writeReport();
  console.log(`wrote ${join(resultsDir, "report.md")} and ratios.svg`);
  process.exit(0);
}

ensureDeps();
const started = Date.now();
const tempDir = mkdtempSync(join(tmpdir(), "memmapfs-bench-"));
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    interrupted = true;
    rmSync(tempDir, { recursive: true, force: true });
    process.exit(130);
  });
}

try {
  console.log(`memmapfs bench${quick ? " --quick" : ""}: ${runtimes.join(", ")}; ${only.join(", ")}`);
  console.log(`  ${describeMachine(machine())}`);
  console.log(`  data in ${tempDir}: ${sizesText}`);
  const bigFile = join(tempDir, "big.txt");
  const sparseFile = join(tempDir, "sparse.bin");
  if (only.some((w) => ["random_read", "zero_copy", "sequential_scan"].includes(w))) {
    writeTextFile(bigFile, S.big);
    warmPageCache(bigFile);
  }
  if (only.includes("sparse_touch")) {
    // A hole the size of the file: it costs no disk, and reads return zeros.
    const fd = openSync(sparseFile, "w");
    ftruncateSync(fd, S.sparse);
    closeSync(fd);
  }
  const cPeer = only.some((w) => ["random_read", "zero_copy", "ffi_overhead"].includes(w)) ? buildCPeer(tempDir) : null;
  if (cPeer?.reason) console.log(`  ${cPeer.reason}`);
  const wantsAddons = only.some((w) => ["random_read", "zero_copy", "ffi_overhead"].includes(w));
  if (wantsAddons) console.log("  npm mmap packages, installed into the temp directory:");
  const npmPeers = wantsAddons ? installNpmPeers(tempDir) : [];
  const addonsArg = `--addons=${npmPeers.filter((p) => p.installed).map((p) => `${p.name}=${p.dir}`).join(",")}`;
  const notInstalled = npmPeers.filter((p) => !p.installed).map((p) => ({ name: p.name, reason: p.reason }));

  mkdirSync(resultsDir, { recursive: true });
  const results = new Map();
  for (const runtime of runtimes) {
    const runtimeVersion = version(COMMANDS[runtime][0]);
    const label = { deno: "Deno", bun: "Bun", node: "Node" }[runtime];
    results.set(runtime, {
      runtime: { key: runtime, version: `${label} ${(runtimeVersion ?? "?").replace(/^(deno|v)\s*/i, "").split(" ")[0]}` },
      machine: machine(),
      date: new Date().toISOString(),
      quick,
      sizesText,
      runs,
      loadAverages: [],
      workloads: [],
    });
  }

  /** One run of `workload` on `runtime`: its result, or { error }. */
  const runOnce = (runtime, workload) => {
    let outcome;
    if (workload === "random_read" || workload === "zero_copy") {
      outcome = runWorkload(runtime, workload, [`--file=${bigFile}`, `--reads=${S.reads}`, `--reps=${S.reps}`, addonsArg]);
      if (!outcome.error) {
        const mode = workload === "random_read" ? "copy" : "touch";
        const name = mode === "copy" ? "C mmap + memcpy" : "C mmap, touch a byte";
        if (cPeer?.binary) {
          // Run right after the runtime's own contenders, on the same offsets.
          const out = execFileSync(cPeer.binary, [bigFile, String(S.reads), String(S.reps), mode], { encoding: "utf8" });
          outcome.contenders.push({ name, ours: false, value: JSON.parse(out).nsPerOp });
        } else if (cPeer?.reason) outcome.skipped = [...(outcome.skipped ?? []), { name, reason: cPeer.reason }];
      }
    } else if (workload === "sequential_scan") {
      outcome = runVariants(runtime, workload, ["mapped", "readFileSync", "streamed"], [`--file=${bigFile}`, `--reps=${S.bigReps}`]);
    } else if (workload === "sparse_touch") {
      outcome = runVariants(runtime, workload, ["mapped", "positional"], [`--file=${sparseFile}`, `--reps=${S.bigReps}`]);
    } else if (workload === "write_chunks") {
      outcome = runWorkload(runtime, workload, [`--workdir=${tempDir}`, `--bytes=${S.write}`, `--reps=${S.writeReps}`]);
    } else if (workload === "small_file") {
      outcome = runWorkload(runtime, workload, [`--workdir=${tempDir}`, `--ops=${S.ops}`, `--reps=${S.reps}`]);
    } else {
      outcome = runWorkload(runtime, workload, [`--workdir=${tempDir}`, `--calls=${S.calls}`, `--reps=${S.reps}`, addonsArg]);
      if (!outcome.error && cPeer?.binary) {
        // The system call alone, so the bare binding's excess over it is the runtime's FFI cost.
        const page = join(tempDir, "page.bin");
        writeFileSync(page, new Uint8Array(4096));
        const out = execFileSync(cPeer.binary, [page, String(S.calls), String(S.reps), "advise"], { encoding: "utf8" });
        outcome.contenders.push({ name: "C madvise (the system call alone)", ours: false, group: "advise", value: JSON.parse(out).nsPerOp });
      }
    }
    if (["random_read", "zero_copy", "ffi_overhead"].includes(workload)) outcome.skipped = [...(outcome.skipped ?? []), ...notInstalled];
    return outcome;
  };

  /** Writes each runtime's results so far; an --only run keeps the other workloads on disk. */
  const save = () => {
    for (const [runtime, result] of results) {
      const file = join(resultsDir, `${runtime}.json`);
      let record = { ...result, npmPeers };
      if (only.length < WORKLOADS.length && existsSync(file)) {
        const previous = JSON.parse(readFileSync(file, "utf8"));
        const done = result.workloads.map((w) => w.workload);
        const kept = previous.workloads.filter((w) => !done.includes(w.workload));
        record = {
          ...record,
          loadAverages: [...(previous.loadAverages ?? []), ...result.loadAverages],
          workloads: [...kept, ...result.workloads].sort((a, b) => WORKLOADS.indexOf(a.workload) - WORKLOADS.indexOf(b.workload)),
          npmPeers: npmPeers.length === 0 ? previous.npmPeers ?? [] : npmPeers,
        };
      }
      writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    }
  };

  // Interleaved: every runtime runs a workload, then every runtime again, `runs`
  // times, before the next workload, so a slow spell of the machine lands on all
  // runtimes and shows up as spread instead of as one runtime's result.
  for (const workload of only) {
    const perRuntime = new Map(runtimes.map((runtime) => [runtime, []]));
    for (let run = 1; run <= runs; run++) {
      for (const runtime of runtimes) {
        const t0 = Date.now();
        const load = loadavg()[0];
        results.get(runtime).loadAverages.push(Number(load.toFixed(2)));
        const outcome = runOnce(runtime, workload);
        perRuntime.get(runtime).push(outcome);
        console.log(`  ${workload}${runs > 1 ? ` run ${run}/${runs}` : ""} on ${runtime}: ${((Date.now() - t0) / 1000).toFixed(1)} s (load ${load.toFixed(2)})`);
      }
    }
    for (const runtime of runtimes) {
      const outcomes = perRuntime.get(runtime);
      const failed = outcomes.find((o) => o.error);
      // A failure in any run is reported: a spread over the runs that worked would hide it.
      const merged = failed ?? { ...outcomes[0], contenders: mergeRuns(outcomes), runs: outcomes.map((o) => ({ contenders: o.contenders })) };
      results.get(runtime).workloads.push(merged);
    }
    save();
  }

  for (const result of results.values()) {
    console.log(`\n${result.runtime.version}${runs > 1 ? ` (${runs} runs: median time, speed-up median (min–max))` : ""}:`);
    console.log(consoleTable(result));
    for (const t of targets(result)) console.log(`  target ${t.met == null ? "—     " : t.met === true ? "met   " : t.met === false ? "MISSED" : "MIXED "} ${t.target}: ${t.value}${typeof t.met === "string" ? ` (${metText(t.met)})` : ""}`);
  }

  writeReport();
  console.log(`\nwrote ${readdirSync(resultsDir).filter((f) => f.includes(".")).map((f) => join(resultsDir, f).slice(root.length + 1)).join(", ")} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
} finally {
  if (!interrupted) rmSync(tempDir, { recursive: true, force: true });
}
