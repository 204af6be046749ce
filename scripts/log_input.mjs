// A real input for examples/log_scan.ts: a log of at least 1 GiB whose
// newlines fall at, just before and just after every 1 MiB edge (so at every
// edge of log_scan's 64 MiB window and of its 1 MiB views), and its line
// count as node:fs reads it, for `npm test` to check the example against.
import * as fs from "node:fs";

const MiB = 2 ** 20;
/** How far each 1 MiB block is longer or shorter than 1 MiB: the drift walks 0,1,0,2,0,3,0,4,0. */
const DRIFTS = [1, -1, 2, -2, 3, -3, 4, -4, 0];
const STATUSES = [200, 200, 304, 404, 500];
const AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/1.1", "Mozilla/5.0 (Macintosh)"];

/** Whole lines, exactly `length` bytes, the last one padded to fit. */
function block(length, seed) {
  const encoder = new TextEncoder();
  const bytes = new Uint8Array(length);
  let at = 0;
  for (let i = 0; ; i++) {
    // Combined-log-like lines of 160-320 bytes, the status last.
    const agent = AGENTS[i % AGENTS.length].padEnd(60 + (i * 37) % 160, ".");
    const line = encoder.encode(`10.0.${seed}.${i % 255} GET /item/${i * 7919 % 100003} "${agent}" ${STATUSES[(i + seed) % 5]}\n`);
    if (length - at - line.length < 64) {
      const status = STATUSES[(i + seed) % 5];
      const last = `10.0.${seed}.0 GET /pad/`;
      const tail = ` ${status}\n`;
      bytes.set(encoder.encode(last), at);
      bytes.fill(0x78, at + last.length, length - tail.length); // "xxxx…"
      bytes.set(encoder.encode(tail), length - tail.length);
      return bytes;
    }
    bytes.set(line, at);
    at += line.length;
  }
}

/** Writes the log to `file` (1025 blocks, just over 1 GiB). */
export function writeLog(file) {
  const blocks = DRIFTS.map((drift, seed) => block(MiB + drift, seed));
  const fd = fs.openSync(file, "w", 0o600);
  try {
    for (let i = 0; i < 1025; i++) fs.writeSync(fd, blocks[i % blocks.length]);
  } finally {
    fs.closeSync(fd);
  }
}

/** Newlines in `file`, counted through node:fs. */
export function countLines(file) {
  const buffer = Buffer.alloc(16 * MiB);
  const fd = fs.openSync(file, "r");
  let lines = 0;
  try {
    for (let read; (read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
      const chunk = buffer.subarray(0, read);
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return lines;
}

/** Offsets of newlines within 4 bytes of a 1 MiB edge, relative to it: the cases the log covers. */
export function edgeCases(file) {
  const seen = new Set();
  const fd = fs.openSync(file, "r");
  const around = Buffer.alloc(9);
  try {
    for (let edge = MiB; edge < fs.fstatSync(fd).size - 8; edge += MiB) {
      fs.readSync(fd, around, 0, 9, edge - 4);
      around.forEach((byte, i) => byte === 10 && seen.add(i - 4));
    }
  } finally {
    fs.closeSync(fd);
  }
  return [...seen].sort((a, b) => a - b);
}
