/**
 * Requests per second and memory of `examples/bun_range_server.ts` answering
 * random record lookups from a mapping against the same server answering them
 * with one `fs.readSync` (pread) each. Each server runs in its own Bun
 * process on 127.0.0.1; a client process sends a bounded number of requests
 * (keep-alive, CONCURRENCY in flight) for random records. Rounds alternate
 * the two backends; the report gives medians, and the server's RSS (all of
 * it, and the anonymous part: mapped file pages count in RSS but are page
 * cache, reclaimable, shared with every other reader of the file).
 *
 * Run: `bun bench/lookup_server.ts [--quick]` (256 MiB of records; --quick 64 MiB).
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { RECORD, writeRecords } from "../examples/bun_range_server.ts";

const ROUNDS = 5;
const CONCURRENCY = 16;
const quick = process.argv.includes("--quick");

if (process.argv.includes("--client")) {
  // Client mode: <port> <records> <requests>
  const [port, records, requests] = process.argv.slice(process.argv.indexOf("--client") + 1).map(Number);
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < requests) {
      next++;
      const index = Math.floor(Math.random() * records);
      const response = await fetch(`http://127.0.0.1:${port}/records/${index}`);
      const body = await response.json() as { count: number };
      if (body.count !== index) failures++;
    }
  }));
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, failures }));
  process.exit(0);
}

const here = path.dirname(fileURLToPath(import.meta.url));
const example = path.join(here, "..", "examples", "bun_range_server.ts");
const bun = process.execPath;
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "lookup-bench-"));
const file = path.join(directory, "records.bin");
const records = (quick ? 64 : 256) * 2 ** 20 / RECORD;
const requests = quick ? 5_000 : 20_000;
writeRecords(file, records);

function memoryOf(pid: number): { rss: number; anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) / 1024;
  return { rss: field("VmRSS"), anon: field("RssAnon") };
}

async function round(backend: "mmap" | "fs"): Promise<{ perSecond: number; rss: number; anon: number }> {
  const server = spawn(bun, [example, file, "0", `--backend=${backend}`], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.on("data", (chunk) => {
      const match = /127\.0\.0\.1:(\d+)/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
    server.once("exit", () => reject(new Error(`the ${backend} server exited`)));
  });
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const client = spawn(bun, [fileURLToPath(import.meta.url), "--client", String(port), String(records), String(requests)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let text = "";
      client.stdout!.on("data", (chunk) => text += chunk);
      client.once("exit", (code) => code === 0 ? resolve(text) : reject(new Error(`client exited ${code}`)));
    });
    const { seconds, failures } = JSON.parse(output) as { seconds: number; failures: number };
    if (failures > 0) throw new Error(`${failures} wrong answers from the ${backend} server`);
    return { perSecond: requests / seconds, ...memoryOf(server.pid!) };
  } finally {
    server.kill();
  }
}

const results: Record<"mmap" | "fs", { perSecond: number; rss: number; anon: number }[]> = { mmap: [], fs: [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const backend of (i % 2 === 0 ? ["mmap", "fs"] : ["fs", "mmap"]) as ("mmap" | "fs")[]) {
    results[backend].push(await round(backend));
  }
}
fs.rmSync(directory, { recursive: true, force: true });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(
  `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}, ${records * RECORD / 2 ** 20} MiB of ${RECORD}-byte records, ` +
    `${requests} random lookups per round, ${CONCURRENCY} in flight, loopback, ${os.availableParallelism()} CPUs, ` +
    `load ${os.loadavg()[0].toFixed(1)}, median of ${ROUNDS} rounds`,
);
console.log("| backend | requests/s | server RSS (MiB) | of which anonymous (MiB) |");
console.log("| --- | ---: | ---: | ---: |");
for (const backend of ["mmap", "fs"] as const) {
  const rows = results[backend];
  console.log(
    `| ${backend === "mmap" ? "MappedFile lookup" : "fs.readSync (pread)"} | ${median(rows.map((r) => r.perSecond)).toFixed(0)} | ` +
      `${median(rows.map((r) => r.rss)).toFixed(0)} | ${median(rows.map((r) => r.anon)).toFixed(0)} |`,
  );
}
