// npm memory-mapping packages as peers: each is installed into the run's temp
// directory (never the repository's node_modules), and whether it installed
// is a result to report, not a reason to stop the run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const NPM_PACKAGES = ["@riaskov/mmap-io", "mmap-io"];

/** [{ name, installed, dir?, reason? }] for every package in NPM_PACKAGES. */
export function installNpmPeers(tempDir) {
  return NPM_PACKAGES.map((name) => {
    // One directory per package: one failed native build must not undo another's install.
    const dir = join(tempDir, `npm-${name.replace(/[@/]/g, "_")}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "memmapfs-bench-peers", private: true }));
    const started = Date.now();
    const result = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", name], {
      cwd: dir,
      encoding: "utf8",
      timeout: 240_000,
    });
    const packageDir = join(dir, "node_modules", ...name.split("/"));
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    if (result.status === 0 && existsSync(packageDir)) {
      console.log(`  ${name}: installed (${seconds} s)`);
      return { name, installed: true, dir: packageDir };
    }
    const output = `${result.stderr ?? ""}${result.stdout ?? ""}${result.error ? String(result.error) : ""}`;
    const firstError = output.split("\n").find((line) => /error:|ERR!.*(not found|failed)|E404|ETIMEDOUT|ENOTFOUND/.test(line));
    const reason = `did not install: ${(firstError ?? output.split("\n").find(Boolean) ?? "npm failed").replace(/^npm error\s*/, "").trim().slice(0, 200)}`;
    console.log(`  ${name}: ${reason}`);
    return { name, installed: false, reason };
  });
}
