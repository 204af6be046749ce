// The table behind tests/permissions.test.ts: a directory tree with symbolic
// links that lead out of the allowed part (and `..` after them), the paths to
// try, and the child program that runs either the runtime's own file API (the
// oracle) or memmapfs on each, printing one JSON line per case.
import * as fs from "node:fs";
import * as path from "node:path";
import { BlockFile } from "../mod.ts";

/** What an operation needs from the permission model, and how the oracle does the same. */
export type Kind = "read" | "readwrite" | "create" | "remove";

/** One entry point of memmapfs, run on one path. */
export interface Case {
  op: string;
  kind: Kind;
  path: string;
  /**
   * Where the oracle runs the runtime's own API: the same path, except where
   * the file memmapfs opens is by design the text's (see permissions.test.ts).
   */
  oraclePath: string;
}

/** What a child saw for one case. */
export interface Outcome {
  op: string;
  path: string;
  ok: boolean;
  text?: string;
  error?: string;
}

const READ_OPS = ["MappedFile.open", "MemMapFS.open", "MemMapFS.readFile", "SharedMemory.open readonly"];
const READWRITE_OPS = ["MappedFile.open readwrite", "SharedMemory.open"];
const CREATE_OPS = ["MappedFile.open create", "SharedMemory.create path", "BlockFile.create"];
const REMOVE_OPS = ["BlockFile.remove", "SharedMemory.unlink path"];

/**
 * Files to read, relative to the fixture: plain ones, denied ones, final
 * links to denied or outside files, `..` after a link that leads outside (the
 * text says one file, the kernel another), and dot and slash noise.
 */
const READ_PATHS = [
  "allowed/a.txt", "allowed/secret.txt", "allowed/w/ro.txt", "allowed/w/w.txt",
  "allowed/link_to_secret", "allowed/link_to_outside", "allowed/dirlink/o.txt", "allowed/dirlink/to_secret",
  "allowed/up/../o.txt", "allowed/up/../only_outside.txt", "allowed/up/../secret.txt",
  "allowed/sub/../secret.txt", "allowed/sub/../a.txt", "allowed/up/../../outside/o.txt",
  "allowed/./a.txt", "allowed//a.txt", "./allowed/a.txt", "allowed/sub/", "allowed/missing.txt",
  "outside/o.txt", "allowed/../outside/o.txt", "outside/to_secret", "allowed/w/devdir/x.txt",
];

/**
 * The issue's own example, absolute only, where this machine has it: /var/run
 * is a link to /run, so the kernel reads /etc/hostname where the text says
 * /var/etc/hostname.
 */
const SYSTEM_PATHS = fs.existsSync("/etc/hostname") && fs.lstatSync("/var/run", { throwIfNoEntry: false })?.isSymbolicLink()
  ? ["/var/run/../etc/hostname", "/etc/hostname"]
  : [];

/**
 * Directories to create in, or remove from: allowed, writable, outside, and
 * outside through a link — one into /dev/shm, where Deno wants --allow-all
 * whatever link led there.
 */
const DIRECTORIES = [
  "allowed", "allowed/w", "outside", "allowed/up/..", "allowed/up/../w", "allowed/dirlink", "allowed/w/../..", "allowed/w/devdir",
];

/** A BlockFile everywhere a test opens one. */
const BLOCK_PATHS = [
  "allowed/b.blocks", "allowed/w/b.blocks", "allowed/w/secret.blocks", "outside/b.blocks",
  "allowed/up/../b.blocks", "allowed/up/../w/b.blocks", "allowed/dirlink/b.blocks",
];

/** The file the `op`-th remove operation of the `directory`-th directory removes. */
const victim = (op: number, directory: number) => `victim${op}_${directory}`;

/** Each path relative to the child's working directory (the fixture) and absolute. */
function bothForms(root: string, paths: readonly string[]): string[] {
  return paths.flatMap((relative) => [relative, `${root}/${relative}`]);
}

