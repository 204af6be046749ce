/**
 * kernel32 through `Deno.dlopen`, for Deno on Windows: the table of
 * kernel32_symbols.ts in Deno's FFI types. One of the files allowed to name a
 * runtime's FFI. (Deno for Windows does not start under Wine, where the
 * Windows leg runs: this binding is the same table as the Bun one tested
 * there, and its shape is checked on every platform.)
 *
 * @module
 */

import {
  KERNEL32_OPTIONAL_SYMBOLS,
  KERNEL32_SYMBOLS,
  type Kernel32Function,
  type Kernel32Name,
  type Kernel32Native,
  type Kernel32OptionalName,
  type Kernel32Symbol,
  type Kernel32Type,
  normalizeResult,
} from "./kernel32_symbols.ts";

type DenoType = "usize" | "i64" | "u32" | "i32" | "buffer" | "void";
interface DenoSymbol {
  parameters: DenoType[];
  result: DenoType;
  optional?: boolean;
}
interface DenoFfi {
  dlopen(path: string, symbols: Record<string, DenoSymbol>): { symbols: Record<string, Kernel32Function | null> };
  UnsafePointer: { create(value: bigint): unknown };
  UnsafePointerView: { getArrayBuffer(pointer: unknown, length: number): ArrayBuffer };
  permissions: {
    querySync(descriptor: { name: "read" | "write"; path: string }): { state: string };
    requestSync(descriptor: { name: "read" | "write"; path: string }): { state: string };
  };
}

/** Deno's name for each kind: handles and addresses as `usize`, so they cross as numbers, never pointer objects. */
const DENO_TYPES: Record<Kernel32Type, DenoType> = {
  handle: "usize",
  address: "usize",
  usize: "usize",
  i64: "i64",
  u32: "u32",
  i32: "i32",
  buffer: "buffer",
  void: "void",
};

/**
 * The kernel32 table in Deno's shape; `optional` marks functions that may be
 * missing (Deno then binds them as `null`). Exported for the shape test.
 */
export function denoKernel32Table(symbols: Record<string, Kernel32Symbol>, optional = false): Record<string, DenoSymbol> {
  return Object.fromEntries(Object.entries(symbols).map(([name, { parameters, result }]) => [
    name,
    { parameters: parameters.map((type) => DENO_TYPES[type]), result: DENO_TYPES[result], ...(optional ? { optional } : {}) },
  ]));
}

/** Binds kernel32 through `Deno.dlopen`. */
export function denoKernel32(): Kernel32Native {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const bound = deno.dlopen("kernel32.dll", {
    ...denoKernel32Table(KERNEL32_SYMBOLS),
    ...denoKernel32Table(KERNEL32_OPTIONAL_SYMBOLS, true),
  }).symbols;
  const calls = {} as Record<Kernel32Name, Kernel32Function>;
  for (const [name, symbol] of Object.entries(KERNEL32_SYMBOLS)) {
    calls[name as Kernel32Name] = normalizeResult(bound[name]!, symbol.result);
  }
  const optional: Partial<Record<Kernel32OptionalName, Kernel32Function>> = {};
  for (const [name, symbol] of Object.entries(KERNEL32_OPTIONAL_SYMBOLS)) {
    const fn = bound[name];
    if (fn) optional[name as Kernel32OptionalName] = normalizeResult(fn, symbol.result);
  }
  return {
    runtime: "deno",
    maxArrayBufferLength: Number.MAX_SAFE_INTEGER,
    calls,
    optional,
    arrayBuffer: (address, length) =>
      deno.UnsafePointerView.getArrayBuffer(deno.UnsafePointer.create(address), length),
    // FFI bypasses Deno's model: ask it as Deno.openSync would (prompting where Deno would).
    permits: (path, access) => {
      const descriptor = { name: access, path };
      const { state } = deno.permissions.querySync(descriptor);
      return state === "granted" || (state === "prompt" && deno.permissions.requestSync(descriptor).state === "granted");
    },
  };
}
