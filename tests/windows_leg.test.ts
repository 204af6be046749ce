// The Windows leg itself (scripts/windows.mjs): what it leaves out and why,
// checked everywhere; and, under Wine, that the leg runs what it claims to.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { WINDOWS_LEFT_OUT, windowsSuite, winePath } from "../scripts/windows.mjs";
import { runtime, runScript } from "./helpers.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const onWindows = process.platform === "win32";

describe("the Windows leg's list", () => {
  it("leaves out only test files that exist, each with a reason", () => {
    const files = new Set(fs.readdirSync(here));
    for (const [name, reason] of Object.entries(WINDOWS_LEFT_OUT)) {
      assert.ok(files.has(name), `${name} is a test file`);
      assert.equal(typeof reason, "string");
      assert.ok((reason as string).length > 20, `${name} has a reason worth reading`);
    }
  });

  it("keeps its own tests and the Windows ones in the leg", () => {
    const suite = fs.readdirSync(here).filter((name) => name.endsWith(".test.ts")).map((name) => `tests/${name}`);
    const kept = windowsSuite(suite);
    assert.ok(kept.includes("tests/windows_leg.test.ts"));
    for (const file of suite.filter((file) => /\/windows_|kernel32/.test(file))) assert.ok(kept.includes(file), file);
    assert.equal(kept.length + Object.keys(WINDOWS_LEFT_OUT).length, suite.length);
  });

  it("shows Linux paths as Wine's drive Z: does", () => {
    assert.equal(winePath("/work/a b/c.ts"), "Z:\\work\\a b\\c.ts");
  });
});

describe("under Wine", { skip: !onWindows && "runs in the Windows leg only" }, () => {
  it("is Bun for Windows on x64", () => {
    assert.equal(runtime, "bun");
    assert.equal(process.platform, "win32");
    assert.equal(process.arch, "x64");
  });

  it("draws random bytes through the ProcessPrng stub (RtlGenRandom), not zeros", () => {
    const a = crypto.getRandomValues(new Uint8Array(64));
    const b = crypto.getRandomValues(new Uint8Array(64));
    assert.ok(a.some((byte) => byte !== 0));
    assert.notDeepEqual(a, b);
  });

  it("sees this checkout through drive Z:", () => {
    assert.match(here, /^Z:\\/);
    assert.ok(fs.existsSync(path.join(here, "..", "package.json")));
  });

  it("starts a second Windows Bun process (the cross-process tests need one)", () => {
    const child = runScript(`console.log(process.platform, process.pid);`);
    assert.equal(child.status, 0, child.stderr);
    const [platform, pid] = child.stdout.trim().split(" ");
    assert.equal(platform, "win32");
    assert.notEqual(Number(pid), process.pid);
  });
});
