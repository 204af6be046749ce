/**
 * The runtime's own ways to reach file bytes that the workloads race against:
 * positional reads (node:fs everywhere, `FsFile` seek + read on Deno),
 * `Bun.mmap` on Bun, and npm memory-mapping addons where they load.
 *
 * @module
 */

import * as fs from "node:fs";
import { createRequire } from "node:module";

/** Reads `target.length` bytes at `offset` into `target`. */
export type PositionalRead = (target: Uint8Array, offset: number) => number;

export interface PositionalPeer {
  name: string;
  read: PositionalRead;
  close: () => void;
}

interface DenoFile {
  seekSync(offset: number, whence: number): number;
  readSync(target: Uint8Array): number | null;
  close(): void;
}
type DenoGlobal = { openSync(path: string): DenoFile; SeekMode: { Start: number } };
type BunGlobal = { mmap(path: string, options?: { shared?: boolean }): Uint8Array };

/** Every positional read this runtime offers, each on its own open file. */
export function positionalPeers(path: string): PositionalPeer[] {
  const fd = fs.openSync(path, "r");
  const peers: PositionalPeer[] = [{
    name: "fs.readSync(position)",
    read: (target, offset) => fs.readSync(fd, target, 0, target.length, offset),
    close: () => fs.closeSync(fd),
  }];
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno) {
    const file = deno.openSync(path);
    const start = deno.SeekMode.Start;
    peers.push({
      name: "FsFile seek + read",
      read: (target, offset) => {
        file.seekSync(offset, start);
        return file.readSync(target) ?? 0;
      },
      close: () => file.close(),
    });
  }
  return peers;
}

/** `Bun.mmap` of the whole file, or null off Bun. */
export function bunMmap(path: string): Uint8Array | null {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  return bun ? bun.mmap(path, { shared: true }) : null;
}

/** The `.node` files node-gyp left in the package's build/Release. */
function compiledAddons(dir: string): string[] {
  try {
    return fs.readdirSync(`${dir}/build/Release`).filter((name) => name.endsWith(".node")).map((name) => `${dir}/build/Release/${name}`);
  } catch {
    return [];
  }
}

interface MmapIoModule {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Uint8Array;
  advise(buffer: Uint8Array, advice: number): void;
  PROT_READ: number;
  MAP_SHARED: number;
  MADV_NORMAL: number;
}

export interface AddonPeer {
  name: string;
  map(fd: number, size: number): Uint8Array;
  advise(view: Uint8Array): void;
}

/**
 * The npm mmap addons the driver installed (`--addons=name=dir,...`), each
 * loaded here, or why not: an addon built for one Node ABI may not load on
 * another runtime, and that is a result, not a failure.
 */
export function addonPeers(spec: string | undefined): { loaded: AddonPeer[]; failed: { name: string; reason: string }[] } {
  const loaded: AddonPeer[] = [];
  const failed: { name: string; reason: string }[] = [];
  const require = createRequire(import.meta.url);
  for (const entry of (spec ?? "").split(",").filter(Boolean)) {
    const [name, dir] = entry.split("=");
    const reasons: string[] = [];
    // The package's own loader first; then its compiled addon directly, which
    // tells "built for another ABI" apart from "the loader looked elsewhere".
    for (const target of [dir, ...compiledAddons(dir)]) {
      try {
        const addon = require(target) as MmapIoModule;
        if (typeof addon.map !== "function") throw new Error("no map() export");
        loaded.push({
          name,
          map: (fd, size) => addon.map(size, addon.PROT_READ, addon.MAP_SHARED, fd, 0),
          advise: (view) => addon.advise(view, addon.MADV_NORMAL),
        });
        break;
      } catch (error) {
        const message = String((error as Error).message ?? error).split("\n")[0].replace(dir, "…").slice(0, 140);
        reasons.push(`${target === dir ? "package" : "build/Release addon"}: ${message}`);
      }
    }
    if (!loaded.some((peer) => peer.name === name)) failed.push({ name, reason: `did not load: ${reasons.join("; ")}` });
  }
  return { loaded, failed };
}
