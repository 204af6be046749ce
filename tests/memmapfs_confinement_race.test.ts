// Confinement under attack (issue 12): a second process (tests/fixtures/
// exchange_loop.c, built with cc) swaps a path component and a final file
// between a real entry and a symbolic link to outside with
// renameat2(RENAME_EXCHANGE), as fast as it can, while every method of a
// confined MemMapFS runs against those names. No operation may reach
// outside: no read returns the canary's bytes, no stat its inode, no listing
// the outside directory's names, and the canary's bytes, mode, size, times
// and the outside listing are the same afterwards. Run once with openat2 and
// once with the openat walk forced; the operation counts are printed.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type MappedFile, MemMapFS, MmapError } from "../mod.ts";
import { exchangeLoop, kernelHasOpenat2, makeOutside, type Resolution, SECRET, whileSwapping, withResolution } from "./confinement_helpers.ts";
import { makeDirectory, removeDirectory, runtime } from "./helpers.ts";

// On tmpfs where there is one: writeFile's fsyncs then cost nothing, and the race gets more rounds.
const top = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/memmapfs-race-") : makeDirectory("memmapfs-race-");
after(() => removeDirectory(top));
const binary = exchangeLoop(top);
/** Time each resolution spends under attack: the whole suite stays within a few seconds per runtime. */
const BUDGET_MS = 1200;

const decoder = new TextDecoder();

