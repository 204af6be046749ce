// What the runtime offers: loading without FFI, the page size, and which
// madvise advice the kernel takes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MappedFile, MmapError, pageSize } from "../mod.ts";
import type { Advice } from "../mod.ts";
import { runScript, runtime } from "./helpers.ts";

const ADVICE: Advice[] = [
  "normal", "random", "sequential", "willneed", "dontneed", "free", "remove", "hugepage",
  "nohugepage", "populate-read", "populate-write", "cold", "pageout", "dontfork", "dofork",
  "mergeable", "unmergeable",
];

describe("without FFI", () => {
  it("importing works and the first call says what is needed", (t) => {
    if (runtime === "bun") {
      t.skip("Bun always has bun:ffi; there is no way to turn it off");
      return;
    }
    const source = `
      import { MappedFile, UnsupportedRuntimeError, pageSize } from "../mod.ts";
      console.log("imported", pageSize > 0);
      try {
        MappedFile.anonymous(16);
      } catch (error) {
        console.log(error instanceof UnsupportedRuntimeError, error.message);
      }
    `;
    const shellPrefix = runtime === "deno"
      ? `exec '${process.execPath}' run --allow-read --allow-env`
      : `exec '${process.execPath}' --no-experimental-ffi --no-warnings`;
    const result = runScript(source, { shellPrefix, bare: true });
    assert.equal(result.status, 0, result.stderr);
    const [imported, error] = result.stdout.trim().split("\n");
    assert.equal(imported, "imported true");
    assert.match(error, runtime === "deno" ? /^true .*--allow-ffi/ : /^true .*--experimental-ffi/);
  });
});

describe("platform facts", () => {
  it("pageSize is a power of two of at least 4 KiB", () => {
    assert.ok(pageSize >= 4096);
    assert.equal(pageSize & (pageSize - 1), 0);
  });
});

describe("advice", () => {
  for (const advice of ADVICE) {
    it(`"${advice}" works where the kernel supports it and is an MmapError where not`, () => {
      const supported = MappedFile.supportsAdvice(advice);
      using memory = MappedFile.anonymous(16 * pageSize);
      memory.bytes.fill(1);
      try {
        memory.advise(advice, pageSize, 4 * pageSize);
        assert.ok(supported, `advise("${advice}") worked, so supportsAdvice must say so`);
      } catch (error) {
        assert.ok(error instanceof MmapError, `${error}`);
        assert.equal(error.syscall, "madvise");
        // A supported advice may still be refused by this kind of mapping
        // (for example "remove" needs shared memory): EINVAL says so.
        if (supported) assert.equal(error.code, "EINVAL");
      }
    });
  }

  it("the common advice all work on shared memory", () => {
    using memory = MappedFile.anonymous(4 * pageSize, { shared: true });
    for (const advice of ["normal", "random", "sequential", "willneed", "dontneed"] as const) {
      assert.equal(MappedFile.supportsAdvice(advice), true);
      memory.advise(advice);
    }
  });
});
