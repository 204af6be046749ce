// Runs every example in examples/ with the runtime it is written for and
// checks what it prints. Part of `npm test`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { countLines, edgeCases, writeLog } from "./log_input.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const node = [bin("node"), "--experimental-ffi", "--no-warnings"];
const deno = [bin("deno"), "run", "-A"];
const bun = [bin("bun")];

const examples = [
  [[...node, "examples/zero_copy_demo.ts", "16"], /file now starts "PATCHED-BY-MEMMAPFS"/],
  [[...deno, "examples/log_scan.ts"], /^2xx: \d+$/m],
  [[...bun, "examples/bun_range_server.ts", "--self-test"], /^lookup: \{"key":"1dcda12b4869","count":12345,"label":"record 12345"\}\nmissing: 404\nbytes=12-19: 206 bytes 12-19\/6400000 8 bytes\nbytes=-64: 206 bytes 6399936-6399999\/6400000 64 bytes\nbytes=6399936-: 206 bytes 6399936-6399999\/6400000 64 bytes\nbytes=9999999-: 416 bytes \*\/6400000 0 bytes\nbytes=0-0,5-6: 200 - 6400000 bytes$/m],
  [[...bun, "examples/numpy_shared.ts"], /numpy saw 1000000 values[\s\S]*written back by numpy: 0\.70\d+/],
  [[...node, "examples/parallel_scan.ts"], /^\d+ workers: .*\nresults equal: yes$/m],
  [[...node, "examples/kv_store.ts"], /greeting = hello, blocks\nbig has 10000 characters\ngone = undefined/],
  [[...bun, "examples/python_ring.ts"], /5² = 25\npython got: sum of squares 55/],
];

let passed = 0;
let failed = 0;
function run([command, ...args], expected, label = "") {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 120_000 });
  const output = `${result.stdout}${result.stderr}`;
  const ok = result.status === 0 && expected.test(result.stdout);
  console.log(`${ok ? "ok  " : "FAIL"} ${args.find((arg) => arg.startsWith("examples/"))}${label}`);
  if (!ok) console.log(output);
  ok ? passed++ : failed++;
}
for (const [command, expected] of examples) run(command, expected);

// log_scan on a real input: just over 1 GiB, newlines at, just before and just
// after every window and view edge, on every runtime, against node:fs's count.
// On tmpfs when there is one (it is RAM: removed right after).
const scratch = fs.mkdtempSync(join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "memmapfs-log-"));
try {
  const log = join(scratch, "access.log");
  writeLog(log);
  const lines = countLines(log);
  const edges = edgeCases(log).join(",");
  const size = fs.statSync(log).size;
  if (size < 2 ** 30 || edges !== "-1,0,1,2,3") throw new Error(`the log is not the input wanted: ${size} bytes, edges ${edges}`);
  const label = ` on ${(size / 2 ** 20).toFixed(0)} MiB, ${lines} lines (newlines at edge ${edges})`;
  for (const runtime of [node, deno, bun]) {
    run([...runtime, "examples/log_scan.ts", log], new RegExp(`^lines: ${lines}$`, "m"), `${label}, ${runtime === node ? "node" : runtime === deno ? "deno" : "bun"}`);
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
