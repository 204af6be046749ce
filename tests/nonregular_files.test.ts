// A FIFO, a socket or a device where a regular file is expected: any user can
// mkfifo in /dev/shm or plant one in a served directory. Every entry point
// must refuse it with a clear MmapError at once — never wait for a writer,
// never read a device forever — and leak no descriptor. Each kind runs in a
// child process with a time limit, so a hang fails the test instead of
// hanging the suite.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { makeDirectory, removeDirectory, runScript } from "./helpers.ts";

/** Every entry point that opens an existing file, and how it refuses `target`. */
function childScript(target: string, shmName: string | null): string {
  return `
    import * as fs from "node:fs";
    import { BlockFile, MappedFile, MemMapFS, SharedMemory } from "../mod.ts";
    const target = ${JSON.stringify(target)};
    const shmName = ${JSON.stringify(shmName)};
    // What a runtime opens once for itself is not a leak: Node opens
    // /dev/null when it first writes to a piped stdout.
    console.log("start");
    const descriptors = () => fs.readdirSync("/proc/self/fd").map((fd) => {
      try { return fd + " " + fs.readlinkSync("/proc/self/fd/" + fd); } catch { return ""; }
    }).filter(Boolean); // the listing's own descriptor is gone by the time it is read
    const fdsBefore = descriptors();
    const memfs = new MemMapFS();
    const cases = {
      "MappedFile.open": () => MappedFile.open(target),
      "MappedFile.open readwrite": () => MappedFile.open(target, { mode: "readwrite" }),
      "MappedFile.open create": () => MappedFile.open(target, { mode: "readwrite", create: true, size: 4096 }),
      "MemMapFS.open": () => memfs.open(target),
      "MemMapFS.open uncached": () => memfs.open(target, { checked: true }),
      "MemMapFS.openFile r+": () => memfs.openFile(target, "r+"),
      "MemMapFS.openFile a": () => memfs.openFile(target, "a"),
      "MemMapFS.readFile": () => memfs.readFile(target),
      "MemMapFS.readFile again": () => memfs.readFile(target),
      "SharedMemory.open path": () => SharedMemory.open(target),
      "SharedMemory.open path readonly": () => SharedMemory.open(target, { readonly: true }),
      "SharedMemory.create path": () => SharedMemory.create({ path: target, size: 4096, exclusive: false }),
      "BlockFile.open": () => BlockFile.open(target),
      ...(shmName === null ? {} : {
        "SharedMemory.open name": () => SharedMemory.open(shmName),
        "SharedMemory.open name readonly": () => SharedMemory.open(shmName, { readonly: true }),
        "SharedMemory.create name": () => SharedMemory.create({ name: shmName, size: 4096, exclusive: false }),
      }),
    };
    for (const [label, open] of Object.entries(cases)) {
      try {
        open();
        console.log(label + ": opened");
      } catch (error) {
        console.log(label + ": " + error.name + " " + error.code);
      }
    }
    console.log("leaked descriptors: " + JSON.stringify(descriptors().filter((fd) => !fdsBefore.includes(fd))));
  `;
}

/** Runs the entry points against `target` in a child that may not take longer than 60 s. */
function refusals(target: string, shmName: string | null = null): Map<string, string> {
  const result = runScript(childScript(target, shmName), { timeout: 60_000 });
  assert.equal(result.signal, null, `the child hung and was killed; it got as far as:\n${result.stdout}`);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split("\n").slice(1);
  assert.equal(lines.at(-1), "leaked descriptors: []");
  return new Map(lines.slice(0, -1).map((line) => {
    const colon = line.lastIndexOf(": ");
    return [line.slice(0, colon), line.slice(colon + 2)];
  }));
}

function assertAllRefused(outcomes: Map<string, string>, expected: (label: string) => RegExp): void {
  assert.ok(outcomes.size >= 13, `every entry point ran: ${[...outcomes.keys()].join(", ")}`);
  for (const [label, outcome] of outcomes) assert.match(outcome, expected(label), label);
}

let directory: string;
before(() => {
  directory = makeDirectory();
});
after(() => removeDirectory(directory));

describe("a FIFO where a file is expected", () => {
  it("is refused with ENODEV by every entry point, in /dev/shm and in a directory, without waiting for a writer", () => {
    const name = `psm_fifo_${process.pid}_${Math.random().toString(36).slice(2)}`;
    const inShm = path.join("/dev/shm", name);
    execFileSync("mkfifo", [inShm]);
    try {
      assertAllRefused(refusals(inShm, name), () => /^MmapError ENODEV$/);
    } finally {
      fs.rmSync(inShm, { force: true });
    }
    const planted = path.join(directory, "planted.fifo");
    execFileSync("mkfifo", [planted]);
    assertAllRefused(refusals(planted), () => /^MmapError ENODEV$/);
    assert.ok(fs.statSync(planted).isFIFO(), "the FIFO is left as it was");
  });
});

describe("devices and sockets where a file is expected", () => {
  it("a character device (/dev/zero, /dev/null) is refused with ENODEV, never read forever", () => {
    assertAllRefused(refusals("/dev/zero"), () => /^MmapError ENODEV$/);
    assertAllRefused(refusals("/dev/null"), () => /^MmapError ENODEV$/);
  });

  it("a block device is refused with ENODEV", (context) => {
    const device = path.join(directory, "block.dev");
    try {
      execFileSync("mknod", [device, "b", "7", "0"], { stdio: "ignore" });
    } catch {
      context.skip("mknod of a block device is not permitted here");
      return;
    }
    assertAllRefused(refusals(device), () => /^MmapError ENODEV$/);
  });

  it("a socket is refused (ENXIO from open, ENODEV for anything that opens it)", () => {
    const socketPath = path.join(directory, "planted.sock");
    execFileSync("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socketPath]);
    assert.ok(fs.statSync(socketPath).isSocket());
    assertAllRefused(refusals(socketPath), () => /^MmapError (ENXIO|ENODEV)$/);
  });
});
