// Variadic C functions on Apple arm64: every variadic argument is read from
// its own 8-byte stack slot, while an FFI declaration with fixed arguments
// puts the first eight in x0-x7. These tests hold every shim's darwin-arm64
// binding table against a model of Apple's rules, written here independently
// of src/ffi/variadic.ts: the value the caller passes as `mode` must be where
// open() and shm_open() read it. They also bind the same shapes for real on
// this Linux machine, so each runtime is shown to accept and call them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { constantsFor, type PlatformConstants } from "../src/ffi/constants.ts";
import { denoBindings } from "../src/ffi/deno.ts";
import { bunBindings } from "../src/ffi/bun.ts";
import { nodeBindings } from "../src/ffi/node.ts";
import { bindRuntimeLibc, libc } from "../src/ffi/mod.ts";
import { makeDirectory } from "./helpers.ts";

// The C prototypes of libc's variadic functions, from the headers: the index
// of each one's `...`. Any binding of one of them, in any shim, now or added
// later, is checked below; a binding bound twice under another key names its
// C symbol (Deno's `name`) or starts with it (fcntl_pointer).
const C_VARIADIC_FROM: Record<string, number> = {
  open: 2, openat: 3, shm_open: 2, fcntl: 2, ioctl: 2, syscall: 1, mremap: 4, prctl: 1, sem_open: 2, mq_open: 2,
};

/** The C function a binding table entry calls, when it is one of the variadic ones. */
function variadicSymbol(key: string, entry: unknown): string | undefined {
  const symbol = (entry as { name?: string }).name ?? key;
  if (symbol in C_VARIADIC_FROM) return symbol;
  return Object.keys(C_VARIADIC_FROM).find((name) => symbol.startsWith(`${name}_`));
}

const EIGHT_BYTES = new Set(["i64", "u64", "usize", "ptr", "buffer", "int64", "uint64", "pointer"]);
const FOUR_BYTES = new Set(["i32", "u32", "int32", "uint32"]);

/** Where Apple arm64 puts each argument of a call through a fixed (non-variadic) declaration. */
function callerPlacement(types: readonly string[]): { where: "register" | "stack"; at: number; bytes: number }[] {
  let stack = 0;
  return types.map((type, index) => {
    const bytes = EIGHT_BYTES.has(type) ? 8 : FOUR_BYTES.has(type) ? 4 : NaN;
    assert.ok(!Number.isNaN(bytes), `unknown FFI type ${type}`);
    if (index < 8) return { where: "register", at: index, bytes };
    // Apple packs stack arguments of a fixed prototype at their natural alignment.
    stack = Math.ceil(stack / bytes) * bytes;
    const placed = { where: "stack" as const, at: stack, bytes };
    stack += bytes;
    return placed;
  });
}

interface Table {
  symbols: Record<string, unknown>;
  adapt<F extends (...args: never[]) => unknown>(name: string, fn: F): F;
}

function tablesFor(constants: PlatformConstants): [string, Table, string][] {
  const bun = bunBindings(constants), node = nodeBindings(constants);
  return [
    ["deno", denoBindings(constants), "parameters"],
    ["bun", bun.main, "args"],
    ["bun optional", bun.optional, "args"],
    ["node", node.main, "arguments"],
    ["node optional", node.optional, "arguments"],
  ];
}

const darwinArm64 = constantsFor("darwin", "arm64")!;
const linuxTable = (shim: string) => tablesFor(constantsFor("linux", "x64")!).find(([name]) => name === shim)![1];

