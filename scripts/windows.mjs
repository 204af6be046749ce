// The Windows leg of `npm test`: the suite under Bun for Windows (x64), run by
// Wine on an x86-64 Linux machine.
//
// What it needs (CI's .ci/run installs it; on a developer's machine the leg is
// skipped with a message saying what is missing):
// - Wine's 64-bit loader (Debian: wine64, which puts it at /usr/lib/wine/wine64);
// - the MinGW-w64 C compiler (Debian: gcc-mingw-w64-x86-64), for the one stub
//   DLL below;
// - Bun for Windows, installed here from npm into .windows/ (git-ignored) at
//   the version package.json pins for Linux.
//
// Bun 1.4.5 for Windows imports ProcessPrng from bcryptprimitives.dll, which
// Wine 8.0 does not have: scripts/windows/bcryptprimitives.c exports it over
// RtlGenRandom, and is built at test time and placed beside bun.exe, where
// the loader looks first. Deno and Node for Windows do not start under this
// Wine (V8 aborts reserving its address space), so the leg runs on Bun only;
// their Windows bindings are built from the same tables and checked on Linux.
//
// Plain JavaScript that runs on Node 20 too, like test.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Debian's wine64 package installs its loader here, not on PATH. */
export const WINE = "/usr/lib/wine/wine64";
const MINGW_GCC = "x86_64-w64-mingw32-gcc";
const STUB_SOURCE = join("scripts", "windows", "bcryptprimitives.c");

/**
 * Why the Windows leg cannot run on this machine, or `null` when it can: an
 * x86-64 Linux host with Wine's 64-bit loader and the MinGW-w64 compiler.
 */
export function windowsMissing() {
  if (process.platform !== "linux") return `this is ${process.platform}: the leg runs Bun for Windows under Wine on Linux`;
  if (process.arch !== "x64") return `this is linux-${process.arch}, not x86-64 (Bun for Windows is an x86-64 program)`;
  if (!existsSync(WINE)) return `no ${WINE} (apt-get install wine64)`;
  try {
    execFileSync(MINGW_GCC, ["--version"], { stdio: "ignore" });
  } catch {
    return `no ${MINGW_GCC} to build the bcryptprimitives.dll stub (apt-get install gcc-mingw-w64-x86-64)`;
  }
  return null;
}

/**
 * Installs Bun for Windows into .windows/ when missing or at another version
 * (without touching the project's own node_modules or lock file), builds the
 * ProcessPrng stub beside bun.exe when its source is newer, and returns the
 * path of bun.exe.
 */
export function ensureWindowsBun(root) {
  const directory = join(root, ".windows");
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies.bun;
  const name = "@oven/bun-windows-x64-baseline";
  const spec = `${name}@${version}`;
  const stamp = join(directory, "installed.json");
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== JSON.stringify([spec])) {
    console.log(`memmapfs: installing Bun for Windows into .windows/ (${spec}) …`);
    mkdirSync(directory, { recursive: true });
    // --force: npm refuses a package for another OS otherwise.
    execFileSync("npm", [
      "install", "--prefix", directory, "--no-save", "--no-package-lock", "--force", "--ignore-scripts",
      "--no-audit", "--no-fund", "--loglevel=error", spec,
    ], { cwd: directory, stdio: "inherit" });
    writeFileSync(stamp, JSON.stringify([spec]));
  }
  const bunDirectory = join(directory, "node_modules", name, "bin");
  const bun = join(bunDirectory, "bun.exe");
  if (!existsSync(bun)) throw new Error(`${bun} is missing after npm install`);
  const source = join(root, STUB_SOURCE);
  const dll = join(bunDirectory, "bcryptprimitives.dll");
  if (!existsSync(dll) || statSync(dll).mtimeMs < statSync(source).mtimeMs) {
    execFileSync(MINGW_GCC, ["-shared", "-O2", "-s", "-o", dll, source, "-ladvapi32"], { stdio: "inherit" });
  }
  return bun;
}

/** `/a/b` as Wine shows the Linux file system to Windows programs: drive Z:. */
export function winePath(path) {
  return `Z:${path.replaceAll("/", "\\")}`;
}

