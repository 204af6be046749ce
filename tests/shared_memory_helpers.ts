// Utilities of the SharedMemory suites: names that are removed from /dev/shm
// after the suite even when a test fails (each file calls
// `after(removeTracked)` at its top level), and looks at this process's own
// descriptors and mappings of an object.
import * as fs from "node:fs";

const created = new Set<string>();

/** Registers `name` (with or without its slash) to be removed from /dev/shm by `removeTracked`. */
export function track(name: string | null): string {
  if (name === null) throw new Error("A file-backed region has no shared-memory name");
  created.add(name.replace(/^\//, ""));
  return name;
}

/** A name nobody else uses, removed after the suite. */
export function uniqueName(label = "t"): string {
  const random = Math.random().toString(36).slice(2, 10);
  return track(`memmapfs_${label}_${process.pid}_${created.size}_${random}`);
}

/** Whether a shared-memory object of this name exists. */
export function shmExists(name: string): boolean {
  return fs.existsSync(`/dev/shm/${name.replace(/^\//, "")}`);
}

/** Removes every tracked object that is still there. */
export function removeTracked(): void {
  for (const name of created) fs.rmSync(`/dev/shm/${name}`, { force: true });
  created.clear();
}

/** This process's descriptors open on `target` (a /dev/shm name or a file path). */
export function descriptorsOn(target: string): number[] {
  const wanted = target.startsWith("/") && target.includes("/", 1) ? target : `/dev/shm/${target}`;
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc/self/fd")) {
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${entry}`);
      if (link === wanted || link === `${wanted} (deleted)`) found.push(Number(entry));
    } catch { /* the descriptor readdir itself used is gone by now */ }
  }
  return found;
}

/** Lines of /proc/self/maps that map `target` (a /dev/shm name or a file path). */
export function mappingsOn(target: string): string[] {
  const wanted = target.startsWith("/") && target.includes("/", 1) ? target : `/dev/shm/${target}`;
  return fs.readFileSync("/proc/self/maps", "utf8").split("\n").filter((line) =>
    line.endsWith(` ${wanted}`) || line.endsWith(` ${wanted} (deleted)`)
  );
}

/** The open flags of descriptor `fd`, from /proc/self/fdinfo (an octal field). */
export function descriptorFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
  const flags = info.match(/^flags:\s+([0-7]+)$/m);
  if (!flags) throw new Error(`No flags in /proc/self/fdinfo/${fd}`);
  return Number.parseInt(flags[1], 8);
}

/** O_CLOEXEC on Linux. */
export const O_CLOEXEC = 0o2000000;
