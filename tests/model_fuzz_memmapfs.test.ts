// Model-based fuzzing of MemMapFS (issue 7.4) against a map of names to files: writeFile,
// readFile, open (handles kept and closed later), openFile with every flag, create, truncate,
// rename, remove and rewrites by another program, with a small mapping cache so entries are
// evicted and invalidated all the time. Seed and replay: tests/model_fuzz_kit.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { type MappedFile, MemMapFS, MmapError, pageSize } from "../mod.ts";
import { assertPassed, bytes, command, describeBytes, directories, fuzz, place, replay, runName, sameBytes, scale, seed, sized, slow, throwsExactly, useFuzzDirectories } from "./model_fuzz_kit.ts";

useFuzzDirectories();

// ---------------------------------------------------------------------------------------------
// MemMapFS against a map of names to files. Held handles keep the file they opened (an inode),
// so they must keep showing its bytes after writeFile replaces the name, and truncations that
// would cut under them must be refused with EBUSY.

interface Inode {
  bytes: Uint8Array;
}
interface Tree {
  names: Map<string, Inode>;
  held: { inode: Inode; length: number }[];
}
interface RealTree {
  memfs: MemMapFS;
  root: string;
  held: MappedFile[];
}
const NAMES = ["a", "b", "c"];
type Flags = "r+" | "w" | "w+" | "a" | "a+";

function verifyTree(m: Tree, r: RealTree): void {
  assert.deepEqual(fs.readdirSync(r.root).sort(), [...m.names.keys()].sort(), "directory listing (node:fs)");
  for (const [name, inode] of m.names) sameBytes(fs.readFileSync(path.join(r.root, name)), inode.bytes, `${name} on disk (node:fs)`);
  m.held.forEach(({ inode, length }, i) => {
    assert.equal(r.held[i].size, length, `held handle ${i}: size`);
    sameBytes(r.held[i].bytes, inode.bytes.subarray(0, length), `held handle ${i}`);
  });
}

const onTree = (label: string, run: (m: Tree, r: RealTree) => void) => command<Tree, RealTree>(label, () => true, run, verifyTree);
const enoent = (work: () => unknown, what: string) => throwsExactly(work, MmapError, what, "ENOENT");
/** Whether a handle this file system gave out maps `inode` past `size`. */
const mappedPast = (m: Tree, inode: Inode | undefined, size: number) => m.held.some((h) => h.inode === inode && h.length > size);

const fsWriteFile = (name: string, data: Uint8Array) =>
  onTree(`writeFile(${name}, ${describeBytes(data)})`, (m, r) => {
    r.memfs.writeFile(name, data);
    m.names.set(name, { bytes: data.slice() });
  });

/** Another program rewrites the file in place (same inode, O_TRUNC), where no held handle would fault. */
const externalWrite = (name: string, data: Uint8Array) =>
  onTree(`externalWrite(${name}, ${describeBytes(data)})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode || mappedPast(m, inode, 0)) return;
    fs.writeFileSync(path.join(r.root, name), data);
    inode.bytes = data.slice();
  });

const fsReadFile = (name: string) =>
  onTree(`readFile(${name})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.readFile(name), "readFile");
    const copy = r.memfs.readFile(name);
    sameBytes(copy, inode.bytes, "readFile");
    copy.fill(0xff); // a copy the caller owns: the file must not change
  });

