// memmapfs against the runtime's own file API as the oracle. FFI bypasses the
// permission models of Deno and Node, so memmapfs asks them itself; here a
// child runs every entry point on every path of a table (links that leave the
// allowed directory, `..` after them, relative and absolute forms, denied and
// missing files) under real permission flags, and another child runs the
// runtime's own API on the same paths with the same flags. memmapfs must fail
// wherever the runtime fails, and a read that succeeds must show the bytes of
// the file the runtime checked: the check and the open are about one file.
//
// Each runtime's suite runs its own runtime: Deno with path-scoped grants and
// with the issue's global `--allow-read --deny-read`, Node with `--permission`
// and without, Bun (no permission model) plainly.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { makeDirectory, removeDirectory, runtime } from "./helpers.ts";
import { buildFixture, type Case, cases, childProgram, type Outcome, removeFixture, shmCases } from "./permission_cases.ts";

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let top: string;
let root: string;

/**
 * Runs `work` with a fresh temporary directory in `top` (and `root` below
 * it), removed afterwards with everything the fixture made in /dev/shm.
 * (Cleanup is not left to a top-level `after`: Deno's node:test skips it here.)
 */
function inFreshDirectory<T>(work: () => T): T {
  top = makeDirectory("memmapfs-perm-");
  root = path.join(top, "tree");
  try {
    return work();
  } finally {
    removeFixture(root, tag);
    removeDirectory(top);
  }
}

/** Runs `program` in a child of this runtime with `flags`, in the fixture, and parses its lines. */
function runChild(program: string, flags: readonly string[], expected: number): Outcome[] {
  const file = path.join(repository, "tests", `.child_perm_${tag}_${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, program);
  try {
    const args = runtime === "deno" ? ["run", ...flags, file] : [...flags, file];
    const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.equal(result.status, 0, `${result.stderr}\n${result.stdout}`);
    const lines = result.stdout.trim().split("\n").filter((line) => line.startsWith("{"));
    assert.equal(lines.length, expected, result.stderr);
    return lines.map((line) => JSON.parse(line));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** How many cases were refused by whom; the lists are for the failure message and the report. */
interface Comparison {
  total: number;
  oracleRefused: number;
  libraryRefused: number;
  violations: string[];
  stricter: string[];
}

/** How the runtimes' own APIs say their permission model refused. */
const PERMISSION_ERRORS = ["NotCapable", "PermissionDenied", "ERR_ACCESS_DENIED"];

function compare(table: readonly Case[], oracle: readonly Outcome[], library: readonly Outcome[]): Comparison {
  const result: Comparison = { total: table.length, oracleRefused: 0, libraryRefused: 0, violations: [], stricter: [] };
  table.forEach((entry, i) => {
    const [theirs, ours] = [oracle[i], library[i]];
    const label = `${entry.op} ${entry.path}`;
    if (!theirs.ok) result.oracleRefused++;
    if (!ours.ok) result.libraryRefused++;
    if (!theirs.ok && ours.ok) result.violations.push(`${label}: the runtime refused (${theirs.error}) but memmapfs did not`);
    else if (PERMISSION_ERRORS.includes(theirs.error!) && ours.error !== "EACCES") {
      result.violations.push(`${label}: the runtime's permission model refused (${theirs.error}), memmapfs said ${ours.error}, not EACCES`);
    }
    else if (ours.ok && entry.kind === "read" && ours.text !== theirs.text) {
      result.violations.push(`${label}: memmapfs read ${JSON.stringify(ours.text)}, the checked file holds ${JSON.stringify(theirs.text)}`);
    } else if (theirs.ok && !ours.ok) result.stricter.push(`${label}: ${ours.error}`);
  });
  return result;
}

/** A create or remove that memmapfs refused touched nothing, where the text says or where the kernel would go. */
function assertUntouched(table: readonly Case[], library: readonly Outcome[]): void {
  table.forEach((entry, i) => {
    if (library[i].ok || entry.op.endsWith(" name") || (entry.kind !== "create" && entry.kind !== "remove")) return;
    const raw = entry.path.startsWith("/") ? entry.path : `${root}/${entry.path}`;
    const byKernel = path.join(fs.realpathSync(path.dirname(raw)), path.basename(raw));
    const byText = path.resolve(root, entry.path);
    if (entry.kind === "create") {
      for (const place of [byKernel, byText]) assert.ok(!fs.existsSync(place), `${entry.op} ${entry.path} refused, yet ${place} exists`);
    } else {
      // Every directory of the table holds a victim of each kind where the kernel leads.
      assert.ok(fs.existsSync(byKernel), `${entry.op} ${entry.path} refused, yet ${byKernel} is gone`);
    }
  });
}