describe("variadic bindings on Apple arm64", () => {
  for (const [shim, table, key] of tablesFor(darwinArm64)) {
    it(`${shim}: each variadic argument lands in the stack slot the callee reads`, () => {
      const variadic = Object.keys(table.symbols).filter((name) => variadicSymbol(name, table.symbols[name]));
      assert.ok(variadic.length >= (shim.includes("optional") ? 1 : 2), `${shim} binds variadic functions`);
      for (const name of variadic) {
        const fixed = C_VARIADIC_FROM[variadicSymbol(name, table.symbols[name])!];
        const declared = (table.symbols[name] as Record<string, string[]>)[key];
        // What the caller passes: distinct values, one per argument of the C
        // declaration (the pass-through table on Linux has exactly those).
        const passedOnLinux = (linuxTable(shim).symbols[name] as Record<string, string[]>)[key].length;
        const given = Array.from({ length: passedOnLinux }, (_, i) => 0x1000 + i);
        const passed = table.adapt(name, (...args: unknown[]) => args)(...(given as never[])) as unknown[];
        assert.equal(passed.length, declared.length, `${shim} ${name}: one value per declared argument`);
        const placement = callerPlacement(declared);
        for (let i = 0; i < given.length; i++) {
          const at = passed.findIndex((value) => Number(value) === given[i]);
          assert.ok(at >= 0, `${shim} ${name}: argument ${i} reaches the call`);
          if (i < fixed) {
            assert.deepEqual(placement[at], { where: "register", at: i, bytes: placement[at].bytes },
              `${shim} ${name}: fixed argument ${i} in x${i}`);
          } else {
            // va_arg reads variadic argument k from [sp + 8k], 8 bytes wide.
            assert.deepEqual(placement[at], { where: "stack", at: 8 * (i - fixed), bytes: 8 },
              `${shim} ${name}: variadic argument ${i - fixed} in stack slot ${i - fixed}`);
          }
        }
        // Everything else is padding that fills x(fixed)..x7 with zeros.
        for (let at = fixed; at < 8; at++) {
          assert.equal(placement[at].where, "register");
          assert.equal(passed[at], 0n, `${shim} ${name}: x${at} is a zero pad`);
        }
      }
    });
  }

  it("open's mode 0o640 is the first stack slot's value, as a 64-bit integer", () => {
    const open = denoBindings(darwinArm64).adapt("open", (...args: unknown[]) => args);
    const args = open(new Uint8Array(1) as never, 0x200 as never, 0o640 as never) as unknown[];
    assert.equal(args.length, 9);
    assert.equal(args[8], 0o640n);
  });

  for (const [os, arch] of [["linux", "x64"], ["linux", "arm64"], ["darwin", "x64"]]) {
    it(`${os}-${arch}: variadic arguments travel like fixed ones, so tables pass through`, () => {
      for (const [shim, table, key] of tablesFor(constantsFor(os, arch)!)) {
        for (const name of Object.keys(table.symbols).filter((n) => variadicSymbol(n, table.symbols[n]))) {
          const declared = (table.symbols[name] as Record<string, string[]>)[key];
          // Padding for Apple arm64 would make it 9 or more; the widest C shape bound is syscall's futex call (7).
          assert.ok(declared.length <= 7, `${shim} ${name} keeps its C arity`);
          const fn = (..._: unknown[]) => 0;
          assert.equal(table.adapt(name, fn), fn, `${shim} ${name} is not wrapped`);
        }
      }
    });
  }

  it("the variadicFrom mark never reaches dlopen", () => {
    for (const constants of [darwinArm64, constantsFor("linux", "x64")!]) {
      for (const [shim, table] of tablesFor(constants)) {
        for (const [name, entry] of Object.entries(table.symbols)) {
          assert.ok(!("variadicFrom" in (entry as object)), `${shim} ${name} on ${constants.name}`);
        }
      }
    }
  });
});

describe("the Apple arm64 shapes bound for real on this machine", () => {
  // Linux numbers with Apple's layout: open(…, O_RDONLY) and fcntl(F_GETFD)
  // ignore their variadic argument, so the padded calls are safe here and
  // show that this runtime accepts and calls nine-argument declarations.
  const here = libc().constants;
  const padded = bindRuntimeLibc({ ...here, variadicArguments: "stack", integerArgumentRegisters: 8 });

  it("open and close through the padded declaration", () => {
    const directory = makeDirectory("memmapfs-variadic-");
    const file = `${directory}/data`;
    fs.writeFileSync(file, "x");
    const fd = padded.open(file, here.O_RDONLY | here.O_CLOEXEC, 0o600);
    assert.ok(fd >= 0, `open returned ${fd}, errno ${padded.errno}`);
    assert.equal(padded.close(fd), 0);
    const missing = padded.open(`${directory}/missing`, here.O_RDONLY, 0);
    assert.equal(missing, -1);
    assert.equal(here.errnoNames[padded.errno], "ENOENT");
  });

  it("shm_open through the padded declaration finds nothing that is not there", () => {
    const fd = padded.shmOpen(`/memmapfs_variadic_${process.pid}_absent`, here.O_RDONLY, 0);
    assert.equal(fd, -1);
    assert.equal(here.errnoNames[padded.errno], "ENOENT");
  });
});
