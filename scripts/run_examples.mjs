// Runs every example in examples/ with the runtime it is written for and
// checks what it prints. Part of `npm test`.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const node = [bin("node"), "--experimental-ffi", "--no-warnings"];
const deno = [bin("deno"), "run", "-A"];
const bun = [bin("bun")];

const examples = [
  [[...node, "examples/zero_copy_demo.ts", "16"], /file now starts "PATCHED-BY-MEMMAPFS"/],
  [[...deno, "examples/log_scan.ts"], /^2xx: \d+$/m],
  [[...bun, "examples/bun_range_server.ts", "--self-test"], /^206 bytes 10-15\/20 abcdef\noutside the root: 403$/m],
  [[...bun, "examples/numpy_shared.ts"], /numpy saw 1000000 values[\s\S]*written back by numpy: 0\.70\d+/],
  [[...node, "examples/kv_store.ts"], /greeting = hello, blocks\nbig has 10000 characters\ngone = undefined/],
  [[...bun, "examples/python_ring.ts"], /5² = 25\npython got: sum of squares 55/],
];

let passed = 0;
let failed = 0;
for (const [[command, ...args], expected] of examples) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 120_000 });
  const output = `${result.stdout}${result.stderr}`;
  const ok = result.status === 0 && expected.test(result.stdout);
  console.log(`${ok ? "ok  " : "FAIL"} ${args.find((arg) => arg.startsWith("examples/"))}`);
  if (!ok) console.log(output);
  ok ? passed++ : failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