describe(`confinement under a renameat2(RENAME_EXCHANGE) attacker${binary ? "" : " (skipped: no cc to build the attacker)"}`, () => {
  for (const resolution of ["openat2", "walk"] as Resolution[]) {
    const skip = !binary ? "no cc" : resolution === "openat2" && !kernelHasOpenat2() ? "this kernel has no openat2" : false;
    it(`every method, resolved with ${resolution}: 0 operations reach outside`, { skip }, async () => {
      const base = path.join(top, resolution);
      fs.mkdirSync(base);
      const outside = makeOutside(base);
      const outsideInode = fs.statSync(outside.canary).ino;
      const outsideDirectoryInode = fs.statSync(outside.directory).ino;
      const box = path.join(base, "box");
      fs.mkdirSync(box);
      // "d" flips between a real directory and a link to the outside directory;
      // "f.txt" between a real file and a link to the canary.
      fs.mkdirSync(path.join(box, "d"));
      fs.writeFileSync(path.join(box, "d", "f.txt"), "inside d");
      fs.symlinkSync(outside.directory, path.join(box, "d-swap"));
      fs.writeFileSync(path.join(box, "f.txt"), "inside");
      fs.symlinkSync(path.relative(box, outside.canary), path.join(box, "f-swap"));
      // The canary again under the real directory's own names, so a walk into outside finds them.
      fs.symlinkSync(outside.canary, path.join(outside.directory, "f.txt"));
      const before = outside.snapshot();

      const counts = new Map<string, { ok: number; refused: number }>();
      const escapes: string[] = [];
      const { exchanges } = await withResolution(resolution, async (counting) => {
        const mfs = new MemMapFS({ root: box, cache: { maxFiles: 16 } });
        const uid = process.getuid?.() ?? 0;
        const gid = process.getgid?.() ?? 0;
        const leaked = (what: string, bytes: Uint8Array | string) => {
          const text = typeof bytes === "string" ? bytes : decoder.decode(bytes);
          if (text.includes("OUTSIDE-SECRET") || text.includes("marker")) escapes.push(`${what} read outside bytes`);
        };
        const statOutside = (what: string, ino: number) => {
          if (ino === outsideInode || ino === outsideDirectoryInode) escapes.push(`${what} saw an outside inode`);
        };
        let serial = 0;
        const operations: [string, (target: string) => void][] = [
          ["open", (target) => {
            using file = mfs.open(target);
            leaked("open", file.bytes);
          }],
          ["open readwrite", (target) => {
            using file: MappedFile = mfs.open(target, { mode: "readwrite" });
            leaked("open readwrite", file.bytes);
          }],
          ["readFile", (target) => leaked("readFile", mfs.readFile(target))],
          ["writeFile", (target) => mfs.writeFile(target, "written inside")],
          ["stat", (target) => statOutside("stat", mfs.stat(target).ino)],
          ["lstat", (target) => statOutside("lstat", mfs.lstat(target).ino)],
          ["exists", (target) => void mfs.exists(target)],
          ["readDir", (target) => {
            const names = mfs.readDir(path.dirname(target)).map((entry) => entry.name);
            if (names.includes("outside-only.txt") || names.includes("secret.txt")) escapes.push("readDir listed outside");
          }],
          ["mkdir + remove", (target) => {
            const made = `${path.dirname(target)}/made-${serial++}`;
            mfs.mkdir(made);
            mfs.remove(made);
          }],
          ["mkdir recursive + removeAll", (target) => {
            const made = `${path.dirname(target)}/tree-${serial++}`;
            mfs.mkdir(`${made}/a/b`, { recursive: true });
            mfs.removeAll(made);
          }],
          ["remove", (target) => {
            // Removing the final name itself is allowed (a link inside is removed, not followed): put it back.
            const copy = `${target}.copy-${serial++}`;
            mfs.writeFile(copy, "copy");
            mfs.remove(copy);
          }],
          ["rename", (target) => {
            const from = `${path.dirname(target)}/moving-${serial++}`;
            mfs.writeFile(from, "moving");
            mfs.rename(from, `${from}-moved`);
            mfs.remove(`${from}-moved`);
          }],
          ["truncate", (target) => mfs.truncate(target, 6)],
          ["chmod", (target) => mfs.chmod(target, 0o600)],
          ["chown", (target) => mfs.chown(target, uid, gid)],
          ["utimes", (target) => mfs.utimes(target, 1000, 2000)],
          ["openFile r+", (target) => {
            using file = mfs.openFile(target, "r+");
            leaked("openFile r+", file.bytes);
          }],
          ["openFile a", (target) => {
            using file = mfs.openFile(target, "a");
            file.write("!");
          }],
          ["create", (target) => {
            using file = mfs.create(`${target}.new-${serial++}`, 8);
          }],
          ["sub", (target) => {
            const sub = mfs.sub(path.dirname(target));
            try {
              const names = sub.readDir().map((entry) => entry.name);
              if (names.includes("outside-only.txt")) escapes.push("sub listed outside");
            } finally {
              sub.close();
            }
          }],
        ];
        const attacked = await whileSwapping(binary!, box, [["d", "d-swap"], ["f.txt", "f-swap"]], () => {
          const end = Date.now() + BUDGET_MS;
          while (Date.now() < end) {
            for (const target of ["d/f.txt", "f.txt"]) {
              for (const [name, use] of operations) {
                const count = counts.get(name) ?? { ok: 0, refused: 0 };
                counts.set(name, count);
                try {
                  use(target);
                  count.ok++;
                } catch (error) {
                  // Refusals and races are fine (EACCES for an escape, ENOENT or ELOOP mid-swap…);
                  // anything that is not an MmapError is a bug.
                  if (!(error instanceof MmapError)) throw error;
                  count.refused++;
                }
              }
            }
          }
        });
        if (resolution === "walk") assert.equal(counting.calls("openat2"), 1, "after the ENOSYS probe, only the walk ran");
        else assert.ok(counting.calls("openat2") > 0, "openat2 did the resolving");
        mfs.close();
        return attacked;
      });

      assert.deepEqual(escapes, [], "no operation read, listed or statted anything outside");
      assert.equal(outside.snapshot(), before, "the canary and the outside directory are untouched");
      assert.equal(fs.readFileSync(outside.canary, "utf8"), SECRET);
      const total = [...counts.values()].reduce((sum, { ok, refused }) => sum + ok + refused, 0);
      const succeeded = [...counts.values()].reduce((sum, { ok }) => sum + ok, 0);
      assert.ok(exchanges > 0, "the attacker swapped names");
      assert.ok(succeeded > 0, "operations also succeeded inside");
      console.log(
        `confinement race on ${runtime} (${resolution}): ${total} operations (${succeeded} succeeded, ` +
          `${total - succeeded} refused or raced), ${exchanges} exchanges, 0 escapes; ` +
          [...counts].map(([name, { ok, refused }]) => `${name} ${ok}/${ok + refused}`).join(", "),
      );
    });
  }
});