/**
 * The environment of the Windows step. The Wine prefix (Wine's C: drive and
 * registry) is made once under .windows/ and reused: a fresh one costs
 * seconds. Tests spawn children with process.execPath (bun.exe under the
 * same Wine); the Linux runtimes' paths mean nothing to a Windows process.
 */
export function windowsEnv(env, root, bun) {
  const prefix = join(root, ".windows", "wineprefix");
  mkdirSync(prefix, { recursive: true });
  const windows = {
    ...env, WINEPREFIX: prefix, WINEDEBUG: "-all", MEMMAPFS_BUN: winePath(bun), MEMMAPFS_WINE: "1",
    MEMMAPFS_WINE_LINKS: winePath(linkFixture(root)),
  };
  delete windows.MEMMAPFS_DENO;
  delete windows.MEMMAPFS_NODE;
  return windows;
}

/**
 * A directory with symbolic links that lead out of it, for the confinement
 * tests: a Windows program under Wine cannot make a Unix symlink, and Wine
 * shows Unix symlinks to it as the files they lead to, as a Windows link
 * would be followed. Made fresh for each run under .windows/.
 */
function linkFixture(root) {
  const fixture = join(root, ".windows", "link-fixture");
  rmSync(fixture, { recursive: true, force: true });
  mkdirSync(join(fixture, "base", "inside"), { recursive: true });
  writeFileSync(join(fixture, "outside.txt"), "outside");
  writeFileSync(join(fixture, "base", "inside", "kept.txt"), "inside");
  symlinkSync("../outside.txt", join(fixture, "base", "file-link.txt"));
  symlinkSync("..", join(fixture, "base", "up"));
  symlinkSync("inside/kept.txt", join(fixture, "base", "inner-link.txt"));
  return fixture;
}

/**
 * Bun for Windows says this when it reads a project file through a handle
 * Wine opened as a directory; harmless (Bun's words: "You don't need to do
 * anything") and hidden by test.mjs.
 */
export const WINDOWS_NOISE = /^Internal error: directory mismatch for directory "Z:\\.*", fd \d+\[handle\]\. You don't need to do anything/;

const NEEDS_PROC = "reads /proc (descriptors, maps, smaps, status), which Windows does not have";
const NEEDS_SIGNALS = "kills children with POSIX signals (SIGKILL, SIGBUS) or sets rlimits through bash";
const POSIX_LIBC = "swaps in or calls the POSIX Libc (useLibc, FaultyLibc, libc()) in its tests: Windows calls kernel32";
const POSIX_ONLY = "tests POSIX behaviour (file modes, uids, symlinks, FIFOs, O_NOFOLLOW, flock) that Windows does not have";
// Windows semantics the test asserts otherwise, or the upper layer does not handle yet:
const NO_LINKS = "makes symbolic links with node:fs, which Bun for Windows under Wine silently does not (Windows links need a privilege)";
const SHM_LIFETIME =
  "expects a named region to outlive its handles until unlink(): on Windows a named object lives exactly as long as " +
  "some process holds a handle or a view of it";
const BACKSLASH_SHM = "SharedMemory.open(\"C:\\…\") takes a backslashed Windows path for a shared memory name (only '/' marks a path)";

/**
 * Test files the Windows leg leaves out, each with its reason. Everything else
 * in tests/ runs under Bun for Windows; the windows_*.test.ts files test the
 * Windows back-end (kernel32, the platform, its DirectoryRoot, the public
 * classes over it) directly.
 */
