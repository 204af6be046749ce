/**
 * Moves 1 GiB (128 MiB with `--quick`) from a child process to this one three
 * ways, in the same run: a SharedMemory ring buffer, a pipe, and a Unix
 * socket. Prints the median MB/s of each over ROUNDS interleaved rounds and
 * the median, over rounds, of SharedMemory's ratio to the faster of the two
 * (rounds are interleaved so a slow spell of the machine hits all three).
 *
 * Run: `node --experimental-ffi --no-warnings bench/shared_memory_transfer.ts [--quick]`,
 * `deno run -A bench/shared_memory_transfer.ts`, `bun bench/shared_memory_transfer.ts`.
 *
 * The ring: a 64-byte header holding two counters (chunks written, chunks
 * read) and SLOTS slots of CHUNK bytes. The producer copies a prepared chunk
 * into a free slot — the one copy, where a pipe makes two plus syscalls — and
 * stamps its sequence number; the consumer checks the stamp and the chunk's
 * last byte in place (no copy: that is the point of shared memory) and frees
 * the slot. Atomics.wait cannot wake across processes, so both sides poll
 * with Atomics.load, and after SPINS polls sleep 50 µs: two pure spinners on
 * a two-CPU machine stall whenever anything else needs a CPU.
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { SharedMemory } from "../mod.ts";

const CHUNK = 1 << 20;
const SLOTS = 16;
const HEADER = 64;
const ROUNDS = 5;
const SPINS = 1000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Waits until `ready()`: polls, then naps so a waiting side gives its CPU
 * back. Gives up after 60 s, so a dead peer cannot hang the run.
 */
