// Installs the pinned toolchain (Deno, Bun, Node 26, TypeScript, tsup) from the
// npm registry when node_modules is missing or older than package-lock.json.
// Runs on any Node >= 18, so a fresh machine with only Node and npm can start.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const installedLock = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");

function stale() {
  if (!existsSync(installedLock)) return true;
  return statSync(lock).mtimeMs > statSync(installedLock).mtimeMs;
}

function works(binary) {
  try {
    execFileSync(join(root, "node_modules", ".bin", binary), ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function ensureDeps() {
  if (stale()) {
    console.log("memmapfs: installing the toolchain with npm install …");
    // The lock lists every platform's optional binaries of deno, bun, esbuild
    // and rollup, so this install leaves it unchanged on any machine (npm test
    // checks that the tree is unchanged at the end).
    execFileSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  }
  // Bun's package links its binary in a postinstall step; run it if it was skipped.
  if (!works("bun")) {
    execFileSync(process.execPath, [join(root, "node_modules", "bun", "install.js")], {
      cwd: join(root, "node_modules", "bun"),
      stdio: "inherit",
    });
  }
  for (const binary of ["deno", "bun", "node", "tsc", "tsup"]) {
    if (!works(binary)) throw new Error(`node_modules/.bin/${binary} does not run after install`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensureDeps();
