// The Windows platform (src/os/windows) on Bun for Windows, under Wine in the
// Windows leg: files, mappings at granularity-aligned offsets, growth by
// unmap + resize + map, durable sync, locks, errors under POSIX names, and
// named shared memory and a file mapped across two Windows processes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { MmapError } from "../mod.ts";
import { onWindows } from "../src/ffi/mod.ts";
import type { FileHandle, Platform, PlatformMapping } from "../src/os/platform.ts";
import { windowsPlatform, type WindowsPlatform } from "../src/os/windows/windows_platform.ts";
import { sections } from "../src/os/windows/windows_mapping.ts";
import { makeDirectory, pattern, removeDirectory, runScript } from "./helpers.ts";

const skip = !onWindows() && "Windows only (the Windows leg runs it under Wine)";

describe("the Windows platform", { skip }, () => {
  let os: WindowsPlatform;
  let directory: string;
  const files: FileHandle[] = [];
  const mappings: PlatformMapping[] = [];
  const file = (name: string) => path.join(directory, name);
  const open = (name: string, write = true, create = false): FileHandle => {
    const handle = os.openFile(file(name), { write, ...(create ? { create: "exclusive" as const } : {}) });
    files.push(handle);
    return handle;
  };
  const close = (handle: FileHandle) => {
    files.splice(files.indexOf(handle), 1);
    assert.equal(os.closeFile(handle, null), undefined);
  };
  const map = (request: Parameters<WindowsPlatform["map"]>[0]) => {
    const mapped = os.map(request);
    mappings.push(mapped);
    return mapped;
  };
  const unmap = (mapped: PlatformMapping) => {
    mappings.splice(mappings.indexOf(mapped), 1);
    assert.equal(os.unmap(mapped.address, mapped.length, null), undefined);
  };
  const bytesOf = (mapped: PlatformMapping) => new Uint8Array(os.arrayBuffer(mapped.address, mapped.length));
  const codeOf = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      assert.ok(error instanceof MmapError, String(error));
      return `${error.code} ${error.syscall}`;
    }
    assert.fail("expected an MmapError");
  };

  before(() => {
    os = windowsPlatform();
    directory = makeDirectory("memmapfs-winos-");
  });
  after(() => {
    for (const mapped of mappings) os.unmap(mapped.address, mapped.length, null);
    for (const handle of files) os.closeFile(handle, null);
    removeDirectory(directory);
  });

  it("says what it is: 4 KiB pages, 64 KiB granularity, FlushFileBuffers after a flush", () => {
    assert.equal(os.label, "windows-x64");
    assert.equal(os.pageSize, 4096);
    assert.equal(os.granularity, 65536);
    assert.equal(os.flushNeedsFileFlush, true);
    assert.equal(os.sharedMemorySizeFixedOnce, true);
    // Powers Windows does not have are absent, not stubbed.
    const seam: Platform = os;
    assert.equal(seam.remap, undefined);
    assert.equal(seam.unmapTail, undefined);
    assert.equal(seam.overlay, undefined);
    assert.equal(seam.unlinkSharedMemory, undefined);
    assert.equal(seam.createMemoryFile, undefined);
  });

  it("reports Windows errors under POSIX names, with the Windows code in errno", () => {
    assert.equal(codeOf(() => open("missing.bin", false)), "ENOENT CreateFileW");
    open("once.bin", true, true);
    assert.equal(codeOf(() => open("once.bin", true, true)), "EEXIST CreateFileW");
    fs.mkdirSync(file("folder"));
    assert.equal(codeOf(() => open("folder", true)), "EISDIR CreateFileW");
    assert.equal(codeOf(() => os.openFile(file("nul.txt"), { write: false })), "ENODEV CreateFileW");
    const enoent = os.error("ENOENT", "CreateFileW", "x");
    assert.equal(enoent.errno, 2);
    assert.equal(os.error("EBUSY", "SetEndOfFile", null).errno, 32);
    assert.equal(os.error("EISDIR", "CreateFileW", null).errno, 0, "no Windows code for it");
  });

  it("stats a handle and a path: size, kind, and the same identity for the same file", () => {
    const a = open("identity.bin", true, true);
    os.setSize(a, 12345, 0, null);
    const b = open("identity.bin", false);
    const [sa, sb] = [os.stat(a, null), os.stat(b, null)];
    assert.equal(sa.kind, "file");
    assert.equal(sa.size, 12345);
    assert.equal(sa.mode & 0o777, 0o666);
    assert.equal(sa.ino, sb.ino);
    assert.equal(sa.dev, sb.dev);
    assert.equal(os.statPath(file("identity.bin"))!.ino, sa.ino);
    assert.equal(os.statPath(directory)!.kind, "directory");
    assert.equal(os.statPath(file("nothing")), null);
    const other = open("other.bin", true, true);
    assert.notEqual(os.stat(other, null).ino, sa.ino);
  });

  it("maps any byte offset: the view starts at the 64 KiB boundary below it", () => {
    const handle = open("offset.bin", true, true);
    const content = pattern(200_000, 3);
    fs.writeFileSync(file("offset.bin"), content);
    const mapped = map({ file: handle, offset: 70_000, length: 1000, access: "read", shared: true, label: null });
    assert.equal(mapped.address % 65536n, 0n);
    assert.equal(mapped.delta, 70_000 - 65536);
    assert.equal(mapped.length, mapped.delta + 1000);
    assert.deepEqual(bytesOf(mapped).subarray(mapped.delta), content.subarray(70_000, 71_000));
    unmap(mapped);
  });

  it("writes through a shared view; flush then flushFile makes them the file's bytes", () => {
    const handle = open("write.bin", true, true);
    os.setSize(handle, 100_000, 0, "write.bin");
    const mapped = map({ file: handle, offset: 65536 + 10, length: 100, access: "write", shared: true, label: null });
    bytesOf(mapped).set([7, 8, 9], mapped.delta);
    os.flush(mapped.address, mapped.length, false, null);
    os.flushFile(handle, null);
    const back = new Uint8Array(3);
    assert.equal(os.readAt(handle, back, 65536 + 10, null), 3);
    assert.deepEqual([...back], [7, 8, 9]);
    assert.deepEqual([...fs.readFileSync(file("write.bin")).subarray(65546, 65549)], [7, 8, 9]);
    unmap(mapped);
  });

  it("keeps copy-on-write and absorbing views' writes out of the file", () => {
    const handle = open("private.bin", true, true);
    fs.writeFileSync(file("private.bin"), pattern(4096));
    const copy = map({ file: handle, offset: 0, length: 4096, access: "copy", shared: false, label: null });
    bytesOf(copy)[0] = 250;
    const readOnly = open("private.bin", false);
    const absorbing = map({ file: readOnly, offset: 0, length: 4096, access: "read", shared: true, absorbWrites: true, label: null });
    assert.equal(absorbing.absorbing, true);
    bytesOf(absorbing)[1] = 251;
    assert.deepEqual(fs.readFileSync(file("private.bin")), Buffer.from(pattern(4096)));
    unmap(copy);
    unmap(absorbing);
  });

  it("grows by unmap, resize, map; refuses to cut a file under a view (EBUSY) and cuts it after", () => {
    const handle = open("grow.bin", true, true);
    os.setSize(handle, 65536, 0, null);
    let mapped = map({ file: handle, offset: 0, length: 65536, access: "write", shared: true, label: null });
    bytesOf(mapped)[65535] = 42;
    assert.equal(codeOf(() => os.setSize(handle, 4096, 65536, "grow.bin")), "EBUSY SetEndOfFile");
    assert.equal(os.stat(handle, null).size, 65536, "the failed cut left the size");
    unmap(mapped);
    os.setSize(handle, 3 * 65536, 65536, null);
    mapped = map({ file: handle, offset: 0, length: 3 * 65536, access: "write", shared: true, label: null });
    const view = bytesOf(mapped);
    assert.equal(view[65535], 42, "old bytes kept");
    assert.equal(view[3 * 65536 - 1], 0, "new bytes zero");
    view[3 * 65536 - 1] = 43;
    unmap(mapped);
    os.truncateFile(handle, 100, null);
    assert.equal(os.stat(handle, null).size, 100);
  });

  it("maps zero-filled memory from the paging file, locks it, protects it, and advises it", () => {
    const mapped = map({ file: null, offset: 0, length: 1 << 20, access: "write", shared: false, populate: true, label: null });
    const view = bytesOf(mapped);
    assert.equal(view[12345], 0);
    view[12345] = 1;
    os.lock(mapped.address, 65536, null);
    os.unlock(mapped.address, 65536, null);
    os.unlock(mapped.address, 65536, null); // not locked any more: fine, as munlock is
    os.protect(mapped.address, 4096, "read", null);
    os.protect(mapped.address, 4096, "write", null);
    view[0] = 2;
    for (const advice of ["normal", "random", "sequential", "willneed", "populate-read", "dontneed"] as const) {
      assert.ok(os.adviceKnown(advice));
      os.advise(mapped.address, 65536, advice, null);
    }
    assert.equal(view[12345], 1, "dontneed keeps the bytes of memory (it only trims the working set)");
    assert.equal(os.adviceKnown("free"), false);
    assert.equal(codeOf(() => os.advise(mapped.address, 4096, "free", null)), 'EINVAL advise "free"');
    assert.equal(codeOf(() => os.advise(mapped.address, 4096, "hugepage", null)), 'EINVAL advise "hugepage"');
    unmap(mapped);
  });

  it("counts resident pages (QueryWorkingSetEx): none of a fresh view, all after populate", () => {
    assert.ok(os.resident, "K32QueryWorkingSetEx is bound");
    fs.writeFileSync(file("resident.bin"), pattern(64 * 4096));
    const handle = open("resident.bin", false);
    const cold = map({ file: handle, offset: 0, length: 64 * 4096, access: "read", shared: true, label: null });
    assert.deepEqual(os.resident(cold.address, cold.length, null), { pages: 64, resident: 0 });
    os.prefetch(cold.address, 16 * 4096);
    assert.deepEqual(os.resident(cold.address, cold.length, null), { pages: 64, resident: 16 });
    const warm = map({ file: handle, offset: 0, length: 64 * 4096, access: "read", shared: true, populate: true, label: null });
    assert.deepEqual(os.resident(warm.address, warm.length, null), { pages: 64, resident: 64 });
    unmap(cold);
    unmap(warm);
  });

  it("locks a file exclusively against other handles without blocking their reads", () => {
    const a = open("locked.bin", true, true);
    fs.writeFileSync(file("locked.bin"), "data");
    const b = open("locked.bin", true);
    assert.equal(os.tryLockFile(a, null), true);
    assert.equal(os.tryLockFile(b, null), false);
    const read = new Uint8Array(4);
    assert.equal(os.readAt(b, read, 0, null), 4, "the lock byte lies past the data");
    close(a);
    assert.equal(os.tryLockFile(b, null), true, "the lock goes with its handle");
  });

  it("removes a file another handle holds once that handle closes", () => {
    const handle = open("removed.bin", true, true);
    assert.equal(os.removeFile(file("removed.bin")), undefined);
    close(handle);
    assert.equal(fs.existsSync(file("removed.bin")), false);
    assert.equal(os.removeFile(file("removed.bin"))?.code, "ENOENT");
  });

  it("duplicates a handle for a worker of this process", () => {
    const handle = open("dup.bin", true, true);
    const copy = os.reopenInProcess!(handle, true)!;
    files.push(copy);
    assert.notEqual(copy, handle);
    assert.equal(os.stat(copy, null).ino, os.stat(handle, null).ino);
  });

  it("creates named shared memory, opens it by name, refuses an exclusive second create", () => {
    const name = `wnsm_test_${process.pid}`;
    const created = os.openSharedMemory!(name, { create: true, exclusive: true, readonly: false, permissions: 0o600, size: 10_000 });
    files.push(created.file);
    assert.equal(created.created, true);
    assert.equal(os.stat(created.file, null).size, 10_000);
    assert.equal(
      codeOf(() => os.openSharedMemory!(name, { create: true, exclusive: true, readonly: false, permissions: 0o600, size: 10_000 })),
      "EEXIST CreateFileMappingW",
    );
    const opened = os.openSharedMemory!(name, { create: false, exclusive: false, readonly: true, permissions: 0 });
    files.push(opened.file);
    assert.equal(opened.created, false);
    assert.equal(os.stat(opened.file, null).size, 12_288, "an opener sees the page-rounded size, as Python's does");
    const writer = map({ file: created.file, offset: 0, length: 10_000, access: "write", shared: true, label: name });
    const reader = map({ file: opened.file, offset: 0, length: 10_000, access: "read", shared: true, label: name });
    bytesOf(writer)[9999] = 99;
    assert.equal(bytesOf(reader)[9999], 99);
    os.flush(writer.address, writer.length, false, name);
    os.flushFile(created.file, name);
    unmap(writer);
    unmap(reader);
    close(created.file);
    close(opened.file);
    assert.equal(
      codeOf(() => os.openSharedMemory!(name, { create: false, exclusive: false, readonly: true, permissions: 0 })),
      "ENOENT OpenFileMappingW",
    );
  });

  it("knows a shared memory handle another realm opened (a worker's), by what Windows says of it", () => {
    const name = `wnsm_realm_${process.pid}`;
    const region = os.openSharedMemory!(name, { create: true, exclusive: true, readonly: false, permissions: 0o600, size: 8192 });
    files.push(region.file);
    const copy = os.reopenInProcess!(region.file, true)!;
    files.push(copy);
    // As a worker sees it: a handle value and nothing registered.
    sections.delete(copy);
    assert.equal(os.stat(copy, null).size, 8192);
    const mapped = map({ file: copy, offset: 0, length: 8192, access: "write", shared: true, label: name });
    bytesOf(mapped)[8191] = 1;
    unmap(mapped);
    assert.equal(os.stat(open("identity.bin", false), null).kind, "file", "a file is never taken for one");
  });

  it("shares named memory with a second Windows process", () => {
    const name = `wnsm_cross_${process.pid}`;
    const region = os.openSharedMemory!(name, { create: true, exclusive: true, readonly: false, permissions: 0o600, size: 4096 });
    files.push(region.file);
    const mapped = map({ file: region.file, offset: 0, length: 4096, access: "write", shared: true, label: name });
    bytesOf(mapped).set([1, 2, 3]);
    const child = runScript(`
      import { windowsPlatform } from "./../src/os/windows/windows_platform.ts";
      const os = windowsPlatform();
      const region = os.openSharedMemory(${JSON.stringify(name)}, { create: false, exclusive: false, readonly: false, permissions: 0 });
      const mapped = os.map({ file: region.file, offset: 0, length: 4096, access: "write", shared: true, label: null });
      const bytes = new Uint8Array(os.arrayBuffer(mapped.address, mapped.length));
      console.log(bytes[0] + bytes[1] + bytes[2]);
      bytes[100] = 77;
      os.unmap(mapped.address, mapped.length, null);
      os.closeFile(region.file, null);
    `);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "6", "the child read what this process wrote");
    assert.equal(bytesOf(mapped)[100], 77, "and this process sees what the child wrote");
    unmap(mapped);
  });

  it("maps one file in two Windows processes: each sees the other's writes", () => {
    const handle = open("both.bin", true, true);
    os.setSize(handle, 65536, 0, null);
    const mapped = map({ file: handle, offset: 0, length: 65536, access: "write", shared: true, label: null });
    bytesOf(mapped)[500] = 5;
    const child = runScript(`
      import { windowsPlatform } from "./../src/os/windows/windows_platform.ts";
      const os = windowsPlatform();
      const file = os.openFile(${JSON.stringify(file("both.bin"))}, { write: true });
      const mapped = os.map({ file, offset: 0, length: 65536, access: "write", shared: true, label: null });
      const bytes = new Uint8Array(os.arrayBuffer(mapped.address, mapped.length));
      console.log(bytes[500]);
      bytes[600] = 6;
      os.unmap(mapped.address, mapped.length, null);
      os.closeFile(file, null);
    `);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), "5");
    assert.equal(bytesOf(mapped)[600], 6);
    unmap(mapped);
  });

  it("knows which processes run", () => {
    assert.equal(os.processExists(process.pid), true);
    assert.equal(os.processExists(0x7fff_fff0), false);
  });
});
