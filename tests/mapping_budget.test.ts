// The mapping budget: memmapfs keeps its own mappings within half of
// vm.max_map_count, so the runtime never runs out of mappings (V8 and Deno
// abort the process when they do). Tests set a small budget through the hook
// instead of opening tens of thousands of files; one child process shows a
// MemMapFS whose cache limits allow every file reaching ENOMEM and living on.
import { after, afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MappedFile, MemMapFS, MmapError, pageSize, SharedMemory } from "../mod.ts";
import { DEFAULT_BUDGET, mappingBudget, mappingsHeld, setMappingBudget } from "../src/mapping_budget.ts";
import { makeDirectory, newDescriptors, openDescriptors, removeDirectory, runScript } from "./helpers.ts";

const directory = makeDirectory("memmapfs-budget-");
after(() => removeDirectory(directory));
afterEach(() => setMappingBudget(null));

/** `count` small files in a new directory. */
function files(name: string, count: number): string[] {
  const dir = path.join(directory, name);
  fs.mkdirSync(dir);
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `f${i}.txt`);
    fs.writeFileSync(file, `file ${i}\n`);
    return file;
  });
}

function assertOverBudget(error: unknown): true {
  assert.ok(error instanceof MmapError, `expected MmapError, got ${error}`);
  assert.equal(error.code, "ENOMEM");
  assert.equal(error.syscall, "mmap");
  assert.match(error.message, /budget/);
  return true;
}

describe("the budget", () => {
  it("is half of vm.max_map_count, read once (or the default without /proc)", () => {
    let expected = DEFAULT_BUDGET;
    try {
      expected = Math.floor(Number(fs.readFileSync("/proc/sys/vm/max_map_count", "utf8")) / 2);
    } catch { /* no /proc: the default */ }
    assert.equal(mappingBudget(), expected);
    setMappingBudget(7);
    assert.equal(mappingBudget(), 7);
    setMappingBudget(null);
    assert.equal(mappingBudget(), expected);
    assert.throws(() => setMappingBudget(-1), RangeError);
  });

  it("counts each file, window and shared memory mapped, and gives each back on close", () => {
    const [a, b] = files("count", 2);
    fs.writeFileSync(b, new Uint8Array(8 * pageSize));
    const start = mappingsHeld();
    const whole = MappedFile.open(a);
    assert.equal(mappingsHeld(), start + 1);
    const windowed = MappedFile.open(b, { window: pageSize });
    assert.equal(mappingsHeld(), start + 2);
    const view = windowed.subarray(0, 10);
    windowed.getUint8(5 * pageSize); // views out: the internal copy window maps
    assert.equal(mappingsHeld(), start + 3);
    assert.equal(view.length, 10);
    const shared = SharedMemory.create({ path: path.join(directory, "count.shm"), size: pageSize });
    assert.equal(mappingsHeld(), start + 4);
    shared.close();
    windowed.close();
    whole.close();
    assert.equal(mappingsHeld(), start);
  });
});

describe("at the budget", () => {
  it("an open is MmapError ENOMEM before mmap, leaking nothing; closing one makes room", () => {
    const paths = files("open", 4);
    const start = mappingsHeld();
    setMappingBudget(start + 3);
    const held = paths.slice(0, 3).map((file) => MappedFile.open(file));
    const descriptors = openDescriptors();
    assert.throws(() => MappedFile.open(paths[3]), assertOverBudget);
    assert.deepEqual(newDescriptors(descriptors), []);
    assert.equal(mappingsHeld(), start + 3);
    held.pop()!.close();
    using fourth = MappedFile.open(paths[3]);
    assert.equal(new TextDecoder().decode(fourth.bytes), "file 3\n");
    for (const file of held) file.close();
  });

  it("a window that cannot slide throws ENOMEM and stays usable, views attached", () => {
    const file = path.join(directory, "window.bin");
    fs.writeFileSync(file, new Uint8Array(8 * pageSize).fill(3));
    using mapped = MappedFile.open(file, { window: pageSize });
    const view = mapped.subarray(0, 16);
    setMappingBudget(mappingsHeld());
    assert.throws(() => mapped.getUint8(6 * pageSize), assertOverBudget);
    assert.equal(view.length, 16);
    assert.equal(mapped.getUint8(1), 3);
    setMappingBudget(null);
    assert.equal(mapped.getUint8(6 * pageSize), 3);
  });

  it("the MemMapFS cache evicts idle entries first, so opens keep working", () => {
    const paths = files("cache", 30);
    const start = mappingsHeld();
    setMappingBudget(start + 5);
    const memfs = new MemMapFS({ cache: { maxFiles: 10_000, maxBytes: 2 ** 30 } });
    for (const file of paths) {
      using handle = memfs.open(file);
      assert.equal(handle.getUint8(0), "f".charCodeAt(0));
    }
    for (const file of paths) assert.equal(new TextDecoder().decode(memfs.readFile(file)).trim(), `file ${paths.indexOf(file)}`);
    assert.ok(memfs.cacheStats().evictions >= 25, `evicted ${memfs.cacheStats().evictions}`);
    assert.ok(mappingsHeld() <= start + 5);
    // Handles held: the cache cannot give their mappings back, so the next open is refused.
    const held: MappedFile[] = [];
    assert.throws(() => {
      for (const file of paths) held.push(memfs.open(file));
    }, assertOverBudget);
    assert.equal(held.length, 5);
    for (const handle of held) handle.close();
    memfs.close();
    assert.equal(mappingsHeld(), start);
  });
});

it("a child opening 3000 files through a MemMapFS whose cache allows them all gets ENOMEM at its budget of 1000 and lives on", { timeout: 60_000 }, () => {
  const dir = path.join(directory, "many");
  fs.mkdirSync(dir);
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(dir, `${i}.txt`), `${i}`);
  const child = runScript(`
import { MemMapFS } from "../mod.ts";
import { mappingsHeld, setMappingBudget } from "../src/mapping_budget.ts";
setMappingBudget(1000);
const memfs = new MemMapFS({ root: ${JSON.stringify(dir)}, cache: { maxFiles: 100000, maxBytes: 2 ** 40 } });
const handles = [];
let error;
try {
  for (let i = 0; i < 3000; i++) handles.push(memfs.open(i + ".txt"));
} catch (caught) {
  error = caught;
}
console.log("opened", handles.length, error?.constructor.name, error?.code, "held", mappingsHeld());
for (const handle of handles) handle.close();
memfs.close();
// Alive and well: every mapping given back, and new ones work.
const again = new MemMapFS({ root: ${JSON.stringify(dir)} });
console.log("after", mappingsHeld(), new TextDecoder().decode(again.readFile("2999.txt")));
`, { timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.signal, null);
  const lines = child.stdout.trim().split("\n");
  assert.equal(lines[0], "opened 1000 MmapError ENOMEM held 1000");
  assert.equal(lines[1], "after 0 2999");
});
