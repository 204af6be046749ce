// kernel32 through Bun's FFI on Windows (the Windows leg, under Wine): the
// calls the Windows back-end is built on do what kernel32.ts says, and a
// failure's GetLastError is read before anything overwrites it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { INVALID_HANDLE_VALUE, WINDOWS_X64 as W } from "../src/ffi/constants.ts";
import { type Kernel32, windowsError } from "../src/ffi/kernel32.ts";
import { kernel32, onWindows } from "../src/ffi/mod.ts";
import { makeDirectory, removeDirectory } from "./helpers.ts";

const SHARE_ALL = W.FILE_SHARE_READ | W.FILE_SHARE_WRITE | W.FILE_SHARE_DELETE;
const READ_WRITE = W.GENERIC_READ | W.GENERIC_WRITE;

describe("kernel32 on Windows", { skip: !onWindows() && "Windows only (the Windows leg runs it under Wine)" }, () => {
  let k: Kernel32;
  let directory: string;
  const open: bigint[] = [];
  const create = (name: string, disposition = W.CREATE_ALWAYS) => {
    const handle = k.createFile(path.join(directory, name), READ_WRITE, SHARE_ALL, disposition, W.FILE_ATTRIBUTE_NORMAL);
    assert.notEqual(handle, INVALID_HANDLE_VALUE, `CreateFileW ${name}: error ${k.lastError}`);
    open.push(handle);
    return handle;
  };

  before(() => {
    k = kernel32();
    directory = makeDirectory("memmapfs-k32-");
  });
  after(() => {
    for (const handle of open) k.closeHandle(handle);
    removeDirectory(directory);
  });

  it("reports the page size and the 64 KiB allocation granularity", () => {
    const info = k.systemInfo();
    assert.equal(info.pageSize, W.defaultPageSize);
    assert.equal(info.allocationGranularity, W.defaultGranularity);
    assert.ok(info.processors >= 1);
    assert.equal(k.currentProcessId(), process.pid);
    assert.equal(k.runtime, "bun");
  });

  it("reads GetLastError right after a failing call: a missing file is ENOENT", () => {
    const handle = k.createFile(path.join(directory, "missing", "file"), W.GENERIC_READ, SHARE_ALL, W.OPEN_EXISTING, 0);
    assert.equal(handle, INVALID_HANDLE_VALUE);
    assert.equal(k.lastError, 3); // ERROR_PATH_NOT_FOUND
    assert.equal(windowsError(W, k.lastError, "CreateFileW").code, "ENOENT");
    assert.equal(k.createFile(path.join(directory, "nope"), W.GENERIC_READ, SHARE_ALL, W.OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert.equal(k.lastError, 2); // ERROR_FILE_NOT_FOUND
  });

  it("creates exclusively: a second CREATE_NEW is EEXIST", () => {
    create("exclusive.bin", W.CREATE_NEW);
    const again = k.createFile(path.join(directory, "exclusive.bin"), READ_WRITE, SHARE_ALL, W.CREATE_NEW, 0);
    assert.equal(again, INVALID_HANDLE_VALUE);
    assert.equal(W.errorNames[k.lastError], "EEXIST");
  });

  it("sizes a file, describes it by handle and by path, and names it", () => {
    const file = create("sized.bin");
    assert.equal(k.fileSize(file), 0);
    assert.ok(k.setFileSize(file, 200_000));
    assert.equal(k.fileSize(file), 200_000);
    assert.equal(fs.statSync(path.join(directory, "sized.bin")).size, 200_000);
    const info = k.fileInformation(file)!;
    assert.equal(info.size, 200_000);
    assert.equal(info.links, 1);
    assert.equal(info.attributes & W.FILE_ATTRIBUTE_DIRECTORY, 0);
    const seconds = Number(info.lastWriteTimeNs / 1_000_000_000n);
    assert.ok(Math.abs(seconds - Date.now() / 1000) < 3600, "FILETIME converted to the Unix epoch");
    const standard = k.standardInformation(file)!;
    assert.equal(standard.endOfFile, 200_000);
    assert.equal(standard.directory, false);
    assert.equal(k.pathAttributes(path.join(directory, "sized.bin"))!.size, 200_000);
    assert.ok(k.pathAttributes(directory)!.attributes & W.FILE_ATTRIBUTE_DIRECTORY);
    assert.match(k.finalPath(file)!, /sized\.bin$/);
    // Another handle to the same file has the same identity.
    const second = create("sized.bin", W.OPEN_EXISTING);
    const other = k.fileInformation(second)!;
    assert.equal(other.fileIndex, info.fileIndex);
    assert.equal(other.volumeSerialNumber, info.volumeSerialNumber);
  });

  it("maps a file at a granularity-aligned offset; writes reach the file after FlushViewOfFile and FlushFileBuffers", () => {
    const file = create("mapped.bin");
    assert.ok(k.setFileSize(file, 3 * 65536));
    const mapping = k.createFileMapping(file, W.PAGE_READWRITE, 0, null);
    assert.notEqual(mapping, 0n, `CreateFileMappingW: ${k.lastError}`);
    const view = k.mapView(mapping, W.FILE_MAP_WRITE, 65536, 65536 + 100);
    assert.notEqual(view, 0n, `MapViewOfFileEx: ${k.lastError}`);
    assert.equal(view % 65536n, 0n);
    // The mapping object may go at once: the view holds it.
    assert.ok(k.closeHandle(mapping));
    const bytes = new Uint8Array(k.arrayBuffer(view, 65536 + 100));
    bytes.set([1, 2, 3], 0);
    bytes[65536 + 99] = 9;
    assert.ok(k.flushView(view, bytes.length));
    assert.ok(k.flushFileBuffers(file));
    const back = new Uint8Array(4);
    assert.equal(k.readAt(file, back, 65536), 4);
    assert.deepEqual([...back], [1, 2, 3, 0]);
    assert.equal(fs.readFileSync(path.join(directory, "mapped.bin"))[2 * 65536 + 99], 9);
    // A view's offset off the granularity is refused.
    const misaligned = k.createFileMapping(file, W.PAGE_READONLY, 0, null);
    assert.equal(k.mapView(misaligned, W.FILE_MAP_READ, 4096, 100), 0n);
    assert.equal(k.lastError, 1132, "ERROR_MAPPED_ALIGNMENT");
    assert.equal(W.errorNames[k.lastError], "EINVAL");
    k.closeHandle(misaligned);
    assert.ok(k.unmapView(view));
    assert.equal(k.unmapView(view), false);
    assert.equal(W.errorNames[k.lastError], "EINVAL");
  });

  it("refuses to cut a file under a view (ERROR_USER_MAPPED_FILE, EBUSY) and cuts it once the view is gone", () => {
    const file = create("cut.bin");
    assert.ok(k.setFileSize(file, 65536));
    const mapping = k.createFileMapping(file, W.PAGE_READWRITE, 0, null);
    const view = k.mapView(mapping, W.FILE_MAP_WRITE, 0, 65536);
    k.closeHandle(mapping);
    assert.equal(k.setFileSize(file, 100), false);
    assert.equal(k.lastError, 1224);
    assert.equal(W.errorNames[k.lastError], "EBUSY");
    assert.equal(k.fileSize(file), 65536);
    assert.ok(k.unmapView(view));
    assert.ok(k.setFileSize(file, 100));
    assert.equal(k.fileSize(file), 100);
  });

  it("maps anonymous memory from the paging file, copy-on-write views, locks and protects pages", () => {
    const mapping = k.createFileMapping(INVALID_HANDLE_VALUE, W.PAGE_READWRITE, 1 << 20, null);
    assert.notEqual(mapping, 0n);
    const a = k.mapView(mapping, W.FILE_MAP_WRITE, 0, 1 << 20);
    const b = k.mapView(mapping, W.FILE_MAP_COPY, 0, 1 << 20);
    k.closeHandle(mapping);
    const viewA = new Uint8Array(k.arrayBuffer(a, 1 << 20));
    const viewB = new Uint8Array(k.arrayBuffer(b, 1 << 20));
    assert.equal(viewA[1000], 0);
    viewA[1000] = 7;
    assert.equal(viewB[1000], 7, "a copy-on-write view sees the shared page until it writes");
    viewB[1000] = 8;
    assert.equal(viewA[1000], 7, "its own write stays private");
    assert.ok(k.virtualLock(a, 65536), `VirtualLock: ${k.lastError}`);
    assert.ok(k.virtualUnlock(a, 65536));
    assert.equal(k.virtualProtect(a, 4096, W.PAGE_READONLY), W.PAGE_READWRITE);
    assert.equal(k.virtualProtect(a, 4096, W.PAGE_READWRITE), W.PAGE_READONLY);
    if (k.prefetch) assert.ok(k.prefetch(a, 65536));
    if (k.residentPages) assert.ok(k.residentPages(a, 1, 4096) >= 0);
    assert.ok(k.unmapView(a));
    assert.ok(k.unmapView(b));
  });

  it("shares a named mapping with Local\\ names; a second create finds it (ERROR_ALREADY_EXISTS)", () => {
    const name = `Local\\wnsm_k32_${process.pid}`;
    const first = k.createFileMapping(INVALID_HANDLE_VALUE, W.PAGE_READWRITE, 65536, name);
    assert.notEqual(first, 0n);
    assert.equal(k.lastError, 0);
    const second = k.createFileMapping(INVALID_HANDLE_VALUE, W.PAGE_READWRITE, 65536, name);
    assert.equal(k.lastError, 183);
    const opened = k.openFileMapping(W.FILE_MAP_READ, name);
    assert.notEqual(opened, 0n);
    const writer = k.mapView(first, W.FILE_MAP_WRITE, 0, 65536);
    const reader = k.mapView(opened, W.FILE_MAP_READ, 0, 65536);
    new Uint8Array(k.arrayBuffer(writer, 16))[3] = 33;
    assert.equal(new Uint8Array(k.arrayBuffer(reader, 16))[3], 33);
    for (const view of [writer, reader]) k.unmapView(view);
    for (const handle of [first, second, opened]) k.closeHandle(handle);
    assert.equal(k.openFileMapping(W.FILE_MAP_READ, name), 0n, "the object goes with its last handle");
    assert.equal(W.errorNames[k.lastError], "ENOENT");
  });

  it("locks a file exclusively against another handle (ERROR_LOCK_VIOLATION)", () => {
    const a = create("locked.bin");
    const b = create("locked.bin", W.OPEN_EXISTING);
    const flags = W.LOCKFILE_EXCLUSIVE_LOCK | W.LOCKFILE_FAIL_IMMEDIATELY;
    assert.ok(k.lockFile(a, flags, 0, 2 ** 40));
    assert.equal(k.lockFile(b, flags, 0, 2 ** 40), false);
    assert.equal(k.lastError, 33);
    assert.ok(k.unlockFile(a, 0, 2 ** 40));
    assert.ok(k.lockFile(b, flags, 0, 2 ** 40));
    assert.ok(k.unlockFile(b, 0, 2 ** 40));
  });

  it("reads and writes at offsets without a file pointer; reading past the end reads nothing", () => {
    const file = create("positional.bin");
    assert.equal(k.writeAt(file, new Uint8Array([5, 6, 7]), 10), 3);
    const back = new Uint8Array(5);
    assert.equal(k.readAt(file, back, 9), 4);
    assert.deepEqual([...back], [0, 5, 6, 7, 0]);
    assert.equal(k.readAt(file, back, 1000), 0);
  });

  it("duplicates a handle to the same file", () => {
    const file = create("duplicated.bin");
    const copy = k.duplicateHandle(file, false)!;
    assert.notEqual(copy, null);
    open.push(copy);
    assert.equal(k.fileInformation(copy)!.fileIndex, k.fileInformation(file)!.fileIndex);
  });

  it("makes, lists, renames and removes directories and files", () => {
    const sub = path.join(directory, "sub");
    assert.ok(k.createDirectory(sub));
    assert.equal(k.createDirectory(sub), false);
    assert.equal(W.errorNames[k.lastError], "EEXIST");
    fs.writeFileSync(path.join(sub, "a.txt"), "a");
    fs.writeFileSync(path.join(sub, "ünï.txt"), "b");
    const names = k.listDirectory(sub)!.map((entry) => entry.name).sort();
    assert.deepEqual(names, [".", "..", "a.txt", "ünï.txt"]);
    assert.equal(k.removeDirectory(sub), false);
    assert.equal(W.errorNames[k.lastError], "ENOTEMPTY");
    assert.ok(k.moveFile(path.join(sub, "a.txt"), path.join(sub, "b.txt"), W.MOVEFILE_REPLACE_EXISTING));
    assert.equal(fs.readFileSync(path.join(sub, "b.txt"), "utf8"), "a");
    assert.ok(k.deleteFile(path.join(sub, "b.txt")));
    assert.ok(k.deleteFile(path.join(sub, "ünï.txt")));
    assert.equal(k.deleteFile(path.join(sub, "b.txt")), false);
    assert.equal(W.errorNames[k.lastError], "ENOENT");
    assert.ok(k.removeDirectory(sub));
    assert.equal(k.listDirectory(sub), null);
    assert.equal(W.errorNames[k.lastError], "ENOENT");
  });

  it("tells a running process from one that is gone", () => {
    assert.ok(k.processRunning(process.pid));
    assert.equal(k.processRunning(0x7fff_fff0), false);
  });
});