function waitUntil(ready: () => boolean): void {
  let deadline = 0;
  for (let polls = 0; !ready(); polls++) {
    if (polls < SPINS) continue;
    deadline ||= performance.now() + 60_000;
    if (performance.now() > deadline) throw new Error("the other process stopped moving the ring");
    Atomics.wait(sleeper, 0, 0, 0.05);
  }
}
const script = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const total = args.includes("--quick") ? 128 * CHUNK : 1024 * CHUNK;
const chunks = total / CHUNK;

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.versions.node}`;
}

function childCommand(role: string, extra: string): [string, string[]] {
  const globals = globalThis as { Deno?: unknown; Bun?: unknown };
  const common = [script, "--role", role, extra, "--chunks", String(chunks)];
  if (globals.Deno) return [process.execPath, ["run", "-A", ...common]];
  if (globals.Bun) return [process.execPath, common];
  return [process.execPath, ["--experimental-ffi", "--no-warnings", ...common]];
}

function prepared(): Uint8Array {
  const chunk = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) chunk[i] = i & 0xff;
  return chunk;
}

// ---- children ---------------------------------------------------------------

async function produceToStream(stream: NodeJS.WritableStream, count: number): Promise<void> {
  const chunk = prepared();
  for (let i = 0; i < count; i++) {
    if (!stream.write(chunk)) await new Promise((resolve) => stream.once("drain", resolve));
  }
  await new Promise<void>((resolve) => stream.end(resolve));
}

function produceToRing(name: string, count: number): void {
  using region = SharedMemory.open(name);
  const bytes = region.bytes;
  const counters = new Int32Array(bytes.buffer, bytes.byteOffset, 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const chunk = prepared();
  for (let sequence = 0; sequence < count; sequence++) {
    waitUntil(() => sequence - Atomics.load(counters, 1) < SLOTS); // ring full: wait for the reader
    const offset = HEADER + (sequence % SLOTS) * CHUNK;
    bytes.set(chunk, offset);
    view.setUint32(offset, sequence, true);
    Atomics.store(counters, 0, sequence + 1);
  }
}

// ---- parent -----------------------------------------------------------------

function spawnChild(role: string, extra: string, stdout: "pipe" | "ignore") {
  const [command, commandArgs] = childCommand(role, extra);
  return spawn(command, commandArgs, { stdio: ["ignore", stdout, "inherit"] });
}

function exited(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on("close", (code) => code === 0 ? resolve() : reject(new Error(`child exited with ${code}`)));
  });
}

/** Counts bytes from a stream; times from the first byte to the last. */
function consumeStream(stream: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let start = 0;
    stream.on("data", (data: Uint8Array) => {
      if (received === 0) start = performance.now();
      received += data.length;
    });
    stream.on("end", () => {
      if (received !== total) reject(new Error(`received ${received} of ${total} bytes`));
      else resolve(performance.now() - start);
    });
  });
}

async function viaPipe(): Promise<number> {
  const child = spawnChild("pipe", "-", "pipe");
  const [ms] = await Promise.all([consumeStream(child.stdout!), exited(child)]);
  return ms;
}

async function viaSocket(): Promise<number> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-bench-"));
  const socketPath = path.join(directory, "transfer.sock");
  try {
    const server = net.createServer();
    const connection = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const child = spawnChild("socket", socketPath, "ignore");
    const [ms] = await Promise.all([connection.then(consumeStream), exited(child)]);
    server.close();
    return ms;
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function viaSharedMemory(): Promise<number> {
  const region = SharedMemory.create({ size: HEADER + SLOTS * CHUNK });
  try {
    const bytes = region.bytes;
    const counters = new Int32Array(bytes.buffer, bytes.byteOffset, 2);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const child = spawnChild("ring", region.name!, "ignore");
    const done = exited(child);
    let start = 0;
    for (let sequence = 0; sequence < chunks; sequence++) {
      waitUntil(() => Atomics.load(counters, 0) > sequence); // ring empty: wait for the writer
      if (sequence === 0) start = performance.now();
      const offset = HEADER + (sequence % SLOTS) * CHUNK;
      if (view.getUint32(offset, true) !== sequence) throw new Error(`chunk ${sequence} out of order`);
      if (bytes[offset + CHUNK - 1] !== 0xff) throw new Error(`chunk ${sequence} incomplete`);
      Atomics.store(counters, 1, sequence + 1);
    }
    const ms = performance.now() - start;
    await done;
    return ms;
  } finally {
    region.unlink();
    region.close();
  }
}

async function main(): Promise<void> {
  const role = args[args.indexOf("--role") + 1];
  if (args.includes("--role")) {
    const count = Number(args[args.indexOf("--chunks") + 1]);
    const target = args[args.indexOf("--role") + 2];
    if (role === "pipe") await produceToStream(process.stdout, count);
    if (role === "socket") {
      const socket = net.createConnection(target);
      await new Promise((resolve) => socket.once("connect", resolve));
      await produceToStream(socket, count);
    }
    if (role === "ring") produceToRing(target, count);
    return;
  }

  const mbps = (ms: number) => total / 1e6 / (ms / 1000);
  const results: Record<"sharedMemory" | "pipe" | "socket", number[]> = { sharedMemory: [], pipe: [], socket: [] };
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    results.sharedMemory.push(mbps(await viaSharedMemory()));
    results.pipe.push(mbps(await viaPipe()));
    results.socket.push(mbps(await viaSocket()));
    ratios.push(results.sharedMemory[round] / Math.max(results.pipe[round], results.socket[round]));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const range = (values: number[]) =>
    `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`.padStart(13);
  const line = (label: string, values: number[]) =>
    console.log(`  ${label.padEnd(18)} ${median(values).toFixed(0).padStart(7)} MB/s   (rounds: ${range(values)})`);
  console.log(
    `${runtimeName()}: moving ${total / CHUNK} MiB child -> parent, median of ${ROUNDS} rounds, ` +
      `${os.cpus().length} CPUs`,
  );
  line("SharedMemory ring", results.sharedMemory);
  line("pipe", results.pipe);
  line("Unix socket", results.socket);
  console.log(
    `  SharedMemory / faster of pipe and socket: ${median(ratios).toFixed(1)}x ` +
      `(rounds: ${ratios.map((ratio) => ratio.toFixed(1)).join(", ")})`,
  );
}

await main();