/** Runs the table under `flags`: the oracle on one fresh tree, memmapfs on another. */
function agreeWithRuntime(flags: readonly string[], oracleOf: (op: string, p: string) => string): Comparison {
  const table = [...cases(root, oracleOf), ...shmCases(tag)];
  buildFixture(root, tag);
  const oracle = runChild(childProgram("oracle", table), flags, table.length);
  buildFixture(root, tag);
  const library = runChild(childProgram("library", table), flags, table.length);
  assertUntouched(table, library);
  const result = compare(table, oracle, library);
  assert.deepEqual(result.violations, [], `memmapfs was looser than the runtime in ${result.violations.length} cases`);
  // The table is not vacuous: the runtime refused a good share, and allowed a good share.
  assert.ok(result.oracleRefused >= 20 && result.total - result.oracleRefused >= 20, JSON.stringify(result));
  const stricter = new Map<string, number>();
  for (const line of result.stricter) {
    const key = `${line.slice(0, line.indexOf(" "))} ${line.slice(line.lastIndexOf(": ") + 2)}`;
    stricter.set(key, (stricter.get(key) ?? 0) + 1);
  }
  console.log(`# ${runtime}: ${result.total} cases, runtime refused ${result.oracleRefused}, memmapfs refused ` +
    `${result.libraryRefused}, stricter in ${result.stricter.length} (${[...stricter].map(([k, n]) => `${k} x${n}`).join(", ")})`);
  return result;
}

/** The path made absolute and normalised as text: what Deno and Node's model check, and memmapfs opens. */
const checkedPath = (p: string) => path.resolve(root, p);
/** The path as given: where Deno's own API acts (it normalises itself), and Bun's and Node's without a model. */
const asGiven = (_op: string, p: string) => p;
/**
 * Bun and Node without a model open the path as given, and so does memmapfs;
 * MemMapFS resolves `..` as text by design, so for it the oracle reads the
 * text's file.
 */
const withoutModel = (op: string, p: string) => op.startsWith("MemMapFS") ? checkedPath(p) : p;

const shm = (who: string) => `/dev/shm/psm_${who}_${tag}`;

describe("permissions agree with the runtime's own file API (oracle)", { skip: process.platform !== "linux" }, () => {
  it("Deno with path-scoped grants and denials", { skip: runtime !== "deno" }, () => inFreshDirectory(() => {
    const readable = [`${root}/allowed`, shm("ok"), shm("ro"), shm("ok_new"), shm("ro_new"), shm("ok_victim"), shm("ro_victim")];
    const writable = [`${root}/allowed/w`, shm("ok"), shm("ok_new"), shm("ok_victim")];
    agreeWithRuntime([
      "--allow-ffi",
      `--allow-read=${readable.join(",")}`,
      `--deny-read=${root}/allowed/secret.txt,${root}/allowed/w/secret.blocks`,
      `--allow-write=${writable.join(",")}`,
      `--deny-write=${root}/allowed/w/ro.txt`,
    ], asGiven);
  }));

  it("Deno with --allow-read and --deny-read (the /var/run/../etc/hostname case)", { skip: runtime !== "deno" }, () => inFreshDirectory(() => {
    agreeWithRuntime([
      "--allow-ffi",
      "--allow-read",
      `--deny-read=/etc/hostname,${root}/outside,${root}/allowed/secret.txt,${shm("deny")},${shm("deny_new")},${shm("deny_victim")}`,
      `--allow-write=${root}/allowed/w,${shm("ok")},${shm("ok_new")},${shm("ok_victim")}`,
    ], asGiven);
  }));

  // Node checks the path made absolute and normalised as text, then opens the
  // path as given: `allowed/up/../o.txt` is checked as allowed/o.txt and
  // reads outside/o.txt. memmapfs opens what was checked. So the oracle is
  // node:fs on the normalised spelling, which Node's model judges exactly as
  // it judges the path as given.
  it("Node with --permission", { skip: runtime !== "node" }, () => inFreshDirectory(() => {
    const readable = [repository, `${root}/allowed`, shm("ok"), shm("ro"), shm("ok_new"), shm("ro_new"), shm("ok_victim"), shm("ro_victim")];
    const writable = [`${root}/allowed/w`, shm("ok"), shm("ok_new"), shm("ok_victim")];
    agreeWithRuntime([
      "--permission", "--allow-ffi", "--no-warnings",
      ...readable.map((p) => `--allow-fs-read=${p}`),
      ...writable.map((p) => `--allow-fs-write=${p}`),
    ], (_op, p) => checkedPath(p));
  }));

  it("Node without --permission opens what node:fs opens", { skip: runtime !== "node" }, () => inFreshDirectory(() => {
    // No model: nothing to check, the path is opened as given. MemMapFS
    // resolves its paths as text itself, so its reads show the text's file.
    agreeWithRuntime(["--no-warnings"], withoutModel);
  }));

  it("Bun (no permission model) opens what Bun's own fs opens", { skip: runtime !== "bun" }, () => inFreshDirectory(() => {
    agreeWithRuntime([], withoutModel);
  }));
});

