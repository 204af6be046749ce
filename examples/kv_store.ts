/**
 * A tiny persistent key-value store on a BlockFile: each value lives in its
 * own blocks, and the index (key → offset, length) is the file's control data.
 * `sync()` commits values and index together, so a crash never mixes them.
 *
 * Run: `deno run -A examples/kv_store.ts`, `bun examples/kv_store.ts`,
 * `node --experimental-ffi examples/kv_store.ts`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockFile } from "../mod.ts";

type Index = Record<string, [offset: number, length: number]>;

export class KvStore implements Disposable {
  #blocks: BlockFile;
  #index: Index;

  constructor(file: string) {
    this.#blocks = fs.existsSync(file) ? BlockFile.open(file) : BlockFile.create(file);
    const control = new TextDecoder().decode(this.#blocks.controlData());
    this.#index = control ? JSON.parse(control) : {};
  }

  put(key: string, value: string): void {
    this.delete(key);
    const bytes = new TextEncoder().encode(value);
    const blocks = Math.max(1, Math.ceil(bytes.length / this.#blocks.blockSize));
    const offset = this.#blocks.allocateBlocks(blocks);
    this.#blocks.with(offset, blocks, (view) => view.set(bytes));
    this.#index[key] = [offset, bytes.length];
    this.#commit();
  }

  get(key: string): string | undefined {
    const entry = this.#index[key];
    if (!entry) return undefined;
    const [offset, length] = entry;
    const blocks = Math.max(1, Math.ceil(length / this.#blocks.blockSize));
    return this.#blocks.with(offset, blocks, (view) => new TextDecoder().decode(view.subarray(0, length)));
  }

  delete(key: string): void {
    const entry = this.#index[key];
    if (!entry) return;
    const [offset, length] = entry;
    const blocks = Math.max(1, Math.ceil(length / this.#blocks.blockSize));
    for (let i = 0; i < blocks; i++) this.#blocks.free(offset + i * this.#blocks.blockSize);
    delete this.#index[key];
    this.#commit();
  }

  #commit(): void {
    this.#blocks.setControlData(new TextEncoder().encode(JSON.stringify(this.#index)), { sync: false });
    this.#blocks.sync();
  }

  [Symbol.dispose](): void {
    this.#blocks.close();
  }
}

const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kv-")), "store.db");
{
  using store = new KvStore(file);
  store.put("greeting", "hello, blocks");
  store.put("big", "x".repeat(10_000));
  store.put("gone", "soon");
  store.delete("gone");
}
{
  using store = new KvStore(file);
  console.log(`greeting = ${store.get("greeting")}`);
  console.log(`big has ${store.get("big")?.length} characters`);
  console.log(`gone = ${store.get("gone")}`);
}
fs.rmSync(path.dirname(file), { recursive: true, force: true });
