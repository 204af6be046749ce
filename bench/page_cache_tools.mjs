// `memmapfs stat|warm|evict` on Deno, Bun and Node against vmtouch and
// util-linux fincore on the same tree: wall time (median of ROUNDS, process
// start included, as a user runs them) and whether they agree on the
// resident pages. Needs vmtouch (Debian package `vmtouch`) and fincore.
//
// Run: `node bench/page_cache_tools.mjs [--quick]` (100 files of 10 MiB; --quick 20 of 5 MiB).
import { spawnSync } from "node:child_process";
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const quick = process.argv.includes("--quick");
const ROUNDS = 5;
const [count, size] = quick ? [20, 5 * 2 ** 20] : [100, 10 * 2 ** 20];

const tree = mkdtempSync(join(tmpdir(), "page-cache-tools-"));
const block = Buffer.alloc(2 ** 20, 7);
for (let i = 0; i < count; i++) {
  const directory = join(tree, `d${i % 10}`);
  mkdirSync(directory, { recursive: true });
  const fd = openSync(join(directory, `f${i}.bin`), "w");
  for (let written = 0; written < size; written += block.length) writeSync(fd, block);
  fsyncSync(fd);
  closeSync(fd);
}
const files = readdirSync(tree, { recursive: true }).map(String).filter((name) => name.endsWith(".bin")).map((name) => join(tree, name));

const cli = join(root, "cli.ts");
const memmapfs = {
  node: (...args) => [bin("node"), ["--experimental-ffi", "--no-warnings", cli, ...args]],
  bun: (...args) => [bin("bun"), [cli, ...args]],
  deno: (...args) => [bin("deno"), ["run", "-A", cli, ...args]],
};

function run([command, args]) {
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`);
  return { ms, stdout: result.stdout };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Median ms of `command` over ROUNDS, with `before` run (untimed) ahead of each round. */
function time(command, before) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (before) run(before);
    times.push(run(command).ms);
  }
  return median(times);
}

const evictAll = ["vmtouch", ["-e", "-q", tree]];
const warmAll = ["vmtouch", ["-t", "-q", tree]];
const rows = [];
const residentBy = {};

// stat on a warm tree
run(warmAll);
for (const runtime of ["node", "bun", "deno"]) {
  rows.push([`memmapfs stat (${runtime})`, time(memmapfs[runtime]("stat", "--json", tree))]);
  residentBy[`memmapfs (${runtime})`] = JSON.parse(run(memmapfs[runtime]("stat", "--json", tree)).stdout).totals.resident;
}
rows.push(["vmtouch", time(["vmtouch", [tree]])]);
residentBy.vmtouch = Number(/Resident Pages: (\d+)\//.exec(run(["vmtouch", [tree]]).stdout)[1]);
rows.push(["fincore (every file named)", time(["fincore", ["--raw", "--noheadings", "--output", "PAGES", ...files]])]);
residentBy.fincore = run(["fincore", ["--raw", "--noheadings", "--output", "PAGES", ...files]]).stdout.trim().split("\n").reduce((sum, line) => sum + Number(line), 0);

// evict a warm tree, warm an evicted one
for (const runtime of ["node", "bun", "deno"]) rows.push([`memmapfs evict (${runtime})`, time(memmapfs[runtime]("evict", "--json", tree), warmAll)]);
rows.push(["vmtouch -e", time(["vmtouch", ["-e", "-q", tree]], warmAll)]);
for (const runtime of ["node", "bun", "deno"]) rows.push([`memmapfs warm (${runtime})`, time(memmapfs[runtime]("warm", "--json", tree), evictAll)]);
rows.push(["vmtouch -t", time(["vmtouch", ["-t", "-q", tree]], evictAll)]);
rmSync(tree, { recursive: true, force: true });

console.log(`${count} files of ${size / 2 ** 20} MiB in 10 directories; median of ${ROUNDS} runs, process start included`);
console.log("| command | ms |");
console.log("| --- | ---: |");
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(0)} |`);
console.log(`resident pages after warming, as each tool counts them: ${JSON.stringify(residentBy)}`);
