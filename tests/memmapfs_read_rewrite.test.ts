// Issue 13.5: MemMapFS.readFile while another process rewrites the file the
// ordinary way (truncate, then write) must never die of SIGBUS. The reader
// runs in a child (SIGBUS cannot be caught in any runtime) with the file in
// the mapping cache, next to a shell that truncates and rewrites it in a loop;
// the child must exit normally, and every copy it got is one whole version
// (the bytes of some prefix of the file, never garbage). Counts are printed.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { makeDirectory, removeDirectory, runtime, startScript } from "./helpers.ts";

const top = makeDirectory("memmapfs-rewrite-");
after(() => removeDirectory(top));

describe("MemMapFS.readFile against a rewriting process", () => {
  it("a cached file rewritten by truncate-then-write never kills the reader", async () => {
    const size = 256 * 1024;
    const source = path.join(top, "source.bin");
    const data = new Uint8Array(size).map((_, i) => (i * 7) % 251);
    fs.writeFileSync(source, data);
    const file = path.join(top, "data.bin");
    fs.copyFileSync(source, file);
    const writer = spawn("sh", ["-c", 'while [ ! -e "$3" ]; do : > "$1"; cat "$2" >> "$1"; done', "sh", file, source, path.join(top, "stop")], {
      stdio: "ignore",
    });
    const mod = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "mod.ts");
    let outcome;
    try {
      outcome = await startScript(`
        import { MemMapFS } from ${JSON.stringify(mod)};
        const fs = new MemMapFS({ root: ${JSON.stringify(top)} });
        const expected = new Uint8Array(${size}).map((_, i) => (i * 7) % 251);
        let reads = 0, short = 0, cachedOpens = 0;
        const end = Date.now() + 1500;
        while (Date.now() < end) {
          // Keep the file in the cache: before the fix, readFile copied out of this shared mapping.
          try { fs.open("data.bin").close(); cachedOpens++; } catch {}
          const copy = fs.readFile("data.bin");
          reads++;
          if (copy.length < expected.length) short++;
          for (let i = 0; i < copy.length; i += 4093) {
            if (copy[i] !== expected[i]) throw new Error("byte " + i + " is " + copy[i] + ", not " + expected[i]);
          }
        }
        console.log(JSON.stringify({ reads, short, cachedOpens }));
      `);
    } finally {
      fs.writeFileSync(path.join(top, "stop"), "");
      await new Promise((resolve) => writer.on("close", resolve));
    }
    assert.equal(outcome.signal, null, `the reader died of ${outcome.signal}: ${outcome.stderr}`);
    assert.equal(outcome.status, 0, outcome.stderr);
    const counts = JSON.parse(outcome.stdout.trim().split("\n").pop()!);
    assert.ok(counts.reads > 0);
    console.log(`readFile vs a rewriter on ${runtime}: ${counts.reads} reads (${counts.short} caught mid-rewrite), ${counts.cachedOpens} cached opens, no SIGBUS`);
  });
});
