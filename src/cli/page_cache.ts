/**
 * The page-cache jobs of the `memmapfs` command, one file at a time: how much
 * of a file is resident (`mincore` over a read-only mapping), bringing it in
 * (`MADV_POPULATE_READ`, else `MADV_WILLNEED` and one read per page), dropping
 * it (`posix_fadvise(POSIX_FADV_DONTNEED)`, else `MADV_PAGEOUT`) and keeping
 * it in memory (`mlock`). Files are found by walking directories without
 * following symbolic links, as vmtouch does.
 *
 * @module
 */

import { MmapError } from "../errors.ts";
import { platform } from "../os/mod.ts";
import { FileDescriptor } from "../fs/file_descriptor.ts";
import { MappedFile } from "../fs/mapped_file.ts";
import { nodeBuiltins } from "../node_builtins.ts";

/**
 * What the walk found: regular files, the directories it went through, and
 * the paths it could not use, each with its reason.
 *
 * @example
 * ```ts ignore
 * const { files, directories, problems } = collectFiles(["/var/lib/data"]);
 * ```
 */
export interface Collected {
  files: string[];
  directories: number;
  problems: { path: string; message: string }[];
}

/**
 * The regular files under `paths` (files as given, directories walked
 * depth-first in name order). Symbolic links inside directories are skipped;
 * one named on the command line is reported as a problem.
 *
 * @example
 * ```ts ignore
 * collectFiles(["data", "index.bin"]).files; // ["data/a.bin", "data/sub/b.bin", "index.bin"]
 * ```
 */
export function collectFiles(paths: readonly string[]): Collected {
  const { fs, path: pathModule } = nodeBuiltins();
  const collected: Collected = { files: [], directories: 0, problems: [] };
  const visit = (path: string, named: boolean) => {
    let stat;
    try {
      stat = fs.lstatSync(path);
    } catch (error) {
      collected.problems.push({ path, message: (error as Error).message });
      return;
    }
    if (stat.isSymbolicLink()) {
      if (named) collected.problems.push({ path, message: "a symbolic link: name its target instead" });
      return;
    }
    if (stat.isDirectory()) {
      collected.directories++;
      let names: string[];
      try {
        names = fs.readdirSync(path).sort();
      } catch (error) {
        collected.problems.push({ path, message: (error as Error).message });
        return;
      }
      for (const name of names) visit(pathModule.join(path, name), false);
      return;
    }
    if (stat.isFile()) collected.files.push(path);
    else if (named) collected.problems.push({ path, message: "not a regular file or directory" });
  };
  for (const path of paths) visit(path, true);
  return collected;
}

/**
 * How many of a file's pages are in the page cache.
 *
 * @example
 * ```ts ignore
 * residency("index.bin"); // { size: 8192, pages: 2, resident: 1 }
 * ```
 */
export interface Residency {
  size: number;
  pages: number;
  resident: number;
}

/**
 * The residency of the file at `path`, measured with `mincore` over a
 * read-only mapping (which touches no page).
 *
 * @example
 * ```ts ignore
 * const { pages, resident } = residency("index.bin");
 * ```
 *
 * @throws {MmapError} When the file cannot be opened or mapped.
 */
export function residency(path: string): Residency {
  using file = MappedFile.open(path);
  const { pages, resident } = file.size === 0 ? { pages: 0, resident: 0 } : file.resident();
  return { size: file.size, pages, resident };
}

/** Bytes asked of the kernel at a time while warming: the unit of progress. */
const WARM_STEP = 64 * 2 ** 20;

/**
 * Reads the file at `path` into the page cache, `onProgress(done, total)`
 * after each step. Uses `MADV_POPULATE_READ` (Linux 5.14+), which faults the
 * pages in without a read per page; else `MADV_WILLNEED` and one read per
 * page.
 *
 * @example
 * ```ts ignore
 * warm("index.bin", (done, total) => console.log(done, total));
 * ```
 *
 * @throws {MmapError} When the file cannot be opened, mapped or read.
 */
export function warm(path: string, onProgress: (done: number, total: number) => void = () => {}): void {
  using file = MappedFile.open(path);
  const page = platform().pageSize;
  let populate = MappedFile.supportsAdvice("populate-read");
  for (let offset = 0; offset < file.size; offset += WARM_STEP) {
    const length = Math.min(WARM_STEP, file.size - offset);
    if (populate) {
      try {
        file.advise("populate-read", offset, length);
      } catch (error) {
        if (!(error instanceof MmapError) || error.code !== "EINVAL") throw error;
        populate = false;
      }
    }
    if (!populate) {
      file.advise("willneed", offset, length);
      for (let at = offset; at < offset + length; at += page) file.getUint8(at);
    }
    onProgress(offset + length, file.size);
  }
}

/**
 * Drops the file's clean pages from the page cache: `posix_fadvise(fd, 0, 0,
 * POSIX_FADV_DONTNEED)` where the platform has it, else `MADV_PAGEOUT` over a
 * mapping. Dirty pages stay until written back, as with `vmtouch -e`.
 *
 * @example
 * ```ts ignore
 * evict("index.bin");
 * ```
 *
 * @throws {MmapError} When the file cannot be opened or the kernel refuses.
 */
export function evict(path: string): void {
  const os = platform();
  if (os.adviseFile) {
    // Opened as every memmapfs open is (no following a link, regular files only).
    const file = FileDescriptor.open(os, path, { write: false });
    try {
      os.adviseFile(file.fd, 0, 0, "dontneed", path);
    } finally {
      file.close();
    }
    return;
  }
  using file = MappedFile.open(path);
  if (file.size > 0) file.advise("pageout");
}

/**
 * Maps every file in `paths` and `mlock`s it, like `vmtouch -l`; the returned
 * function lets them all go. A file that cannot be locked is reported through
 * `onProblem` and the rest stay locked.
 *
 * @example
 * ```ts ignore
 * const release = lockAll(files, (path, message) => console.error(path, message));
 * process.once("SIGINT", release);
 * ```
 */
export function lockAll(paths: readonly string[], onProblem: (path: string, message: string) => void): {
  locked: number;
  bytes: number;
  release(): void;
} {
  const held: MappedFile[] = [];
  let bytes = 0;
  for (const path of paths) {
    try {
      const file = MappedFile.open(path);
      if (file.size === 0) {
        file.close();
        continue;
      }
      try {
        file.lock();
      } catch (error) {
        file.close();
        throw error;
      }
      held.push(file);
      bytes += file.size;
    } catch (error) {
      onProblem(path, (error as Error).message);
    }
  }
  return {
    locked: held.length,
    bytes,
    release() {
      for (const file of held.splice(0)) file.close();
    },
  };
}
