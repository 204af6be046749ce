/**
 * A Bun HTTP server over one large data file of fixed-size records (an index,
 * embeddings, a key-value table), showing where mapping pays in a server and
 * where it does not:
 *
 * - `GET /records/<n>` answers a random lookup straight from the mapping: no
 *   read system call, no buffer, the page cache is the only copy. This is
 *   what mmap is for. `--backend=fs` answers the same lookups with one
 *   `fs.readSync` (pread) each, for comparison (`bench/lookup_server.ts`).
 * - `GET /data` serves raw byte ranges (`Range: bytes=a-b`, `bytes=a-`,
 *   `bytes=-n`) with `Bun.file().slice()`, which Bun sends with sendfile:
 *   for bytes that go out unchanged nothing beats the kernel copying them,
 *   and a mapping would only add a copy into a Response.
 *
 * Run: `bun examples/bun_range_server.ts <data file> [port] [--backend=fs]`, or
 * `bun examples/bun_range_server.ts --self-test` to serve a generated file on
 * a loopback port, query it and stop.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MappedFile } from "../mod.ts";

declare const Bun: {
  serve(options: { hostname: string; port: number; fetch(request: Request): Response }): {
    port: number;
    stop(force?: boolean): void;
  };
  file(path: string): Blob;
};

/** Bytes per record: an 8-byte key, a 4-byte count and a 52-byte label. */
export const RECORD = 64;

/**
 * The byte range a `Range` header asks of a `size`-byte body: `[start, end)`,
 * `null` for no (or an unsupported multi-range) header, which means the whole
 * body, or `"unsatisfiable"` (416).
 */
export function parseRange(header: string | null, size: number): [number, number] | null | "unsatisfiable" {
  const match = header === null ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    // bytes=-n: the last n bytes.
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size : Math.min(Number(match[2]) + 1, size);
  if (start >= size || start >= end) return "unsatisfiable";
  return [start, end];
}

/** A record's fields, read from the mapping or from a pread into a buffer. */
function describe(view: DataView, at: number): { key: string; count: number; label: string } {
  const label = new Uint8Array(view.buffer, view.byteOffset + at + 12, RECORD - 12);
  const length = label.indexOf(0);
  return {
    key: view.getBigUint64(at, true).toString(16),
    count: view.getUint32(at + 8, true),
    label: new TextDecoder().decode(length === -1 ? label : label.subarray(0, length)),
  };
}

/** Serves `file` on 127.0.0.1:`port`, answering lookups from a mapping or (`"fs"`) with pread. */
export function serve(file: string, port: number, backend: "mmap" | "fs" = "mmap") {
  const mapped = backend === "mmap" ? MappedFile.open(file) : null;
  const fd = backend === "fs" ? fs.openSync(file, "r") : -1;
  const size = mapped?.size ?? fs.fstatSync(fd).size;
  const records = Math.floor(size / RECORD);
  const scratch = new Uint8Array(RECORD);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(request) {
      const url = new URL(request.url);
      const lookup = /^\/records\/(\d+)$/.exec(url.pathname);
      if (lookup) {
        const index = Number(lookup[1]);
        if (index >= records) return new Response("no such record\n", { status: 404 });
        if (mapped) {
          // A view of the record itself: works for files of any size (one Bun buffer stops at 4 GiB).
          const record = mapped.subarray(index * RECORD, (index + 1) * RECORD);
          return Response.json(describe(new DataView(record.buffer, record.byteOffset, RECORD), 0));
        }
        fs.readSync(fd, scratch, 0, RECORD, index * RECORD);
        return Response.json(describe(new DataView(scratch.buffer), 0));
      }
      if (url.pathname === "/data") {
        const range = parseRange(request.headers.get("range"), size);
        const headers = { "accept-ranges": "bytes", "content-type": "application/octet-stream" };
        if (range === "unsatisfiable") {
          return new Response(null, { status: 416, headers: { ...headers, "content-range": `bytes */${size}` } });
        }
        if (range === null) return new Response(Bun.file(file), { headers });
        const [start, end] = range;
        return new Response(Bun.file(file).slice(start, end), {
          status: 206,
          headers: { ...headers, "content-range": `bytes ${start}-${end - 1}/${size}` },
        });
      }
      return new Response("not found\n", { status: 404 });
    },
  });
  return {
    port: server.port,
    stop() {
      server.stop(true);
      mapped?.close();
      if (fd >= 0) fs.closeSync(fd);
    },
  };
}

/** Writes `count` records: key = index * 2654435761 mod 2^64, count = index, label "record <index>". */
export function writeRecords(file: string, count: number): void {
  const block = new Uint8Array(RECORD * 4096);
  const view = new DataView(block.buffer);
  const fd = fs.openSync(file, "w");
  for (let first = 0; first < count; first += 4096) {
    const n = Math.min(4096, count - first);
    block.fill(0);
    for (let i = 0; i < n; i++) {
      const index = first + i;
      view.setBigUint64(i * RECORD, (BigInt(index) * 2654435761n) & 0xffff_ffff_ffff_ffffn, true);
      view.setUint32(i * RECORD + 8, index, true);
      new TextEncoder().encodeInto(`record ${index}`, block.subarray(i * RECORD + 12, (i + 1) * RECORD));
    }
    fs.writeSync(fd, block, 0, n * RECORD);
  }
  fs.closeSync(fd);
}

const backend = process.argv.includes("--backend=fs") ? "fs" : "mmap";
const positional = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const main = (import.meta as { main?: boolean }).main === true;
if (main && process.argv.includes("--self-test")) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "lookup-server-"));
  const file = path.join(directory, "records.bin");
  writeRecords(file, 100_000);
  const server = serve(file, 0, backend);
  const base = `http://127.0.0.1:${server.port}`;
  try {
    console.log("lookup:", JSON.stringify(await (await fetch(`${base}/records/12345`)).json()));
    console.log("missing:", (await fetch(`${base}/records/100000`)).status);
    for (const range of ["bytes=12-19", "bytes=-64", "bytes=6399936-", "bytes=9999999-", "bytes=0-0,5-6"]) {
      const response = await fetch(`${base}/data`, { headers: { range } });
      const body = new Uint8Array(await response.arrayBuffer());
      console.log(`${range}: ${response.status} ${response.headers.get("content-range") ?? "-"} ${body.length} bytes`);
    }
  } finally {
    server.stop();
    fs.rmSync(directory, { recursive: true, force: true });
  }
} else if (main && positional[0]) {
  const server = serve(path.resolve(positional[0]), Number(positional[1] ?? 8080), backend);
  console.log(`serving ${positional[0]} (${backend}) on http://127.0.0.1:${server.port}`);
}
