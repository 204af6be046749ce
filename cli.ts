#!/usr/bin/env -S node --experimental-ffi --no-warnings
/**
 * The `memmapfs` command: `stat`, `warm`, `evict` and `lock` files in the page
 * cache, like vmtouch. Run it with `npx memmapfs`, `bunx memmapfs` or
 * `deno run -A jsr:@memmapfs/memmapfs/cli`.
 *
 * ```sh
 * memmapfs stat --json data/
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

const process = (globalThis as unknown as {
  process: {
    argv: string[];
    exitCode?: number;
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown; isTTY?: boolean };
  };
}).process;

process.exitCode = await main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  terminal: process.stderr.isTTY === true,
});