const fsOpen = (name: string, keep: boolean) =>
  onTree(`open(${name}${keep ? ", kept" : ""})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.open(name), "open");
    const handle = r.memfs.open(name);
    sameBytes(handle.bytes, inode.bytes, "open");
    if (keep && m.held.length < 4) {
      m.held.push({ inode, length: inode.bytes.length });
      r.held.push(handle);
    } else {
      handle.close();
    }
  });

const fsCloseHeld = (which: number) =>
  onTree(`closeHeld(${which})`, (m, r) => {
    if (m.held.length === 0) return;
    const at = which % m.held.length;
    r.held.splice(at, 1)[0].close();
    m.held.splice(at, 1);
  });

/** openFile with `flags`, one write (at the end for "a"/"a+", else at `at`), close. */
const fsOpenFile = (name: string, flags: Flags, data: Uint8Array, at: number) =>
  onTree(`openFile(${name}, "${flags}", ${describeBytes(data)}, ${at})`, (m, r) => {
    let inode = m.names.get(name);
    if (!inode && flags === "r+") return enoent(() => r.memfs.openFile(name, flags), "openFile r+");
    if (flags.startsWith("w") && mappedPast(m, inode, 0)) {
      return throwsExactly(() => r.memfs.openFile(name, flags), MmapError, "openFile over a held handle", "EBUSY");
    }
    if (!inode) m.names.set(name, inode = { bytes: new Uint8Array(0) });
    if (flags.startsWith("w")) inode.bytes = new Uint8Array(0);
    const where = flags.startsWith("a") ? inode.bytes.length : at;
    const handle = r.memfs.openFile(name, flags);
    try {
      assert.equal(flags.startsWith("a") ? handle.write(data) : handle.writeAt(data, at), data.length, "write");
    } finally {
      handle.close();
    }
    if (data.length > 0) {
      inode.bytes = sized(inode.bytes, Math.max(inode.bytes.length, where + data.length));
      inode.bytes.set(data, where);
    }
  });

const fsCreate = (name: string, size: number) =>
  onTree(`create(${name}, ${size})`, (m, r) => {
    let inode = m.names.get(name);
    if (mappedPast(m, inode, 0)) return throwsExactly(() => r.memfs.create(name, size), MmapError, "create", "EBUSY");
    if (!inode) m.names.set(name, inode = { bytes: new Uint8Array(0) });
    inode.bytes = new Uint8Array(size);
    r.memfs.create(name, size).close();
  });

const fsTruncate = (name: string, size: number) =>
  onTree(`truncate(${name}, ${size})`, (m, r) => {
    const inode = m.names.get(name);
    if (!inode) return enoent(() => r.memfs.truncate(name, size), "truncate");
    if (mappedPast(m, inode, size)) return throwsExactly(() => r.memfs.truncate(name, size), MmapError, "truncate", "EBUSY");
    r.memfs.truncate(name, size);
    inode.bytes = sized(inode.bytes, size);
  });

const fsRename = (from: string, to: string) =>
  onTree(`rename(${from}, ${to})`, (m, r) => {
    const inode = m.names.get(from);
    if (!inode) return enoent(() => r.memfs.rename(from, to), "rename");
    r.memfs.rename(from, to);
    m.names.delete(from);
    m.names.set(to, inode);
  });

const fsRemove = (name: string) =>
  onTree(`remove(${name})`, (m, r) => {
    if (!m.names.has(name)) return enoent(() => r.memfs.remove(name), "remove");
    r.memfs.remove(name);
    m.names.delete(name);
  });

const fsStat = (name: string) =>
  onTree(`stat(${name})`, (m, r) => {
    const inode = m.names.get(name);
    assert.equal(r.memfs.exists(name), inode !== undefined, "exists");
    if (!inode) return enoent(() => r.memfs.stat(name), "stat");
    assert.equal(r.memfs.stat(name).size, inode.bytes.length, "stat size");
  });

const name = fc.constantFrom(...NAMES);
const small = fc.integer({ min: 0, max: 2 * pageSize + 10 });
const MEMMAPFS_COMMANDS = 50;
// Weighted towards commands that make files and keep handles, so that names mostly exist.
const treeCommands = fc.commands([fc.oneof(
  { arbitrary: fc.tuple(name, bytes(pageSize + 100)).map(([n, data]) => fsWriteFile(n, data)), weight: 3 },
  { arbitrary: name.map(fsReadFile), weight: 2 },
  { arbitrary: fc.tuple(name, bytes(pageSize + 100)).map(([n, data]) => externalWrite(n, data)), weight: 2 },
  { arbitrary: fc.tuple(name, fc.boolean()).map(([n, keep]) => fsOpen(n, keep)), weight: 3 },
  { arbitrary: fc.nat(3).map(fsCloseHeld), weight: 1 },
  {
    arbitrary: fc.tuple(name, fc.constantFrom<Flags>("r+", "w", "w+", "a", "a+"), bytes(pageSize + 100), small)
      .map(([n, flags, data, at]) => fsOpenFile(n, flags, data, at)),
    weight: 3,
  },
  { arbitrary: fc.tuple(name, small).map(([n, size]) => fsCreate(n, size)), weight: 2 },
  { arbitrary: fc.tuple(name, small).map(([n, size]) => fsTruncate(n, size)), weight: 2 },
  { arbitrary: fc.tuple(name, name).map(([from, to]) => fsRename(from, to)), weight: 1 },
  { arbitrary: name.map(fsRemove), weight: 1 },
  { arbitrary: name.map(fsStat), weight: 1 },
)], { maxCommands: MEMMAPFS_COMMANDS, size: "max", replayPath: replay.commands });

// Small caches, so entries are evicted and reloaded all the time, or none.
const cacheLimits = fc.constantFrom<false | { maxBytes?: number; maxFiles?: number } | undefined>(
  undefined, false, { maxFiles: 1 }, { maxBytes: pageSize, maxFiles: 2 },
);

const memMapFSProperty = fc.property(place, cacheLimits, treeCommands, (where, cache, steps) => {
  const root = path.join(directories[where], runName("tree"));
  fs.mkdirSync(root);
  const memfs = new MemMapFS({ root, cache });
  const real: RealTree = { memfs, root, held: [] };
  try {
    fc.modelRun(() => ({ model: { names: new Map(), held: [] } as Tree, real }), steps);
  } finally {
    for (const handle of real.held) handle.close();
    memfs.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});


describe("model-based fuzzing", () => {
  const treeRuns = Math.max(1, Math.round(100 * scale));
  it(`MemMapFS matches a map of files and node:fs (${treeRuns} runs of up to ${MEMMAPFS_COMMANDS} commands, seed ${seed})`, slow, () => {
    assertPassed("MemMapFS", fuzz("MemMapFS", memMapFSProperty, treeRuns));
  });
});