/** The whole table for a fixture at `root`; `oracleOf` says where the oracle acts for an op and path. */
export function cases(root: string, oracleOf: (op: string, path: string) => string): Case[] {
  const all: Case[] = [];
  for (const p of [...bothForms(root, READ_PATHS), ...SYSTEM_PATHS]) {
    for (const op of READ_OPS) all.push({ op, kind: "read", path: p, oraclePath: oracleOf(op, p) });
    for (const op of READWRITE_OPS) all.push({ op, kind: "readwrite", path: p, oraclePath: oracleOf(op, p) });
  }
  for (const p of bothForms(root, BLOCK_PATHS)) {
    all.push({ op: "BlockFile.open", kind: "readwrite", path: p, oraclePath: oracleOf("BlockFile.open", p) });
  }
  bothForms(root, DIRECTORIES).forEach((directory, i) => {
    // Each case its own file name: several directories of the table are one directory.
    for (const [ops, kind, name] of [[CREATE_OPS, "create", (j: number) => `new${j}_${i}`], [REMOVE_OPS, "remove", (j: number) => victim(j, i)]] as const) {
      ops.forEach((op, j) => {
        const p = `${directory}/${name(j)}`;
        all.push({ op, kind, path: p, oraclePath: oracleOf(op, p) });
      });
    }
  });
  return all;
}

/** The named shared-memory cases: `tag` keeps names of concurrent runs apart. */
export function shmCases(tag: string): Case[] {
  const all: Case[] = [];
  // A name is the file /dev/shm/<name>: the oracle acts there.
  const named = (op: string, kind: Kind, name: string) => all.push({ op, kind, path: name, oraclePath: `/dev/shm/${name}` });
  for (const who of ["ok", "ro", "deny"]) {
    named("SharedMemory.create name", "create", `psm_${who}_new_${tag}`);
    named("SharedMemory.open name", "readwrite", `psm_${who}_${tag}`);
    named("SharedMemory.open name readonly", "read", `psm_${who}_${tag}`);
    named("SharedMemory.unlink name", "remove", `psm_${who}_victim_${tag}`);
  }
  return all;
}

/** Builds (or rebuilds) the tree every run starts from. */
export function buildFixture(root: string, tag: string): void {
  removeFixture(root, tag);
  const write = (relative: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    fs.writeFileSync(path.join(root, relative), text, { mode: 0o644 });
  };
  write("allowed/a.txt", "allowed-a");
  write("allowed/o.txt", "allowed-o");
  write("allowed/secret.txt", "SECRET");
  write("allowed/w/w.txt", "writable");
  write("allowed/w/ro.txt", "read-only");
  write("outside/o.txt", "OUTSIDE-o");
  write("outside/only_outside.txt", "ONLY-OUTSIDE");
  fs.mkdirSync(path.join(root, "allowed/sub"));
  fs.mkdirSync(path.join(root, "outside/deep"));
  fs.mkdirSync(path.join(root, "outside/w"));
  fs.symlinkSync("secret.txt", path.join(root, "allowed/link_to_secret"));
  fs.symlinkSync("../outside/o.txt", path.join(root, "allowed/link_to_outside"));
  fs.symlinkSync("../outside", path.join(root, "allowed/dirlink"));
  fs.symlinkSync("../outside/deep", path.join(root, "allowed/up"));
  fs.symlinkSync("../allowed/secret.txt", path.join(root, "outside/to_secret"));
  const devDirectory = `/dev/shm/mmfs_${tag}`;
  fs.mkdirSync(devDirectory);
  fs.writeFileSync(path.join(devDirectory, "x.txt"), "in-dev-shm");
  fs.symlinkSync(devDirectory, path.join(root, "allowed/w/devdir"));
  for (const file of ["allowed/b.blocks", "allowed/w/b.blocks", "allowed/w/secret.blocks", "outside/b.blocks", "outside/w/b.blocks"]) {
    BlockFile.create(path.join(root, file)).close();
  }
  for (const directory of ["allowed", "allowed/w", "outside", "outside/w", ".", "allowed/w/devdir"]) {
    for (let i = 0; i < 2 * DIRECTORIES.length; i++) {
      fs.copyFileSync(path.join(root, "allowed/b.blocks"), path.join(root, directory, victim(0, i)));
      write(path.join(directory, victim(1, i)), "victim");
    }
  }
  for (const who of ["ok", "ro", "deny"]) {
    fs.writeFileSync(`/dev/shm/psm_${who}_${tag}`, `shm-${who}`, { mode: 0o600 });
    fs.writeFileSync(`/dev/shm/psm_${who}_victim_${tag}`, "victim", { mode: 0o600 });
  }
}

