// One BlockFile opener at a time: create and open take flock(LOCK_EX |
// LOCK_NB) for the object's life. A second opener — a child process of the
// same runtime, or a second BlockFile in this process — is refused at once
// with BlockFileLockedError (code ELOCKED), writes nothing and leaks nothing.
// A failed create removes only the file it made, compared by identity.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BlockFile, BlockFileLockedError, MmapError } from "../mod.ts";
import { FaultyLibc, libc } from "../src/ffi/mod.ts";
import {
  makeDirectory, mappingsOf, newDescriptors, openDescriptors, removeDirectory, runScript, runtimeCommand, withLibc,
} from "./helpers.ts";

const directory = makeDirectory("memmapfs-blocks-lock-");
after(() => removeDirectory(directory));
let counter = 0;
const newPath = () => path.join(directory, `blocks-${counter++}.bf`);

/** The error `work` throws (assert.throws does not return it). */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}

/** A child that opens `file` as a BlockFile and reports how that went, as `<class> <code>`. */
const opener = (file: string) => `
import { BlockFile } from "../mod.ts";
try {
  const blocks = BlockFile.open(${JSON.stringify(file)});
  blocks.allocate();
  blocks.close();
  console.log("opened");
} catch (error) {
  console.log(error.constructor.name, error.code, error.syscall);
}
`;

/** A child that holds `file` open as a BlockFile until killed. */
function startHolder(file: string): Promise<{ stop(): Promise<void> }> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), `.child_${process.pid}_${counter++}.ts`);
  fs.writeFileSync(script, `
import { BlockFile } from "../mod.ts";
const blocks = BlockFile.open(${JSON.stringify(file)});
blocks.allocate();
blocks.sync();
console.log("ready");
setInterval(() => {}, 1000);
`);
  const [command, args] = runtimeCommand(script);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk) => stderr += chunk);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (!stdout.includes("ready\n")) return;
      resolve({
        async stop() {
          child.kill("SIGKILL");
          await closed;
          fs.rmSync(script, { force: true });
        },
      });
    });
    closed.then(() => {
      fs.rmSync(script, { force: true });
      reject(new Error(`the holder exited before it was ready: ${stdout}${stderr}`));
    });
  });
}

describe("a second process", () => {
  it("is refused with ELOCKED at once while this process holds the BlockFile, and writes nothing", () => {
    const file = newPath();
    using blocks = BlockFile.create(file);
    blocks.allocate();
    blocks.sync();
    const before = fs.readFileSync(file);
    const child = runScript(opener(file));
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "BlockFileLockedError ELOCKED flock");
    assert.deepEqual(fs.readFileSync(file), before, "the refused opener wrote nothing");
    assert.equal(blocks.stats().used, 1);
  });

  it("holding it refuses this process (error, no descriptor, no mapping left); its death releases the lock", { timeout: 60_000 }, async () => {
    const file = newPath();
    BlockFile.create(file).close();
    const holder = await startHolder(file);
    try {
      const before = fs.readFileSync(file);
      const descriptors = openDescriptors();
      const error = thrown(() => BlockFile.open(file)) as BlockFileLockedError;
      assert.ok(error instanceof BlockFileLockedError);
      assert.ok(error instanceof MmapError);
      assert.equal(error.code, "ELOCKED");
      assert.equal(error.syscall, "flock");
      assert.equal(error.path, file);
      assert.equal(libc().constants.errnoNames[error.errno], "EAGAIN");
      assert.match(error.message, /open as a BlockFile elsewhere/);
      assert.deepEqual(newDescriptors(descriptors), []);
      assert.deepEqual(mappingsOf(file), []);
      assert.deepEqual(fs.readFileSync(file), before);
    } finally {
      await holder.stop();
    }
    // SIGKILL closed the child's descriptor, and with it the lock.
    using blocks = BlockFile.open(file);
    assert.equal(blocks.stats().used, 1, "the holder's committed allocation is there");
  });

  it("opens it after the first one closed", () => {
    const file = newPath();
    BlockFile.create(file).close();
    const child = runScript(opener(file));
    assert.equal(child.stdout.trim(), "opened", child.stderr);
    using blocks = BlockFile.open(file);
    assert.equal(blocks.stats().used, 1);
  });
});

describe("in one process", () => {
  it("a second BlockFile on the same file is refused until the first closes", () => {
    const file = newPath();
    const first = BlockFile.create(file);
    assert.throws(() => BlockFile.open(file), { name: "BlockFileLockedError", code: "ELOCKED" });
    first.close();
    const second = BlockFile.open(file);
    assert.throws(() => BlockFile.open(file), { code: "ELOCKED" });
    second.remove();
  });

  it("a flock the file system refuses is an MmapError with its own code, nothing left behind", () => {
    const file = newPath();
    BlockFile.create(file).close();
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    faulty.fail("flock", { errno: 37 }); // ENOLCK, as NFS without lockd says
    withLibc(faulty, () => {
      const error = thrown(() => BlockFile.open(file)) as MmapError;
      assert.ok(error instanceof MmapError);
      assert.ok(!(error instanceof BlockFileLockedError));
      assert.equal(error.code, "ENOLCK");
    });
    assert.deepEqual(newDescriptors(descriptors), []);
    assert.deepEqual(mappingsOf(file), []);
  });
});

describe("create", () => {
  it("locks before it writes: refused create removes the file it made and leaks nothing", () => {
    const file = newPath();
    const descriptors = openDescriptors();
    const faulty = new FaultyLibc(libc());
    faulty.fail("flock", { errno: 11 });
    withLibc(faulty, () => assert.throws(() => BlockFile.create(file), { code: "ELOCKED" }));
    assert.equal(faulty.calls("posixFallocate") + faulty.calls("ftruncate"), 0, "nothing was sized before the lock");
    assert.equal(fs.existsSync(file), false);
    assert.deepEqual(newDescriptors(descriptors), []);
  });

  it("a failure after the path was replaced removes nothing that it did not create", () => {
    const file = newPath();
    const replacement = `${file}.theirs`;
    fs.writeFileSync(replacement, "someone else's file");
    // Between create's open and its cleanup, someone renames their file over the path.
    class Replacing extends FaultyLibc {
      override flock(fd: number, operation: number): number {
        fs.renameSync(replacement, file);
        return super.flock(fd, operation);
      }
    }
    const faulty = new Replacing(libc());
    faulty.fail("flock", { errno: 11 });
    withLibc(faulty, () => assert.throws(() => BlockFile.create(file), { code: "ELOCKED" }));
    assert.equal(fs.readFileSync(file, "utf8"), "someone else's file");
  });
});
