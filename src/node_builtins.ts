/**
 * node:fs, node:path, node:os, node:process, node:buffer and node:url, fetched when first needed. Deno, Bun and
 * Node all provide them; fetching them lazily (rather than importing them at
 * the top) keeps `import "memmapfs"` working where they do not exist.
 *
 * @module
 */

type Builtins = {
  fs: typeof import("node:fs");
  path: typeof import("node:path");
  os: typeof import("node:os");
  process: typeof import("node:process");
  buffer: typeof import("node:buffer");
  url: typeof import("node:url");
};

let cached: Builtins | undefined;

/** The node builtins memmapfs uses for directory and metadata work. */
export function nodeBuiltins(): Builtins {
  if (cached) return cached;
  const get = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process
    ?.getBuiltinModule;
  if (!get) throw new Error("MemMapFS needs node:fs, which this runtime does not provide");
  cached = {
    fs: get("node:fs") as Builtins["fs"],
    path: get("node:path") as Builtins["path"],
    os: get("node:os") as Builtins["os"],
    process: get("node:process") as Builtins["process"],
    buffer: get("node:buffer") as Builtins["buffer"],
    url: get("node:url") as Builtins["url"],
  };
  return cached;
}