/** Removes what {@linkcode buildFixture} made. */
export function removeFixture(root: string, tag: string): void {
  fs.rmSync(root, { recursive: true, force: true });
  for (const name of fs.readdirSync("/dev/shm").filter((entry) => entry.endsWith(`_${tag}`))) {
    fs.rmSync(path.join("/dev/shm", name), { force: true, recursive: true });
  }
}

/**
 * The child program: `mode` "oracle" uses the runtime's own API (Deno's, or
 * node:fs on Node and Bun), "library" uses memmapfs. One JSON line per case.
 */
export function childProgram(mode: "oracle" | "library", all: readonly Case[]): string {
  return `
import * as fs from "node:fs";
import { BlockFile, MappedFile, MemMapFS, SharedMemory } from "../mod.ts";
const cases = ${JSON.stringify(all)};
const decode = (bytes) => new TextDecoder().decode(bytes);
const deno = globalThis.Deno;
const oracle = {
  read: (path) => decode(deno ? deno.readFileSync(path) : fs.readFileSync(path)),
  readwrite(path) {
    if (deno) deno.openSync(path, { read: true, write: true }).close();
    else fs.closeSync(fs.openSync(path, "r+"));
  },
  create(path) {
    if (deno) deno.openSync(path, { read: true, write: true, createNew: true }).close();
    else fs.closeSync(fs.openSync(path, "wx+"));
  },
  remove(path) {
    oracle.readwrite(path);
    if (deno) deno.removeSync(path); else fs.unlinkSync(path);
  },
};
const memfs = new MemMapFS();
const library = {
  "MappedFile.open": (c) => { using m = MappedFile.open(c.path); return decode(m.bytes); },
  "MemMapFS.open": (c) => { using m = memfs.open(c.path); return decode(m.bytes); },
  "MemMapFS.readFile": (c) => {
    // Twice: a plain read, then through the cache; both must agree.
    const first = decode(memfs.readFile(c.path)), second = decode(memfs.readFile(c.path));
    return first === second ? first : "readFile disagrees: " + first + " / " + second;
  },
  "SharedMemory.open readonly": (c) => { using r = SharedMemory.open(c.path, { readonly: true }); return decode(r.bytes); },
  "MappedFile.open readwrite": (c) => { MappedFile.open(c.path, { mode: "readwrite" }).close(); },
  "SharedMemory.open": (c) => { SharedMemory.open(c.path).close(); },
  "BlockFile.open": (c) => { BlockFile.open(c.path).close(); },
  "MappedFile.open create": (c) => { MappedFile.open(c.path, { mode: "readwrite", create: true, size: 16 }).close(); },
  "SharedMemory.create path": (c) => { SharedMemory.create({ path: c.path, size: 16 }).close(); },
  "BlockFile.create": (c) => { BlockFile.create(c.path).close(); },
  "BlockFile.remove": (c) => { BlockFile.open(c.path).remove(); },
  "SharedMemory.unlink path": (c) => { using r = SharedMemory.open(c.path); r.unlink(); },
  "SharedMemory.create name": (c) => { SharedMemory.create({ name: c.path, size: 16 }).close(); },
  "SharedMemory.open name": (c) => { SharedMemory.open(c.path).close(); },
  "SharedMemory.open name readonly": (c) => { using r = SharedMemory.open(c.path, { readonly: true }); return decode(r.bytes); },
  "SharedMemory.unlink name": (c) => { using r = SharedMemory.open(c.path, { readonly: true }); r.unlink(); },
};
for (const c of cases) {
  let outcome;
  try {
    const text = ${JSON.stringify(mode)} === "oracle" ? oracle[c.kind](c.oraclePath) : library[c.op](c);
    outcome = { op: c.op, path: c.path, ok: true, text: typeof text === "string" ? text : undefined };
  } catch (error) {
    outcome = { op: c.op, path: c.path, ok: false, error: String(error?.code ?? error?.name) };
  }
  console.log(JSON.stringify(outcome));
}
`;
}
