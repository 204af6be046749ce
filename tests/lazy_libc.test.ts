// Importing memmapfs binds nothing: Node prints no FFI ExperimentalWarning and
// Deno needs no permission until something is mapped; pageSize is known anyway.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { pageSize } from "../mod.ts";
import { runScript, runtime } from "./helpers.ts";

const quote = (part: string) => `'${part.replaceAll("'", "'\\''")}'`;

/** The runtime with no flags at all: no FFI switch, no permissions, no warnings hidden. */
const bareRuntime = runtime === "deno"
  ? `exec ${quote(process.execPath)} run --no-prompt`
  : `exec ${quote(process.execPath)}`;

describe("libc is bound on first use", () => {
  it("importing prints no warning and asks for no permission; pageSize is the real one", () => {
    const result = runScript(
      `import { pageSize } from "../mod.ts";\nconsole.log("imported", pageSize);\n`,
      { shellPrefix: bareRuntime, bare: true },
    );
    assert.equal(result.stderr, "", "nothing on stderr: no ExperimentalWarning, no permission error");
    assert.equal(result.stdout.trim(), `imported ${pageSize}`);
    assert.equal(result.status, 0);
  });

  it("the first mapping binds libc", () => {
    const result = runScript(
      `import { MappedFile } from "../mod.ts";\nconsole.log("imported");\n` +
        `using memory = MappedFile.anonymous(4096);\nmemory.setUint8(1, 42);\nconsole.log("mapped", memory.getUint8(1));\n`,
    );
    assert.equal(result.stdout, "imported\nmapped 42\n", result.stderr);
  });
});
