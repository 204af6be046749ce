/**
 * kernel32 through `bun:ffi`, for Bun on Windows: the table of
 * kernel32_symbols.ts in bun:ffi's types. One of the files allowed to name a
 * runtime's FFI.
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

type BunType = "u64" | "i64" | "u32" | "i32" | "ptr" | "void";
interface BunSymbol {
  args: BunType[];
  returns: BunType;
}
interface BunFfi {
  dlopen(path: string, symbols: Record<string, BunSymbol>): { symbols: Record<string, Kernel32Function> };
  toArrayBuffer(pointer: number, byteOffset: number, byteLength: number): ArrayBuffer;
}

/** bun:ffi's name for each kind: 64-bit handles and addresses as `u64` (bigint in, bigint out). */
const BUN_TYPES: Record<Kernel32Type, BunType> = {
  handle: "u64",
  address: "u64",
  usize: "u64",
  i64: "i64",
  u32: "u32",
  i32: "i32",
  buffer: "ptr",
  void: "void",
};

/**
 * The kernel32 table in bun:ffi's shape. Exported for the test that checks
 * the three runtimes bind the same functions the same way.
 */
export function bunKernel32Table(symbols: Record<string, Kernel32Symbol>): Record<string, BunSymbol> {
  return Object.fromEntries(Object.entries(symbols).map(([name, { parameters, result }]) => [
    name,
    { args: parameters.map((type) => BUN_TYPES[type]), returns: BUN_TYPES[result] },
  ]));
}

/** Binds kernel32 through `bun:ffi`. */
export function bunKernel32(): Kernel32Native {
  const ffi = (process as unknown as { getBuiltinModule(id: string): BunFfi }).getBuiltinModule("bun:ffi");
  const bound = ffi.dlopen("kernel32.dll", bunKernel32Table(KERNEL32_SYMBOLS)).symbols;
  const calls = {} as Record<Kernel32Name, Kernel32Function>;
  for (const [name, symbol] of Object.entries(KERNEL32_SYMBOLS)) {
    calls[name as Kernel32Name] = normalizeResult(bound[name]!, symbol.result);
  }
  const optional: Partial<Record<Kernel32OptionalName, Kernel32Function>> = {};
  for (const [name, symbol] of Object.entries(KERNEL32_OPTIONAL_SYMBOLS)) {
    try {
      const fn = ffi.dlopen("kernel32.dll", bunKernel32Table({ [name]: symbol })).symbols[name]!;
      optional[name as Kernel32OptionalName] = normalizeResult(fn, symbol.result);
    } catch { /* absent on this Windows: the power it gives is left out */ }
  }
  return {
    runtime: "bun",
    // Bun cannot create a single ArrayBuffer over more than 4 GiB of foreign memory.
    maxArrayBufferLength: 2 ** 32,
    calls,
    optional,
    arrayBuffer: (address, length) => ffi.toArrayBuffer(Number(address), 0, length),
  };
}
