/**
 * Zero-copy scan of a large log file: count HTTP status classes through a
 * sliding 64 MiB window, never copying the file into the heap.
 *
 * Run: `deno run -A examples/log_scan.ts [file]`, `bun examples/log_scan.ts`,
 * `node --experimental-ffi examples/log_scan.ts`. Without a file it generates
 * a 32 MiB sample log first.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";

const given = process.argv[2];
const file = given ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "log-scan-")), "access.log");
if (!given) {
  const lines = Array.from({ length: 10_000 }, (_, i) => `10.0.0.${i % 255} GET /item/${i} ${[200, 200, 304, 404, 500][i % 5]}\n`);
  const block = new TextEncoder().encode(lines.join(""));
  const fd = fs.openSync(file, "w");
  for (let written = 0; written < 32 * 2 ** 20; written += block.length) fs.writeSync(fd, block);
  fs.closeSync(fd);
}

const started = performance.now();
using log = MappedFile.open(file, { window: 64 * 2 ** 20 });
log.advise("sequential");
const classes = new Map<string, number>();
let lineStart = 0;
const chunk = 2 ** 20;
// Walk the file one zero-copy view at a time; a line may straddle two views.
// Reading a byte outside the window (getUint8 below, when a line ends just
// after a window edge) goes through memmapfs's internal second window, so the
// view being scanned stays attached.
for (let offset = 0; offset < log.size; offset += chunk) {
  const view = log.subarray(offset, Math.min(offset + chunk, log.size));
  for (let at = view.indexOf(10); at !== -1; at = view.indexOf(10, at + 1)) {
    const end = offset + at;
    // The status is the last 3 characters of the line; its first digit may
    // lie before this view when the line straddles two views.
    const status = String.fromCharCode(at >= 3 ? view[at - 3] : log.getUint8(end - 3));
    classes.set(`${status}xx`, (classes.get(`${status}xx`) ?? 0) + 1);
    lineStart = end + 1;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`scanned ${(log.size / 2 ** 20).toFixed(0)} MiB in ${seconds.toFixed(2)} s (${lineStart} bytes of whole lines)`);
console.log(`lines: ${[...classes.values()].reduce((sum, count) => sum + count, 0)}`);
for (const [name, count] of [...classes].sort()) console.log(`${name}: ${count}`);
if (!given) fs.rmSync(path.dirname(file), { recursive: true, force: true });
