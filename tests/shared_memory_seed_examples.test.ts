// Seed 000's SharedMemory examples (ExampleSharedMemory_basic, _ipc, _cleanup
// in absfs/memmapfs example_test.go), ported line by line to this API, each
// printing exactly the seed's `// Output:`. Go's CreateSharedMemory{Path},
// OpenSharedMemory(path, false), Data(), Size(), Sync(), Remove() are
// create({ path }), open(path, { readonly: true }), bytes, size, sync(),
// close() + unlink(). Then the same programs by name and across processes.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SharedMemory } from "../mod.ts";
import { runScript } from "./helpers.ts";
import { removeTracked, shmExists, uniqueName } from "./shared_memory_helpers.ts";

after(removeTracked);

/** Runs an example, collecting what it prints. */
function example(body: (print: (line: string) => void) => void): string[] {
  const lines: string[] = [];
  body((line) => lines.push(line));
  return lines;
}

describe("seed 000 SharedMemory examples", () => {
  it("SharedMemory (Basic)", () => {
    const output = example((print) => {
      const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-example"));
      try {
        const sharedPath = path.join(tmpDir, "shared.dat");
        // Create shared memory region
        using sm = SharedMemory.create({ path: sharedPath, size: 1024, permissions: 0o644 });
        // Write data to shared memory
        new TextEncoder().encodeInto("Hello from process A", sm.bytes);
        // Sync to ensure data is visible
        sm.sync();
        // Another process could now open and read this data
        print(`Created shared memory with size ${sm.size} bytes`);
      } finally {
        fs.rmSync(tmpDir, { recursive: true, force: true });
      }
    });
    assert.deepEqual(output, ["Created shared memory with size 1024 bytes"]);
  });

  it("SharedMemory (Ipc)", () => {
    const output = example((print) => {
      const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-example"));
      try {
        const sharedPath = path.join(tmpDir, "ipc.dat");
        // Process A: Create and write
        const writer = SharedMemory.create({ path: sharedPath, size: 4096 });
        const message = new TextEncoder().encode("Message from process A");
        writer.bytes.set(message);
        writer.sync();
        writer.close();
        // Process B: Open and read
        const reader = SharedMemory.open(sharedPath, { readonly: true });
        const received = reader.bytes.slice(0, message.length);
        print(`Received: ${new TextDecoder().decode(received)}`);
        reader.close();
      } finally {
        fs.rmSync(tmpDir, { recursive: true, force: true });
      }
    });
    assert.deepEqual(output, ["Received: Message from process A"]);
  });

  it("SharedMemory (Cleanup)", () => {
    const output = example((print) => {
      const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-example"));
      try {
        const sharedPath = path.join(tmpDir, "temp.dat");
        const sm = SharedMemory.create({ path: sharedPath, size: 1024 });
        // Use shared memory...
        new TextEncoder().encodeInto("temporary data", sm.bytes);
        // Clean up: close and remove
        sm.close();
        sm.unlink();
        // Verify file is gone
        if (!fs.existsSync(sharedPath)) print("Shared memory cleaned up successfully");
      } finally {
        fs.rmSync(tmpDir, { recursive: true, force: true });
      }
    });
    assert.deepEqual(output, ["Shared memory cleaned up successfully"]);
  });
});

describe("the seed's examples by name and with real processes", () => {
  it("Basic by name: a POSIX shared-memory object instead of a file", () => {
    const name = uniqueName("seed");
    using sm = SharedMemory.create({ name, size: 1024 });
    new TextEncoder().encodeInto("Hello from process A", sm.bytes);
    sm.sync();
    assert.equal(`Created shared memory with size ${sm.size} bytes`, "Created shared memory with size 1024 bytes");
    sm.unlink();
  });

  it("Ipc with process A and process B as two child processes", () => {
    const name = uniqueName("seed");
    const script = (body: string) => `import { SharedMemory } from "../mod.ts";\n${body}`;
    const a = runScript(script(`
      const writer = SharedMemory.create({ name: ${JSON.stringify(name)}, size: 4096 });
      writer.bytes.set(new TextEncoder().encode("Message from process A"));
      writer.close();
    `));
    assert.equal(a.status, 0, a.stderr);
    const b = runScript(script(`
      const reader = SharedMemory.open(${JSON.stringify(name)}, { readonly: true });
      const received = reader.bytes.slice(0, "Message from process A".length);
      console.log("Received: " + new TextDecoder().decode(received));
      reader.close();
      reader.unlink();
    `));
    assert.equal(b.status, 0, b.stderr);
    assert.equal(b.stdout, "Received: Message from process A\n");
    assert.equal(shmExists(name), false, "process B removed it");
  });

  it("Cleanup by name: close and unlink remove /dev/shm/<name>", () => {
    const name = uniqueName("seed");
    const sm = SharedMemory.create({ name, size: 1024 });
    new TextEncoder().encodeInto("temporary data", sm.bytes);
    sm.close();
    sm.unlink();
    assert.equal(shmExists(name), false);
    assert.throws(() => SharedMemory.open(name), { code: "ENOENT" });
  });
});
