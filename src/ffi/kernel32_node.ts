/**
 * kernel32 through `node:ffi`, for Node 26 on Windows: the table of
 * kernel32_symbols.ts in node:ffi's types. One of the files allowed to name a
 * runtime's FFI. (Node for Windows does not start under Wine, where the
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

type NodeType = "uint64" | "int64" | "uint32" | "int32" | "buffer" | "void";
interface NodeSignature {
  arguments: NodeType[];
  return: NodeType;
}
interface NodeFfi {
  dlopen(path: string, definitions: Record<string, NodeSignature>): { functions: Record<string, Kernel32Function> };
  toArrayBuffer(pointer: bigint, length: number, copy: boolean): ArrayBuffer;
}

/** node:ffi's name for each kind: 64-bit values as `uint64`/`int64`, which take and give `bigint`. */
const NODE_TYPES: Record<Kernel32Type, NodeType> = {
  handle: "uint64",
  address: "uint64",
  usize: "uint64",
  i64: "int64",
  u32: "uint32",
  i32: "int32",
  buffer: "buffer",
  void: "void",
};

/** The kernel32 table in node:ffi's shape. Exported for the shape test. */
export function nodeKernel32Table(symbols: Record<string, Kernel32Symbol>): Record<string, NodeSignature> {
  return Object.fromEntries(Object.entries(symbols).map(([name, { parameters, result }]) => [
    name,
    { arguments: parameters.map((type) => NODE_TYPES[type]), return: NODE_TYPES[result] },
  ]));
}

/** Binds kernel32 through `node:ffi` (the module, loaded by the caller). */
export function nodeKernel32(ffi: unknown): Kernel32Native {
  const nodeFfi = ffi as NodeFfi;
  const bound = nodeFfi.dlopen("kernel32.dll", nodeKernel32Table(KERNEL32_SYMBOLS)).functions;
  const calls = {} as Record<Kernel32Name, Kernel32Function>;
  for (const [name, symbol] of Object.entries(KERNEL32_SYMBOLS)) {
    calls[name as Kernel32Name] = normalizeResult(bound[name]!, symbol.result);
  }
  const optional: Partial<Record<Kernel32OptionalName, Kernel32Function>> = {};
  for (const [name, symbol] of Object.entries(KERNEL32_OPTIONAL_SYMBOLS)) {
    try {
      const fn = nodeFfi.dlopen("kernel32.dll", nodeKernel32Table({ [name]: symbol })).functions[name]!;
      optional[name as Kernel32OptionalName] = normalizeResult(fn, symbol.result);
    } catch { /* absent on this Windows: the power it gives is left out */ }
  }
  return {
    runtime: "node",
    maxArrayBufferLength: Number.MAX_SAFE_INTEGER,
    calls,
    optional,
    arrayBuffer: (address, length) => nodeFfi.toArrayBuffer(address, length, false),
    // FFI bypasses Node's permission model: ask it as node:fs does under --permission.
    permits: (path, access) => {
      const permission = (process as { permission?: { has(scope: string, reference?: string): boolean } }).permission;
      return permission?.has(access === "read" ? "fs.read" : "fs.write", path) ?? true;
    },
  };
}