export const WINDOWS_LEFT_OUT = {
  "block_file.test.ts": "file: URLs become '/C:/…' paths above the seam (toPath); some tests swap in a FaultyLibc",
  "block_file_crash_images.test.ts": POSIX_LIBC,
  "block_file_errors.test.ts": POSIX_LIBC,
  "block_file_faults.test.ts": POSIX_LIBC,
  "block_file_lock.test.ts": POSIX_LIBC + " (flock faults); windows_public_api holds a BlockFile against a second opener",
  "cli.test.ts": "reads VmLck from /proc, walks POSIX symlinks, counts pages like fincore; `lock` waits for a POSIX signal",
  "constants.test.ts": "checks the running platform's POSIX table against headers; kernel32_tables checks the Windows one",
  "contract_gaps.test.ts": POSIX_LIBC + "; reads /proc/self",
  "darwin_paths.test.ts": "runs the Darwin code paths on the running POSIX libc",
  "fault_sweep.test.ts": POSIX_LIBC,
  "hostile_input.test.ts": POSIX_LIBC + "; expects chown to take any uid (Windows: ENOTSUP)",
  "lazy_libc.test.ts": "asserts a child's stderr is empty; Bun for Windows under Wine writes 'Internal error: directory mismatch' there",
  "mapped_file_basic.test.ts": "asserts POSIX modes of created files (0600), file: URLs (toPath) and shared anonymous growth (memfd)",
  "mapped_file_durability.test.ts": NEEDS_SIGNALS,
  "mapped_file_faults.test.ts": POSIX_LIBC,
  "mapped_file_large.test.ts": POSIX_LIBC + " (a simulated buffer limit)",
  "mapped_file_memory.test.ts": NEEDS_PROC,
  "mapped_file_safety.test.ts": NEEDS_SIGNALS,
  "mapped_file_streams.test.ts": NEEDS_PROC + " (a stream's descriptor and mapping)",
  "mapped_file_window.test.ts": POSIX_LIBC + "; counts windows in /proc/self/maps",
  "mapped_file_window_views.test.ts": "counts mappings in /proc/self/maps",
  "memmapfs.test.ts": NO_LINKS + "; asserts POSIX modes",
  "memmapfs_cache.test.ts": POSIX_LIBC + "; renames over a file the cache maps, which Windows refuses (EACCES) while the view lives",
  "memmapfs_confinement.test.ts": POSIX_ONLY + " (openat2, the openat walk, symlink races)",
  "memmapfs_confinement_race.test.ts": POSIX_ONLY + " (a symlink-swapping attacker)",
  "memmapfs_flags.test.ts": "asserts the umask and the modes of created files (POSIX)",
  "memmapfs_read_rewrite.test.ts": "a second process cuts and rewrites a file this one maps, which Windows refuses (error 1224)",
  "memmapfs_truncation.test.ts": "a second process truncates a mapped file: Windows refuses that (error 1224) by design",
  "model_fuzz_memmapfs.test.ts": "removes its trees with node:fs rmSync, which fails under Bun for Windows on Wine (EFAULT)",
  "nonregular_files.test.ts": POSIX_ONLY,
  "readonly_stray_write.test.ts": NEEDS_PROC,
  "reliability_kill.test.ts": NEEDS_SIGNALS,
  "reliability_soak.test.ts": NEEDS_PROC,
  "reliability_truncation.test.ts": "processes cut files under each other's mappings, which Windows refuses (error 1224)",
  "seed_examples_memmapfs.test.ts":
    "its cleanup deletes test.txt while an example's MemMapFS cache still maps it, which Windows refuses (EPERM) " +
    "while a view lives; its examples pass",
  "shared_anonymous_growth.test.ts": "grows shared anonymous memory through memfd_create, which Windows does not have",
  "shared_memory.test.ts": POSIX_LIBC + "; POSIX modes and owners of regions",
  "shared_memory_faults.test.ts": POSIX_LIBC,
  "shared_memory_processes.test.ts": SHM_LIFETIME + "; windows_platform shares named memory between two Windows processes",
  "shared_memory_python.test.ts": "runs a Python peer; Windows Python is not installed under Wine",
  "shared_memory_seed_examples.test.ts": SHM_LIFETIME,
  "shm_mutex.test.ts": "futex-based SharedMutex; Windows has no address wait across processes here yet (named events)",
  "shm_ring.test.ts": "futex-based SharedRing; Windows has no address wait across processes here yet (named events)",
  "shm_wait_notify.test.ts": "futex wait/notify; Windows has no address wait across processes here yet (named events)",
  "variadic_abi.test.ts": "checks the libc bindings against the running POSIX libc in its last step",
  "workers.test.ts": SHM_LIFETIME + "; " + BACKSLASH_SHM,
  "write_from_own_view.test.ts": "grows shared anonymous memory (memfd) and swaps in a FaultyLibc",
};

/** The suite files the Windows leg runs: `suite` minus the files left out. */
export function windowsSuite(suite) {
  const name = (file) => file.replace(/^.*\//, "");
  return suite.filter((file) => !(name(file) in WINDOWS_LEFT_OUT));
}