/** Runs `program` in a child of this runtime with `flags` and returns its trimmed output lines. */
function outputOf(program: string, flags: readonly string[]): string[] {
  const file = path.join(repository, "tests", `.child_perm_${tag}_${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, program);
  try {
    const args = runtime === "deno" ? ["run", ...flags, file] : [...flags, file];
    const result = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
    assert.equal(result.status, 0, `${result.stderr}\n${result.stdout}`);
    return result.stdout.trim().split("\n");
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe("which flags Deno needs", { skip: runtime !== "deno" || process.platform !== "linux" }, () => {
  it("SharedMemory.open of a file needs --allow-read and --allow-write of it, not --allow-sys", () => inFreshDirectory(() => {
    const file = path.join(top, "region.bin");
    fs.writeFileSync(file, "region", { mode: 0o600 });
    const lines = outputOf(`
      import { SharedMemory } from "../mod.ts";
      for (const readonly of [false, true]) {
        try {
          using region = SharedMemory.open(${JSON.stringify(file)}, { readonly });
          console.log("opened", new TextDecoder().decode(region.bytes));
        } catch (error) {
          console.log(error.name, error.code, error.message);
        }
      }
    `, ["--allow-ffi", `--allow-read=${file}`, `--allow-write=${file}`]);
    assert.deepEqual(lines, ["opened region", "opened region"]);
  }));

  it("MemMapFS.writeFile over an existing file needs --allow-read and --allow-write of its directory, not --allow-sys", () => inFreshDirectory(() => {
    const directory = path.join(top, "writes");
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(path.join(directory, "old.txt"), "old");
    const lines = outputOf(`
      import { MemMapFS } from "../mod.ts";
      const memfs = new MemMapFS({ root: ${JSON.stringify(directory)} });
      try {
        memfs.writeFile("old.txt", "new");
        console.log(new TextDecoder().decode(memfs.readFile("old.txt")));
      } catch (error) {
        console.log(error.name, error.code, error.message);
      }
    `, ["--allow-ffi", `--allow-read=${directory}`, `--allow-write=${directory}`]);
    assert.deepEqual(lines, ["new"]);
  }));

  it("a named SharedMemory needs --allow-all, as Deno's own API needs for /dev/shm", () => {
    const name = `psm_flags_${tag}`;
    const program = `
      import { SharedMemory } from "../mod.ts";
      let oracle;
      try {
        Deno.openSync("/dev/shm/${name}", { read: true, write: true, create: true }).close();
        Deno.removeSync("/dev/shm/${name}");
        oracle = "allowed";
      } catch (error) {
        oracle = error.name;
      }
      try {
        const region = SharedMemory.create({ name: "${name}", size: 64 });
        region.close();
        SharedMemory.open("${name}", { readonly: true }).close();
        region.unlink();
        console.log(oracle, "memmapfs allowed");
      } catch (error) {
        console.log(oracle, error.name, error.code, /--allow-all/.test(error.message));
      }
    `;
    try {
      assert.deepEqual(outputOf(program, ["--allow-all"]), ["allowed memmapfs allowed"]);
      // Every grant but one (import) is not --allow-all, for Deno and for memmapfs.
      const allButImport = ["--allow-ffi", "--allow-read", "--allow-write", "--allow-net", "--allow-env", "--allow-sys", "--allow-run"];
      assert.deepEqual(outputOf(program, allButImport), ["NotCapable MmapError EACCES true"]);
      assert.ok(!fs.existsSync(`/dev/shm/${name}`), "the refused create made nothing");
    } finally {
      fs.rmSync(`/dev/shm/${name}`, { force: true });
    }
  });

  it("a grant revoked after a file was cached is honoured by the next open (a cache hit)", () => inFreshDirectory(() => {
    const file = path.join(top, "cached.txt");
    fs.writeFileSync(file, "cached");
    const lines = outputOf(`
      import { MemMapFS } from "../mod.ts";
      const memfs = new MemMapFS();
      // A hit that validateAfterMs lets skip its stat still asks the permission model.
      const trusting = new MemMapFS({ cache: { validateAfterMs: 600_000 } });
      memfs.open(${JSON.stringify(file)}).close();
      trusting.open(${JSON.stringify(file)}).close();
      Deno.permissions.revokeSync({ name: "read", path: ${JSON.stringify(file)} });
      const reads = [() => Deno.readFileSync(${JSON.stringify(file)}), () => memfs.open(${JSON.stringify(file)}), () => trusting.open(${JSON.stringify(file)})];
      for (const read of reads) {
        try {
          read();
          console.log("read");
        } catch (error) {
          console.log(error.name, error.code);
        }
      }
      console.log(JSON.stringify([memfs.cacheStats().files, trusting.cacheStats().files]));
    `, ["--allow-ffi", `--allow-read=${file}`]);
    assert.deepEqual(lines, ["NotCapable undefined", "MmapError EACCES", "MmapError EACCES", "[1,1]"]);
  }));
});

describe("Node's permission model", { skip: runtime !== "node" || process.platform !== "linux" }, () => {
  it("without --allow-ffi the first call is an UnsupportedRuntimeError that names it", () => {
    const lines = outputOf(`
      import { MappedFile } from "../mod.ts";
      try {
        MappedFile.open(${JSON.stringify(path.join(repository, "mod.ts"))});
        console.log("opened");
      } catch (error) {
        console.log(error.name, /--allow-ffi/.test(error.message));
      }
    `, ["--permission", "--no-warnings", `--allow-fs-read=${repository}`]);
    assert.deepEqual(lines, ["UnsupportedRuntimeError true"]);
  });

  it("a grant dropped after a file was cached is honoured by the next open (a cache hit)", () => inFreshDirectory(() => {
    const file = path.join(top, "cached-node.txt");
    fs.writeFileSync(file, "cached");
    const lines = outputOf(`
      import * as fs from "node:fs";
      import { MemMapFS } from "../mod.ts";
      const memfs = new MemMapFS();
      memfs.open(${JSON.stringify(file)}).close();
      process.permission.drop("fs.read", ${JSON.stringify(file)});
      for (const read of [() => fs.readFileSync(${JSON.stringify(file)}), () => memfs.open(${JSON.stringify(file)})]) {
        try {
          read();
          console.log("read");
        } catch (error) {
          console.log(error.name, error.code);
        }
      }
    `, ["--permission", "--allow-ffi", "--no-warnings", `--allow-fs-read=${repository}`, `--allow-fs-read=${file}`]);
    assert.deepEqual(lines, ["Error ERR_ACCESS_DENIED", "MmapError EACCES"]);
  }));
});

describe("the checked path", () => {
  it("normalizes paths as node:path's resolve does (the string the model checks and memmapfs opens)", async () => {
    const { normalizedAbsolutePath } = await import("../src/ffi/checked_path.ts");
    const parts = ["a", "b", ".", "..", "", "...", ".x", "x."];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const length = next() % 7;
      const text = (next() % 2 ? "/" : "") + Array.from({ length }, () => parts[next() % parts.length]).join("/") + (next() % 4 ? "" : "/");
      if (text === "") continue;
      assert.equal(normalizedAbsolutePath(text, () => "/cwd/here"), path.posix.resolve("/cwd/here", text), JSON.stringify(text));
    }
  });
});
