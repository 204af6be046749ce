// Runs a script as user nobody (for tests, run as root, that need the kernel's
// permission checks, which root bypasses). Nobody may not be able to read the
// checkout — a clone in root's home or in a `mktemp -d` is mode 0700 — so the
// child gets its own world-readable copy of what it needs: the library's
// sources, the script, and the runtime's binary (hard-linked when possible).
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { fileURLToPath } from "node:url";
import { makeDirectory, removeDirectory, runtime } from "./helpers.ts";

const NOBODY = 65534;
const checkout = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Makes every file under `directory` readable and every directory searchable by all. */
function openUp(directory: string): void {
  fs.chmodSync(directory, 0o755);
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) openUp(full);
    else fs.chmodSync(full, 0o644);
  }
}

/**
 * Runs `source` (which imports "../mod.ts", as scripts next to the tests do)
 * with the current runtime as user and group 65534, from a directory that
 * user can read. Needs root (setpriv changes the user).
 */
export function runScriptAsNobody(source: string): SpawnSyncReturns<string> {
  const directory = makeDirectory("memmapfs-nobody-");
  try {
    const library = path.join(directory, "library");
    fs.mkdirSync(library);
    fs.cpSync(path.join(checkout, "src"), path.join(library, "src"), { recursive: true });
    fs.copyFileSync(path.join(checkout, "mod.ts"), path.join(library, "mod.ts"));
    fs.writeFileSync(path.join(library, "package.json"), JSON.stringify({ type: "module" }));
    fs.mkdirSync(path.join(library, "tests"));
    const script = path.join(library, "tests", "child.ts");
    fs.writeFileSync(script, source);
    openUp(library);
    const binary = path.join(directory, path.basename(process.execPath));
    try {
      fs.linkSync(process.execPath, binary);
    } catch {
      fs.copyFileSync(process.execPath, binary); // another file system: a copy
    }
    fs.chmodSync(binary, 0o755);
    fs.chmodSync(directory, 0o755);
    const home = path.join(directory, "home");
    fs.mkdirSync(home, { mode: 0o777 });
    fs.chmodSync(home, 0o777);
    const args = runtime === "deno"
      ? ["run", "-A", script]
      : runtime === "bun"
      ? [script]
      : ["--experimental-ffi", "--no-warnings", script];
    return spawnSync("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", binary, ...args], {
      encoding: "utf8",
      timeout: 60_000,
      cwd: home,
      env: { ...process.env, HOME: home, DENO_DIR: path.join(home, "deno"), TMPDIR: home },
    });
  } finally {
    removeDirectory(directory);
  }
}
