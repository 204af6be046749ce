// The Windows binding's tables, checked on every platform: the three
// runtimes bind the same kernel32 functions with the same shapes (Deno and
// Node for Windows cannot run under Wine, so this is how their bindings are
// held to the Bun one the Windows leg runs), every function's C prototype is
// written beside it, Windows errors have POSIX names, and paths cross as
// NUL-terminated UTF-16.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import {
  constantsFor,
  CURRENT_PROCESS,
  INVALID_HANDLE_VALUE,
  WINDOWS_X64,
  windowsConstantsFor,
  windowsErrorFor,
} from "../src/ffi/constants.ts";
import { fileTimeNs, readWideString, wideString, windowsError } from "../src/ffi/kernel32.ts";
import { KERNEL32_OPTIONAL_SYMBOLS, KERNEL32_SYMBOLS, type Kernel32Symbol, normalizeResult } from "../src/ffi/kernel32_symbols.ts";
import { bunKernel32Table } from "../src/ffi/kernel32_bun.ts";
import { denoKernel32Table } from "../src/ffi/kernel32_deno.ts";
import { nodeKernel32Table } from "../src/ffi/kernel32_node.ts";
import { MmapError, UnsupportedRuntimeError } from "../mod.ts";
import { kernel32, libc, onWindows } from "../src/ffi/mod.ts";

const ALL: Record<string, Kernel32Symbol> = { ...KERNEL32_SYMBOLS, ...KERNEL32_OPTIONAL_SYMBOLS };

describe("kernel32 symbol tables", () => {
  it("bind every function with the same arity and the same kinds on Bun, Deno and Node", () => {
    const bun = bunKernel32Table(ALL);
    const deno = denoKernel32Table(ALL);
    const node = nodeKernel32Table(ALL);
    const expected = {
      handle: ["u64", "usize", "uint64"],
      address: ["u64", "usize", "uint64"],
      usize: ["u64", "usize", "uint64"],
      i64: ["i64", "i64", "int64"],
      u32: ["u32", "u32", "uint32"],
      i32: ["i32", "i32", "int32"],
      buffer: ["ptr", "buffer", "buffer"],
      void: ["void", "void", "void"],
    } as const;
    assert.ok(Object.keys(ALL).length >= 40);
    for (const [name, { parameters, result }] of Object.entries(ALL)) {
      assert.deepEqual(bun[name]!.args, parameters.map((kind) => expected[kind][0]), `bun ${name}`);
      assert.deepEqual(deno[name]!.parameters, parameters.map((kind) => expected[kind][1]), `deno ${name}`);
      assert.deepEqual(node[name]!.arguments, parameters.map((kind) => expected[kind][2]), `node ${name}`);
      assert.equal(bun[name]!.returns, expected[result][0]);
      assert.equal(deno[name]!.result, expected[result][1]);
      assert.equal(node[name]!.return, expected[result][2]);
    }
    assert.equal(denoKernel32Table(KERNEL32_OPTIONAL_SYMBOLS, true).PrefetchVirtualMemory!.optional, true);
    assert.equal(denoKernel32Table(KERNEL32_SYMBOLS).CreateFileW!.optional, undefined);
  });

  it("write each function's C prototype beside it, with as many parameters as the table binds", () => {
    const source = fs.readFileSync(fileURLToPath(new URL("../src/ffi/kernel32_symbols.ts", import.meta.url)), "utf8");
    // The comment lines above each entry, joined: "// HANDLE CreateFileW(LPCWSTR lpFileName, ...)".
    const lines = source.split("\n");
    for (const [name, { parameters }] of Object.entries(ALL)) {
      const at = lines.findIndex((line) => new RegExp(`^\\s+${name}: \\{`).test(line));
      assert.ok(at > 0, `${name} is in the table`);
      let start = at;
      while (lines[start - 1]!.trim().startsWith("//")) start--;
      const prototype = lines.slice(start, at).map((line) => line.trim().replace(/^\/\/\s*/, "")).join(" ");
      const match = prototype.match(new RegExp(`\\b${name}\\(([^)]*)\\)`));
      assert.ok(match, `${name} has its C prototype in a comment: ${prototype}`);
      const declared = match[1]!.trim() === "void" ? 0 : match[1]!.split(",").length;
      assert.equal(declared, parameters.length, `${name}: prototype and table agree on the parameter count`);
    }
  });

  it("normalise 64-bit results to bigint and 32-bit ones to number, whatever the runtime returned", () => {
    assert.equal(normalizeResult(() => 5, "handle")(), 5n);
    assert.equal(normalizeResult(() => 0xffff_ffff_ffff_ffffn, "address")(), INVALID_HANDLE_VALUE);
    assert.equal(normalizeResult(() => 1n, "i32")(), 1);
    assert.equal(normalizeResult(() => 7, "void")(), undefined);
  });
});

