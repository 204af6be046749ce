/**
 * A Bun HTTP server answering byte ranges straight from MemMapFS: files stay
 * mapped between requests (the mapping cache), and a `Range: bytes=a-b`
 * request is answered with a zero-copy view of those bytes.
 *
 * Run: `bun examples/bun_range_server.ts <directory> [port]`, or
 * `bun examples/bun_range_server.ts --self-test` to serve a sample file on a
 * loopback port, fetch a range from it and stop.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MemMapFS, MmapError } from "../mod.ts";

declare const Bun: {
  serve(options: { hostname: string; port: number; fetch(request: Request): Response }): {
    port: number;
    stop(force?: boolean): void;
  };
};

export function serve(root: string, port: number) {
  // `root` confines: "../", absolute paths and links that lead outside are EACCES (403 below).
  const files = new MemMapFS({ root });
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(request) {
      const name = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "") || "index.html";
      try {
        using file = files.open(name);
        const match = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
        if (!match) return new Response(file.bytes.slice(), { headers: { "content-length": String(file.size) } });
        const start = Number(match[1]);
        const end = Math.min(match[2] ? Number(match[2]) + 1 : file.size, file.size);
        if (start >= end) return new Response(null, { status: 416, headers: { "content-range": `bytes */${file.size}` } });
        // Response copies the view before the handle closes at the end of this block.
        return new Response(file.subarray(start, end).slice(), {
          status: 206,
          headers: { "content-range": `bytes ${start}-${end - 1}/${file.size}` },
        });
      } catch (error) {
        const status = error instanceof MmapError && error.code === "ENOENT" ? 404 : 403;
        return new Response(null, { status });
      }
    },
  });
}

if (process.argv.includes("--self-test")) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "range-server-"));
  fs.writeFileSync(path.join(root, "data.txt"), "0123456789abcdefghij");
  const server = serve(root, 0);
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/data.txt`, { headers: { range: "bytes=10-15" } });
    console.log(response.status, response.headers.get("content-range"), await response.text());
    const outside = await fetch(`http://127.0.0.1:${server.port}/..%2F..%2Fetc%2Fpasswd`);
    console.log("outside the root:", outside.status);
  } finally {
    server.stop(true);
    fs.rmSync(root, { recursive: true, force: true });
  }
} else if (process.argv[2]) {
  const server = serve(path.resolve(process.argv[2]), Number(process.argv[3] ?? 8080));
  console.log(`serving ${process.argv[2]} on http://127.0.0.1:${server.port}`);
}
