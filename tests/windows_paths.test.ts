// Path and name handling of the Windows back-end: pure text, checked on
// every platform (and in the Windows leg).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WINDOWS_X64 } from "../src/ffi/constants.ts";
import { posixNamedError } from "../src/os/windows/windows_errors.ts";
import { isDevicePath, kernelPath, sharedMemoryObjectName } from "../src/os/windows/windows_paths.ts";

describe("Windows paths", () => {
  it("turn slashes into backslashes and leave short paths alone otherwise", () => {
    assert.equal(kernelPath("C:/data/a.bin"), "C:\\data\\a.bin");
    assert.equal(kernelPath("C:\\data\\..\\a.bin"), "C:\\data\\..\\a.bin", "Win32 resolves .. itself in short paths");
    assert.equal(kernelPath("relative/x"), "relative\\x");
  });

  it("give long absolute paths the \\\\?\\ prefix, with . and .. resolved first (the prefix turns that off)", () => {
    const long = `C:/${"d/".repeat(150)}./x/../file.bin`;
    const kernel = kernelPath(long);
    assert.ok(kernel.startsWith("\\\\?\\C:\\d\\d\\"));
    assert.ok(kernel.endsWith("\\d\\file.bin"));
    assert.ok(!kernel.includes("\\.\\") && !kernel.includes(".."));
    assert.equal(kernelPath(`//server/share/${"a/".repeat(140)}f`).slice(0, 22), "\\\\?\\UNC\\server\\share\\a");
    const already = `\\\\?\\C:\\${"x\\".repeat(200)}`;
    assert.equal(kernelPath(already), already);
    assert.equal(kernelPath(`C:\\${"y".repeat(256)}`).length, 259, "259 characters still go plain");
  });

  it("know the DOS device names, in any directory and with any extension", () => {
    for (const device of ["CON", "nul", "C:\\dir\\NUL.txt", "com1", "LPT9.log", "aux.tar.gz", "\\\\.\\PhysicalDrive0", "CONIN$", "nul "]) {
      assert.ok(isDevicePath(device), device);
    }
    for (const file of ["null.txt", "console", "com10", "C:\\con\\file.txt", "data.nul", "lpt"]) {
      assert.ok(!isDevicePath(file), file);
    }
  });

  it("name shared memory in this session's namespace, as Python's unprefixed names are", () => {
    assert.equal(sharedMemoryObjectName("wnsm_0a1b2c3d"), "Local\\wnsm_0a1b2c3d");
  });

  it("make errors for POSIX names with the Windows code, or 0 where Windows has none", () => {
    const loop = posixNamedError(WINDOWS_X64.errorNames, "ELOOP", "CreateFileW", "C:\\link");
    assert.equal(loop.code, "ELOOP");
    assert.equal(loop.errno, 1921);
    assert.equal(loop.path, "C:\\link");
    const isDirectory = posixNamedError(WINDOWS_X64.errorNames, "EISDIR", "CreateFileW", null);
    assert.equal(isDirectory.code, "EISDIR");
    assert.equal(isDirectory.errno, 0);
    assert.match(isDirectory.message, /^EISDIR: CreateFileW failed/);
  });
});