describe("Windows constants", () => {
  it("are found for Windows x64 only, and never as a POSIX table", () => {
    assert.equal(windowsConstantsFor("win32", "x64"), WINDOWS_X64);
    assert.equal(windowsConstantsFor("windows", "x86_64"), WINDOWS_X64);
    assert.equal(windowsConstantsFor("win32", "arm64"), undefined);
    assert.equal(windowsConstantsFor("linux", "x64"), undefined);
    assert.equal(constantsFor("win32", "x64"), undefined);
    assert.equal(INVALID_HANDLE_VALUE, 2n ** 64n - 1n);
    assert.equal(CURRENT_PROCESS, 2n ** 64n - 1n);
    assert.equal(WINDOWS_X64.defaultGranularity % WINDOWS_X64.defaultPageSize, 0);
  });

  it("name every Windows error with an errno name POSIX programs already handle", () => {
    const posix = new Set([
      ...Object.values(constantsFor("linux", "x64")!.errnoNames),
      ...Object.values(constantsFor("darwin", "arm64")!.errnoNames),
    ]);
    for (const [number, name] of Object.entries(WINDOWS_X64.errorNames)) {
      assert.ok(posix.has(name), `${number} → ${name} is a POSIX errno name`);
    }
    const expected: Record<number, string> = {
      2: "ENOENT", 3: "ENOENT", 5: "EACCES", 32: "EBUSY", 33: "EBUSY", 80: "EEXIST", 183: "EEXIST",
      87: "EINVAL", 8: "ENOMEM", 112: "ENOSPC", 1224: "EBUSY", 1455: "ENOMEM", 145: "ENOTEMPTY", 267: "ENOTDIR",
    };
    for (const [number, name] of Object.entries(expected)) assert.equal(WINDOWS_X64.errorNames[Number(number)], name);
  });

  it("turn a POSIX name back into the first Windows code for it", () => {
    assert.equal(windowsErrorFor("ENOENT"), 2);
    assert.equal(windowsErrorFor("EBUSY"), 32);
    assert.equal(windowsErrorFor("EISDIR"), undefined);
    for (const code of ["EACCES", "EEXIST", "ENOSPC", "EINVAL", "ENOMEM"]) {
      assert.equal(WINDOWS_X64.errorNames[windowsErrorFor(code)!], code);
    }
  });

  it("make MmapErrors with the POSIX code and the Windows number", () => {
    const error = windowsError(WINDOWS_X64, 1224, "SetEndOfFile", "C:\\data.bin");
    assert.ok(error instanceof MmapError);
    assert.equal(error.code, "EBUSY");
    assert.equal(error.errno, 1224);
    assert.equal(error.syscall, "SetEndOfFile");
    assert.equal(error.path, "C:\\data.bin");
    assert.equal(windowsError(WINDOWS_X64, 99999, "CreateFileW").code, "E99999");
  });
});

describe("UTF-16 marshalling", () => {
  it("writes NUL-terminated little-endian code units", () => {
    assert.deepEqual([...wideString("A\\é")], [0x41, 0, 0x5c, 0, 0xe9, 0, 0, 0]);
    assert.deepEqual([...wideString("")], [0, 0]);
  });

  it("keeps surrogate pairs and lone surrogates as the code units they are", () => {
    for (const text of ["C:\\😀\\file", "\ud800x", "x\udfff", "日本語\\ファイル"]) {
      const bytes = wideString(text);
      assert.equal(bytes.length, (text.length + 1) * 2);
      assert.equal(readWideString(bytes), text);
    }
  });

  it("refuses a NUL before kernel32 could stop reading there", () => {
    assert.throws(() => wideString("C:\\safe\0..\\evil"), TypeError);
  });

  it("reads back up to the first NUL or the limit", () => {
    const bytes = wideString("abcdef");
    assert.equal(readWideString(bytes, 0, 3), "abc");
    assert.equal(readWideString(bytes, 4), "cdef");
    const long = "x".repeat(10_000);
    assert.equal(readWideString(wideString(long)), long);
  });

  it("reads FILETIMEs as nanoseconds since 1970", () => {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, 116_444_736_000_000_000n + 15n, true);
    assert.equal(fileTimeNs(view, 0), 1500n);
    view.setBigUint64(0, 116_444_736_000_000_000n + 17_040_672_000_000_000n, true); // 2024-01-01
    assert.equal(fileTimeNs(view, 0) / 1_000_000_000n, 1_704_067_200n);
  });
});

describe("picking the binding", () => {
  it("binds kernel32 on Windows and libc elsewhere, and says which one a wrong caller asked for", () => {
    if (onWindows()) {
      assert.equal(kernel32().constants, WINDOWS_X64);
      assert.throws(() => libc(), (error: Error) => error instanceof UnsupportedRuntimeError && /kernel32/.test(error.message));
    } else {
      assert.ok(libc().constants.name.startsWith(process.platform));
      assert.throws(() => kernel32(), (error: Error) => error instanceof UnsupportedRuntimeError && /Windows x64 only/.test(error.message));
    }
  });
});
