// The one test command (`npm test`): installs the toolchain, runs the static
// checks, runs the whole suite under Deno, Bun and Node 26, builds dist/ and
// tests the build, then runs the suite again under the linux-arm64 builds of
// the three runtimes through qemu-user where the emulator is set up (see
// arm64.mjs; skipped with a message elsewhere, never skipped in CI), and under
// Bun for Windows through Wine where Wine is installed (see windows.mjs; the
// same rule). Ends with one line "N passed, N failed".
//
// Plain JavaScript that runs on Node 20 too: on a fresh machine `npm test`
// starts under the system Node, before node_modules/.bin/node exists.
//
// Subsets, for development (CI refuses them, so a green CI ran everything):
//   --only=static|deno|doc|bun|node|dist|package|examples|arm64|windows  comma-separated steps
//   --quick                       only the suite, under each runtime
//   MEMMAPFS_RUNTIMES=node,bun    only the steps that run on these runtimes
//   any other argument            a test file, or part of a tests/*.test.ts name
// MEMMAPFS_STEP_TIMEOUT=seconds bounds each step (default 1200), so a hung
// test fails its step instead of eating CI's whole budget.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ARM64_BUN_ONLY, ARM64_LEFT_OUT, arm64Env, arm64Missing, arm64Suite, ensureArm64Runtimes } from "./arm64.mjs";
import { ensureDeps } from "./ensure_deps.mjs";
import { ensureWindowsBun, WINE, WINDOWS_LEFT_OUT, WINDOWS_NOISE, windowsEnv, windowsMissing, windowsSuite } from "./windows.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const ci = /^(1|true|yes)$/i.test(process.env.CI ?? "");
const stepTimeout = Number(process.env.MEMMAPFS_STEP_TIMEOUT ?? 1200) * 1000;

const STEPS = ["static", "deno", "doc", "bun", "node", "dist", "package", "examples", "arm64", "windows"];
const RUNTIMES = ["deno", "bun", "node"];

const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith("--only="))?.slice(7).split(",").filter(Boolean);
const quick = args.includes("--quick");
const runtimes = process.env.MEMMAPFS_RUNTIMES?.split(",").map((name) => name.trim()).filter(Boolean);
const filters = args.filter((arg) => !arg.startsWith("--"));
const unknownFlags = args.filter((arg) => arg.startsWith("--") && arg !== "--quick" && !arg.startsWith("--only="));

function die(message) {
  console.error(`memmapfs test: ${message}`);
  process.exit(2);
}

if (unknownFlags.length > 0) die(`unknown option ${unknownFlags.join(" ")}`);
for (const step of only ?? []) if (!STEPS.includes(step)) die(`--only: unknown step "${step}" (steps: ${STEPS.join(", ")})`);
for (const runtime of runtimes ?? []) {
  if (!RUNTIMES.includes(runtime)) die(`MEMMAPFS_RUNTIMES: unknown runtime "${runtime}" (runtimes: ${RUNTIMES.join(", ")})`);
}
if (ci && (only || quick || runtimes || filters.length > 0)) {
  die("CI runs everything: drop --only, --quick, MEMMAPFS_RUNTIMES and test file arguments");
}

const allTests = readdirSync(join(root, "tests")).filter((name) => name.endsWith(".test.ts")).sort()
  .map((name) => `tests/${name}`);
const suite = filters.length === 0 ? allTests : filters.flatMap((filter) => {
  if (existsSync(isAbsolute(filter) ? filter : join(root, filter))) return [filter];
  const matches = allTests.filter((file) => file.slice("tests/".length).includes(filter));
  if (matches.length === 0) die(`no test file is or matches "${filter}"`);
  return matches;
});
for (const name of [...Object.keys(ARM64_LEFT_OUT), ...Object.keys(ARM64_BUN_ONLY)]) {
  if (!allTests.includes(`tests/${name}`)) die(`scripts/arm64.mjs leaves out ${name}, which is not a test file`);
}
for (const name of Object.keys(WINDOWS_LEFT_OUT)) {
  if (!allTests.includes(`tests/${name}`)) die(`scripts/windows.mjs leaves out ${name}, which is not a test file`);
}
// Bun reads a bare name as a filter on file names, so relative paths get "./".
const bunPath = (file) => (isAbsolute(file) ? file : `./${file}`);

// Child processes spawned by tests find every runtime here.
const env = {
  ...process.env,
  MEMMAPFS_DENO: bin("deno"),
  MEMMAPFS_BUN: bin("bun"),
  MEMMAPFS_NODE: bin("node"),
  NO_COLOR: "1",
};
delete env.FORCE_COLOR;

