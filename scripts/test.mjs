// The one test command (`npm test`): installs the toolchain, runs the static
// checks, runs the whole suite under Deno, Bun and Node 26, builds dist/ and
// tests the build. Ends with one line "N passed, N failed".
//
// Options: --only=static|deno|doc|bun|node|dist|package|examples (comma-separated) runs a subset;
// any other argument is a test file to run instead of tests/*.test.ts.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDeps } from "./ensure_deps.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith("--only="))?.slice(7).split(",");
const files = args.filter((arg) => !arg.startsWith("--"));
const wanted = (step) => !only || only.includes(step);

const suite = files.length > 0
  ? files
  : readdirSync(join(root, "tests")).filter((name) => name.endsWith(".test.ts")).sort()
    .map((name) => `tests/${name}`);

// Child processes spawned by tests find every runtime here.
const env = {
  ...process.env,
  MEMMAPFS_DENO: bin("deno"),
  MEMMAPFS_BUN: bin("bun"),
  MEMMAPFS_NODE: bin("node"),
  NO_COLOR: "1",
};
delete env.FORCE_COLOR;

const results = [];

function run(step, command, commandArgs, parse) {
  const started = Date.now();
  console.log(`\n=== ${step}: ${[command, ...commandArgs].join(" ")}`);
  const child = spawnSync(command, commandArgs, { cwd: root, env, encoding: "utf8", maxBuffer: 1 << 28 });
  const output = `${child.stdout ?? ""}${child.stderr ?? ""}`;
  process.stdout.write(output);
  // Some runners colour their summary even when asked not to.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const counts = parse ? parse(plain) : { passed: 0, failed: 0 };
  const ok = child.status === 0 && counts.failed === 0;
  if (child.error) console.log(child.error.message);
  results.push({ step, ok, ...counts, seconds: (Date.now() - started) / 1000 });
}

const number = (text, pattern) => Number(text.match(pattern)?.[1] ?? 0);
const parseDeno = (text) => {
  const line = text.match(/(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/);
  if (!line) return { passed: 0, failed: 1 };
  return { passed: Number(line[2] ?? line[1]), failed: Number(line[4] ?? line[3]) };
};
const parseBun = (text) => ({ passed: number(text, /^\s*(\d+) pass$/m), failed: number(text, /^\s*(\d+) fail$/m) });
const parsePlain = (text) => {
  const line = text.match(/^(\d+) passed, (\d+) failed$/m);
  return line ? { passed: Number(line[1]), failed: Number(line[2]) } : { passed: 0, failed: 1 };
};
const parseNode = (text) => ({ passed: number(text, /^ℹ pass (\d+)$/m), failed: number(text, /^ℹ fail (\d+)$/m) });

ensureDeps();

if (wanted("static")) {
  run("deno check", bin("deno"), ["check", "mod.ts", ...suite, "examples/"]);
  run("tsc", bin("tsc"), ["--noEmit", "-p", "."]);
  run("deno doc --lint", bin("deno"), ["doc", "--lint", "mod.ts"]);
}
if (wanted("deno")) run("deno test", bin("deno"), ["test", "-A", "--no-check", ...suite], parseDeno);
// Every @example in the JSDoc is type-checked and run.
if (wanted("doc")) run("deno test --doc", bin("deno"), ["test", "--doc", "-A", "mod.ts", "src/"], parseDeno);
if (wanted("bun")) run("bun test", bin("bun"), ["test", ...suite.map((file) => `./${file}`)], parseBun);
if (wanted("node")) {
  run("node test", bin("node"), ["--experimental-ffi", "--no-warnings", "--test", ...suite], parseNode);
}
if (wanted("dist")) {
  run("tsup build", bin("tsup"), []);
  const smoke = ["tests/dist/smoke.test.mjs"];
  run("dist on bun", bin("bun"), ["test", ...smoke.map((file) => `./${file}`)], parseBun);
  run("dist on node", bin("node"), ["--experimental-ffi", "--no-warnings", "--test", ...smoke], parseNode);
}
if (wanted("package")) {
  if (!wanted("dist")) run("tsup build", bin("tsup"), []);
  run("package checks", process.execPath, ["scripts/package_checks.mjs"], parsePlain);
}
if (wanted("examples")) run("examples", process.execPath, ["scripts/run_examples.mjs"], parsePlain);

console.log("\n=== summary");
for (const r of results) {
  const counts = r.passed || r.failed ? ` ${r.passed} passed, ${r.failed} failed` : "";
  console.log(`${r.ok ? "ok  " : "FAIL"} ${r.step}${counts} (${r.seconds.toFixed(1)} s)`);
}
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const failed = results.reduce((sum, r) => sum + r.failed, 0) + results.filter((r) => !r.ok && !r.failed).length;
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
