/**
 * Variadic C functions through a fixed-signature FFI.
 *
 * No runtime FFI here (Deno.dlopen, bun:ffi, node:ffi) can declare a `...`;
 * each binds a variadic function such as `open(path, flags, ...)` as if it took
 * a fixed list. That is right where a variadic argument travels like a fixed
 * one (x86-64 System V and Linux's AAPCS64 put both in the same registers),
 * and wrong on Apple arm64: there every variadic argument sits in its own
 * 8-byte stack slot, whatever registers are free. A `mode` declared as a third
 * fixed argument lands in x2 while `open` reads the first stack slot: the file
 * gets whatever was on the stack as its permissions, with no error.
 *
 * The fix, for every shim and every binding: a binding table entry carries
 * `variadicFrom: N`, the index of its first variadic argument, and the shim
 * runs its table through {@linkcode prepareBindings}. Where the platform puts
 * variadic arguments on the stack, the declaration becomes
 * `fixed…, pads up to the last argument register, variadic… widened to 64 bits`
 * and the bound function inserts the zero pads, so each variadic argument is
 * the 9th, 10th… argument on arm64: the callee's first, second… stack slot.
 * Elsewhere the table is passed through unchanged.
 *
 * To bind a new variadic function (`openat`: variadicFrom 3, `fcntl`: 2,
 * `syscall`: 1, `ioctl`: 2), declare its arguments as C writes them and add
 * `variadicFrom`; nothing else. tests/variadic_abi.test.ts checks every marked
 * binding of every shim against a model of Apple's rules.
 *
 * @module
 */

import type { PlatformConstants } from "./constants.ts";

/** What a binding table entry may carry besides the runtime's own fields. */
export interface VariadicMark {
  /** Index of the first argument that C declares as `...`; absent for a fixed signature. */
  readonly variadicFrom?: number;
}

/** How one runtime's FFI spells the types the rearrangement needs. */
export interface FfiTypes<T> {
  /** The field of an entry that lists its argument types (`parameters`, `args`, `arguments`). */
  readonly key: string;
  /** A signed 64-bit integer: pads the argument registers and widens a narrower variadic integer. */
  readonly wide: T;
  /** Types that already fill an 8-byte slot (pointers, buffers, 64-bit integers). */
  readonly slotSized: readonly T[];
}

/** How to call one function: what to declare, and how to turn the caller's arguments into it. */
export interface CallShape<T> {
  readonly parameters: readonly T[];
  /** `null` when the arguments pass through as they are. */
  readonly arrange: ((args: readonly unknown[]) => unknown[]) | null;
}

/**
 * The declaration and argument arrangement of a function whose C arguments are
 * `parameters`, variadic from `variadicFrom`, on the platform of `constants`.
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * const types = { key: "parameters", wide: "i64", slotSized: ["i64", "buffer"] };
 * const open = callShape(["buffer", "i32", "u32"], 2, constantsFor("darwin", "arm64")!, types);
 * console.log(open.parameters.length); // 9: path, flags, six pads, mode
 * console.log(open.arrange!(["path", 1, 0o600])[8]); // 384n
 * ```
 */
export function callShape<T>(
  parameters: readonly T[],
  variadicFrom: number | undefined,
  constants: PlatformConstants,
  types: FfiTypes<T>,
): CallShape<T> {
  if (variadicFrom === undefined || constants.variadicArguments === "registers") {
    return { parameters, arrange: null };
  }
  const registers = constants.integerArgumentRegisters;
  if (variadicFrom > registers) {
    // Fixed arguments past the registers are packed on Apple arm64, so the
    // first variadic slot would depend on their sizes: not needed by any binding yet.
    throw new Error(`A variadic binding with ${variadicFrom} fixed arguments is not supported on ${constants.name}`);
  }
  const pads = registers - variadicFrom;
  const variadic = parameters.slice(variadicFrom);
  const widened = variadic.map((type) => !types.slotSized.includes(type));
  return {
    parameters: [
      ...parameters.slice(0, variadicFrom),
      ...Array<T>(pads).fill(types.wide),
      ...variadic.map((type, index) => (widened[index] ? types.wide : type)),
    ],
    arrange: (args) => [
      ...args.slice(0, variadicFrom),
      ...Array<bigint>(pads).fill(0n),
      ...args.slice(variadicFrom).map((arg, index) =>
        widened[index] && typeof arg === "number" ? BigInt(arg) : arg
      ),
    ],
  };
}

/**
 * Runs a whole binding table through {@linkcode callShape}: returns the table
 * to hand to the runtime's `dlopen` (without the `variadicFrom` marks) and an
 * `adapt(name, fn)` that wraps a bound function so callers keep passing the
 * arguments C declares.
 *
 * @example
 * ```ts
 * import { constantsFor } from "./constants.ts";
 * const types = { key: "args", wide: "i64", slotSized: ["i64", "ptr"] };
 * const table = { open: { args: ["ptr", "i32", "u32"], returns: "i32", variadicFrom: 2 } };
 * const { symbols, adapt } = prepareBindings(table, constantsFor("darwin", "arm64")!, types);
 * console.log(symbols.open.args.length); // 9
 * const open = adapt("open", (...args: unknown[]) => args.length);
 * console.log(open("path", 0, 0o600)); // 9
 * ```
 */
export function prepareBindings<S extends VariadicMark, T>(
  table: Readonly<Record<string, S>>,
  constants: PlatformConstants,
  types: FfiTypes<T>,
): {
  symbols: Record<string, Omit<S, "variadicFrom">>;
  adapt<F extends (...args: never[]) => unknown>(name: string, fn: F): F;
} {
  const symbols: Record<string, Omit<S, "variadicFrom">> = {};
  const arrangements = new Map<string, (args: readonly unknown[]) => unknown[]>();
  for (const [name, entry] of Object.entries(table)) {
    const { variadicFrom, ...declaration } = entry;
    const parameters = (declaration as Record<string, unknown>)[types.key] as readonly T[];
    const shape = callShape(parameters, variadicFrom, constants, types);
    symbols[name] = { ...declaration, [types.key]: shape.parameters } as Omit<S, "variadicFrom">;
    if (shape.arrange) arrangements.set(name, shape.arrange);
  }
  return {
    symbols,
    adapt<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
      const arrange = arrangements.get(name);
      if (!arrange) return fn;
      const call = fn as unknown as (...args: unknown[]) => unknown;
      return ((...args: unknown[]) => call(...arrange(args))) as unknown as F;
    },
  };
}