// Deno warns once per `/// <reference path>` in @types/node's index.d.ts when
// it reads node: types from node_modules; the lines say nothing about us.
const noise = [/^Warning Failed resolving types\. .*@types\/node\//, /^\s+at file:\/\/.*\/node_modules\/@types\/node\//, WINDOWS_NOISE];

const results = [];
const notRun = [];
let current = null;

// Ctrl-C or a kill of the runner takes the step's whole process group with it.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (current) killGroup(current);
    process.exit(130);
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** Runs one step, streaming its output live (minus known noise) and keeping it for `parse`. */
function execute(command, commandArgs, stepEnv = env) {
  return new Promise((resolve) => {
    // Its own process group, so a timeout also ends the processes tests spawned.
    const child = spawn(command, commandArgs, { cwd: root, env: stepEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
    current = child;
    let output = "";
    let partial = "";
    let hidden = 0;
    let timedOut = false;
    const show = (chunk) => {
      output += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      const kept = lines.filter((line) => {
        const drop = noise.some((pattern) => pattern.test(line));
        if (drop) hidden++;
        return !drop;
      });
      if (kept.length > 0) process.stdout.write(`${kept.join("\n")}\n`);
    };
    child.stdout.setEncoding("utf8").on("data", show);
    child.stderr.setEncoding("utf8").on("data", show);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, stepTimeout);
    const finish = (status, signal, error) => {
      clearTimeout(timer);
      current = null;
      if (partial) process.stdout.write(`${partial}\n`);
      if (hidden > 0) console.log(`(${hidden} lines of known runtime noise hidden: see the noise patterns in test.mjs)`);
      if (error) console.log(`could not start ${command}: ${error.message}`);
      if (timedOut) console.log(`timed out after ${stepTimeout / 1000} s: killed`);
      resolve({ status: timedOut ? null : status, signal, timedOut, output });
    };
    child.on("error", (error) => finish(null, null, error));
    child.on("close", (status, signal) => finish(status, signal));
  });
}

/**
 * One step. `parse` turns the runner's output into counts; a step whose runner
 * printed no summary, or ran no test, has failed even if it exited 0.
 */
async function run(step, command, commandArgs, parse, stepEnv) {
  const started = Date.now();
  console.log(`\n=== ${step}: ${[command, ...commandArgs].join(" ")}`);
  const { status, signal, timedOut, output } = await execute(command, commandArgs, stepEnv);
  // Some runners colour their summary even when asked not to.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  let counts = { passed: 0, failed: 0, skipped: [] };
  let problem = timedOut ? `timed out after ${stepTimeout / 1000} s` : status === 0 ? null : signal ? `killed by ${signal}` : `exit ${status}`;
  if (parse) {
    const parsed = parse(plain);
    if (!parsed) {
      problem ??= "no test summary in the output";
    } else {
      counts = parsed;
      if (parsed.passed + parsed.failed + parsed.skipped.length === 0) problem ??= "ran no test";
    }
  }
  const ok = !problem && counts.failed === 0;
  results.push({ step, ok, problem, ...counts, seconds: (Date.now() - started) / 1000 });
}

const count = (text, pattern) => {
  const match = text.match(pattern);
  return match ? Number(match[1]) : null;
};

// Deno's summary counts top-level tests and steps apart ("61 passed (437
// steps)"), and a describe() is a test whose its() are steps; count the leaves
// from the per-test lines instead, so the number matches Bun's and Node's.
function parseDeno(text) {
  const summary = text.match(/^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/m);
  if (!summary) return null;
  let passed = 0;
  let failed = 0;
  const skipped = [];
  // Open tests, innermost last. A test with output or steps prints "name ..."
  // first and "name ... ok" after; only one whose lines held no result is a leaf.
  const open = [];
  for (const line of text.split("\n")) {
    const opening = line.match(/^(\s*)(.+) \.\.\.$/);
    if (opening) {
      open.push({ key: `${opening[1]}${opening[2]}`, children: 0 });
      continue;
    }
    const result = line.match(/^(\s*)(.+) \.\.\. (ok|FAILED|ignored)\b/);
    if (!result) continue;
    const at = open.findLastIndex((entry) => entry.key === `${result[1]}${result[2]}`);
    const closed = at >= 0 ? open.splice(at)[0] : null;
    if (open.length > 0) open[open.length - 1].children++;
    if (closed && closed.children > 0) continue;
    if (result[3] === "ok") passed++;
    else if (result[3] === "FAILED") failed++;
    else skipped.push(result[2]);
  }
  // Failures outside any test (an uncaught error while loading a file) only
  // show in the summary.
  const summaryFailed = Math.max(Number(summary[3]), Number(summary[4] ?? 0));
  return { passed, failed: Math.max(failed, summaryFailed), skipped };
}

function parseBun(text) {
  const passed = count(text, /^\s*(\d+) pass$/m);
  const failed = count(text, /^\s*(\d+) fail$/m);
  if (passed === null || failed === null) return null;
  const skipped = [...text.matchAll(/^\((skip|todo)\) (.+?)(?: \[[\d.]+m?s\])?$/gm)].map((match) => match[2]);
  // Bun lists skipped tests twice: as they run and again at the end.
  return { passed, failed, skipped: [...new Set(skipped)] };
}

function parseNode(text) {
  // The spec reporter ("ℹ pass 3") when stdout is not a terminal; TAP ("# pass 3") as a fallback.
  const field = (name) => count(text, new RegExp(`^(?:ℹ|#) ${name} (\\d+)$`, "m"));
  const passed = field("pass");
  const failed = field("fail");
  if (passed === null || failed === null) return null;
  const skipped = [
    ...[...text.matchAll(/^\s*﹣ (.+?) \([\d.]+m?s\) # (.*)$/gm)]
      .map((match) => (match[2] === "SKIP" ? match[1] : `${match[1]} (${match[2]})`)),
    ...[...text.matchAll(/^\s*[✔✖] (.+?) \([\d.]+m?s\) # TODO/gm)].map((match) => `${match[1]} (todo)`),
  ];
  // A cancelled test (timeout, or its file crashed) never passed.
  return { passed, failed: failed + (field("cancelled") ?? 0), skipped };
}

function parsePlain(text) {
  const line = text.match(/^(\d+) passed, (\d+) failed$/m);
  return line ? { passed: Number(line[1]), failed: Number(line[2]), skipped: [] } : null;
}

const onRuntime = (runtime) => !runtimes || runtimes.includes(runtime);
// --quick leaves out the emulated arm64 and Windows legs unless --only names them.
const filtered = (step, runtime) => (only && !only.includes(step)) ||
  (quick && !RUNTIMES.includes(step) && !((step === "arm64" || step === "windows") && only?.includes(step))) ||
  (runtime && !onRuntime(runtime));

async function step(name, runtime, group, ...rest) {
  if (filtered(group, runtime)) notRun.push(name);
  else await run(name, ...rest);
}

const nodeTest = [bin("node"), ["--experimental-ffi", "--no-warnings", "--test"]];

/** `git status --porcelain` lines, or null outside a git checkout. */
function gitStatus() {
  try {
    return execFileSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return null;
  }
}

// npm test must leave the checkout as it found it (no rewritten lock file, no
// stray files): compared at the end, before and after, so local edits are fine.
const treeBefore = gitStatus();
ensureDeps();
const started = Date.now();

await step("deno check", null, "static", bin("deno"), ["check", "mod.ts", ...suite, "examples/"]);
await step("tsc", null, "static", bin("tsc"), ["--noEmit", "-p", "."]);
await step("deno doc --lint", null, "static", bin("deno"), ["doc", "--lint", "mod.ts"]);
// Type-checked just above; checking again per runtime only costs time.
await step("deno test", "deno", "deno", bin("deno"), ["test", "-A", "--no-check", ...suite], parseDeno);
// Every @example in the JSDoc is type-checked and run.
await step("deno test --doc", "deno", "doc", bin("deno"), ["test", "--doc", "-A", "mod.ts", "src/"], parseDeno);
// Bun's default of 5 s per test is its own, not the suite's: tests that start
// and SIGKILL children take longer on a loaded 2-core machine, as on Deno and
// Node, which set no per-test limit. The step timeout still bounds a hang.
await step("bun test", "bun", "bun", bin("bun"), ["test", "--timeout=120000", ...suite.map(bunPath)], parseBun);
await step("node test", "node", "node", nodeTest[0], [...nodeTest[1], ...suite], parseNode);

// The published build, on the runtimes that load it from npm. Its smoke test
// is a .mjs under tests/dist/ so the suite's *.test.ts globs never pick it up.
const smoke = "tests/dist/smoke.test.mjs";
const wantsDist = !filtered("dist") && (onRuntime("bun") || onRuntime("node"));
if (wantsDist || !filtered("package")) await run("tsup build", bin("tsup"), []);
else notRun.push("tsup build");
// bunfig.toml keeps tests/dist/ out of a plain `bun test`; this lets it back in.
await step("dist on bun", "bun", "dist", bin("bun"), ["test", "--path-ignore-patterns=node_modules/**", bunPath(smoke)], parseBun);
await step("dist on node", "node", "dist", nodeTest[0], [...nodeTest[1], smoke], parseNode);
await step("package checks", null, "package", process.execPath, ["scripts/package_checks.mjs"], parsePlain);
await step("examples", null, "examples", process.execPath, ["scripts/run_examples.mjs"], parsePlain);

// linux-arm64 under qemu-user: the same suite files, minus the ones arm64.mjs
// leaves out (each with its reason), under the arm64 build of each runtime.
const arm64Wanted = RUNTIMES.filter((runtime) => !filtered("arm64", runtime));
let arm64Skipped = null;
if (arm64Wanted.length > 0) {
  arm64Skipped = arm64Missing();
  if (arm64Skipped) {
    console.log(`\n=== linux-arm64 under qemu: skipped: ${arm64Skipped}`);
    if (ci) results.push({ step: "linux-arm64 under qemu", ok: false, problem: `not run: ${arm64Skipped}`, passed: 0, failed: 0, skipped: [], seconds: 0 });
  } else {
    const binaries = ensureArm64Runtimes(root);
    const stepEnv = arm64Env(env, binaries);
    const emulated = {
      deno: (files) => [binaries.deno, ["test", "-A", "--no-check", ...files], parseDeno],
      bun: (files) => [binaries.bun, ["test", "--timeout=120000", ...files.map(bunPath)], parseBun],
      // One process for all files, as Deno and Bun run them: an emulated Node
      // start costs 5-10 s of CPU, once per file otherwise.
      node: (files) => [binaries.node, ["--experimental-ffi", "--no-warnings", "--test", "--test-isolation=none", ...files], parseNode],
    };
    for (const runtime of arm64Wanted) {
      const files = arm64Suite(suite, runtime);
      if (files.length === 0) {
        notRun.push(`${runtime} test (linux-arm64, qemu): no file of the subset is in the arm64 leg`);
        continue;
      }
      const [command, commandArgs, parse] = emulated[runtime](files);
      await run(`${runtime} test (linux-arm64, qemu)`, command, commandArgs, parse, stepEnv);
    }
  }
} else {
  notRun.push("linux-arm64 under qemu");
}

// Windows under Wine: the suite files windows.mjs does not leave out (each
// with its reason), under Bun for Windows. Deno and Node for Windows do not
// start under Wine.
let windowsSkipped = null;
if (!filtered("windows", "bun")) {
  windowsSkipped = windowsMissing();
  if (windowsSkipped) {
    console.log(`\n=== windows (Bun under Wine): skipped: ${windowsSkipped}`);
    if (ci) results.push({ step: "bun test (windows, wine)", ok: false, problem: `not run: ${windowsSkipped}`, passed: 0, failed: 0, skipped: [], seconds: 0 });
  } else {
    const files = windowsSuite(suite);
    if (files.length === 0) {
      notRun.push("bun test (windows, wine): no file of the subset is in the Windows leg");
    } else {
      const bunExe = ensureWindowsBun(root);
      await run("bun test (windows, wine)", WINE, [bunExe, "test", "--timeout=120000", ...files.map(bunPath)], parseBun,
        windowsEnv(env, root, bunExe));
    }
  }
} else {
  notRun.push("windows (Bun under Wine)");
}

const treeAfter = gitStatus();
if (treeBefore && treeAfter) {
  const changed = treeAfter.filter((line) => !treeBefore.includes(line));
  console.log(`\n=== tree unchanged: ${changed.length === 0 ? "yes" : changed.join(", ")}`);
  results.push({
    step: "tree unchanged", ok: changed.length === 0, problem: changed.length ? `npm test changed ${changed.join(", ")}` : null,
    passed: 0, failed: 0, skipped: [], seconds: 0,
  });
}

console.log("\n=== summary");
for (const r of results) {
  const counts = r.passed || r.failed || r.skipped.length
    ? ` ${r.passed} passed, ${r.failed} failed${r.skipped.length ? `, ${r.skipped.length} skipped` : ""}`
    : "";
  console.log(`${r.ok ? "ok  " : "FAIL"} ${r.step}${counts}${r.problem ? ` [${r.problem}]` : ""} (${r.seconds.toFixed(1)} s)`);
  for (const name of r.skipped) console.log(`       skipped: ${name}`);
}
if (notRun.length > 0) console.log(`not run (a subset was asked for): ${notRun.join(", ")}`);
if (arm64Skipped && !ci) console.log(`linux-arm64 under qemu: skipped (${arm64Skipped})`);
if (windowsSkipped && !ci) console.log(`windows (Bun under Wine): skipped (${windowsSkipped})`);
console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
const passed = results.reduce((sum, r) => sum + r.passed, 0);
// A step that failed without a failing test (a type error, a crash) counts once.
const failed = results.reduce((sum, r) => sum + (r.failed || (r.ok ? 0 : 1)), 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
