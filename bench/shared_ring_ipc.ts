/**
 * Messages between two processes, side by side in one run: one-way
 * throughput of 64-byte messages and ping-pong round-trip latency (p50, p99)
 * for `SharedRing` (blocking consumer: `popWait`), a Unix socket, a pipe, and
 * — the in-process baseline — `postMessage` between worker threads.
 *
 * Run: `node --experimental-ffi --no-warnings bench/shared_ring_ipc.ts [--quick]`,
 * `deno run -A bench/shared_ring_ipc.ts`, `bun bench/shared_ring_ipc.ts`.
 *
 * Each transport moves MESSAGES one way (the consumer confirms the count,
 * and the clock stops at its confirmation), then makes ROUND_TRIPS ping-pongs
 * of one message each way, timing every round trip. Sockets and pipes write
 * each message with its own write() (that is what "a message" costs there);
 * the reader counts bytes. The ring's consumer pops with `popInto` and sleeps
 * in the kernel (`popWait`) when the ring is empty; the producer pushes and
 * sleeps in `pushWait` when it is full.
 *
 * @module
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { SharedMemory, SharedRing } from "../mod.ts";

const SIZE = 64;
const script = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const MESSAGES = quick ? 200_000 : 1_000_000;
const ROUND_TRIPS = quick ? 5_000 : 20_000;

function runtimeName(): string {
  const globals = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (globals.Deno) return `Deno ${globals.Deno.version.deno}`;
  if (globals.Bun) return `Bun ${globals.Bun.version}`;
  return `Node ${process.versions.node}`;
}

function childArgs(role: string, ...rest: string[]): [string, string[]] {
  const globals = globalThis as { Deno?: unknown; Bun?: unknown };
  const common = [script, "--role", role, ...rest];
  if (globals.Deno) return [process.execPath, ["run", "-A", ...common]];
  if (globals.Bun) return [process.execPath, common];
  return [process.execPath, ["--experimental-ffi", "--no-warnings", ...common]];
}

function spawnChild(role: string, ...rest: string[]) {
  const [command, argv] = childArgs(role, ...rest);
  const child = spawn(command, argv, { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve, reject) =>
    child.on("close", (status) => status === 0 ? resolve() : reject(new Error(`${role} child exited ${status}`)))
  );
  return { child, exited };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

interface Result {
  transport: string;
  perSecond: number;
  p50: number;
  p99: number;
  /** Where the ring's time goes (SharedRing only). */
  notes?: string;
}

// ---- SharedRing --------------------------------------------------------------

/** Child: pops `count` messages, then sets word 0 of the control region and notifies. */
function ringConsumer(ringName: string, controlName: string, count: number): void {
  using ring = SharedRing.open(ringName);
  using control = SharedMemory.open(controlName);
  const words = new Int32Array(control.bytes.buffer, control.bytes.byteOffset, 4);
  const target = new Uint8Array(SIZE);
  Atomics.store(words, 1, 1);
  control.notify(4);
  let checksum = 0;
  for (let received = 0; received < count; received++) {
    if (ring.popInto(target) === null && ring.popWait() !== null) { /* counted below */ }
    checksum += target[0];
  }
  Atomics.store(words, 0, 1);
  control.notify(0);
  console.log(checksum);
}

/** Child: echoes every message of `ping` into `pong`, `count` times. */
function ringEcho(pingName: string, pongName: string, count: number): void {
  using ping = SharedRing.open(pingName);
  using pong = SharedRing.open(pongName);
  const target = new Uint8Array(SIZE);
  pong.push("ready");
  for (let i = 0; i < count; i++) {
    let length = ping.popInto(target);
    if (length === null) {
      const message = ping.popWait()!;
      target.set(message);
      length = message.length;
    }
    pong.pushWait(target.subarray(0, length));
  }
}

async function benchRing(): Promise<Result> {
  const message = new Uint8Array(SIZE).fill(7);
  // One way.
  const ring = SharedRing.create({ capacity: 4096, maxMessage: SIZE });
  const control = SharedMemory.create({ size: 64 });
  const words = new Int32Array(control.bytes.buffer, control.bytes.byteOffset, 4);
  const consumer = spawnChild("ring-consume", ring.name!, control.name!, String(MESSAGES));
  while (Atomics.load(words, 1) === 0) await control.waitAsync(4, 0, 100);
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) if (!ring.push(message)) ring.pushWait(message);
  control.wait(0, 0, 60_000);
  const seconds = (performance.now() - start) / 1000;
  await consumer.exited;
  // dataEvents counts the pushes that found the consumer asleep and woke it.
  const header = SharedMemory.open(ring.name!);
  const wakes = new Int32Array(header.bytes.buffer, header.bytes.byteOffset, 64)[192 / 4];
  header.close();
  ring.close();
  ring.unlink();
  control.close();
  control.unlink();
  // Ping-pong.
  const ping = SharedRing.create({ capacity: 64, maxMessage: SIZE });
  const pong = SharedRing.create({ capacity: 64, maxMessage: SIZE });
  const echo = spawnChild("ring-echo", ping.name!, pong.name!, String(ROUND_TRIPS));
  pong.popWait(60_000); // "ready"
  const times: number[] = [];
  const target = new Uint8Array(SIZE);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    ping.push(message);
    if (pong.popInto(target) === null) pong.popWait(60_000);
    times.push(performance.now() - t0);
  }
  await echo.exited;
  for (const r of [ping, pong]) {
    r.close();
    r.unlink();
  }
  times.sort((a, b) => a - b);
  // The parts: a push and a pop in one process (no other process, no system
  // call), and a notify with nobody to wake (the FFI call and the futex).
  const local = SharedRing.create({ capacity: 1024, maxMessage: SIZE });
  const spot = SharedMemory.create({ size: 64 });
  const rounds = 200_000;
  let t = performance.now();
  for (let i = 0; i < rounds; i++) {
    local.push(message);
    local.popInto(target);
  }
  const pairNs = (performance.now() - t) * 1e6 / rounds;
  t = performance.now();
  for (let i = 0; i < rounds / 10; i++) spot.notify(0);
  const notifyNs = (performance.now() - t) * 1e6 / (rounds / 10);
  local.close();
  local.unlink();
  spot.close();
  spot.unlink();
  const notes = `push+pop in one process ${Math.round(pairNs)} ns; notify() ${(notifyNs / 1000).toFixed(1)} µs; ` +
    `${(100 * wakes / MESSAGES).toFixed(1)}% of one-way pushes woke a sleeping consumer`;
  return {
    transport: "SharedRing (popWait)", perSecond: MESSAGES / seconds, p50: percentile(times, 0.5), p99: percentile(times, 0.99), notes,
  };
}

// ---- streams: Unix socket and pipe ------------------------------------------

/** Child side of a stream: counts `count` messages' bytes and answers "done", or echoes. */
async function streamChild(mode: "count" | "echo", input: NodeJS.ReadableStream, output: NodeJS.WritableStream, count: number) {
  let bytes = 0;
  const total = count * SIZE;
  await new Promise<void>((resolve) => {
    input.on("data", (chunk: Uint8Array) => {
      if (mode === "echo") {
        // Echo each complete message as it completes.
        const before = Math.floor(bytes / SIZE);
        bytes += chunk.length;
        for (let m = before; m < Math.floor(bytes / SIZE); m++) output.write(new Uint8Array(SIZE));
      } else {
        bytes += chunk.length;
      }
      if (bytes >= total) {
        if (mode === "count") output.write("done");
        resolve();
      }
    });
  });
}

async function benchStream(
  transport: string,
  open: (mode: "count" | "echo", count: number) => Promise<{ writer: NodeJS.WritableStream; reader: NodeJS.ReadableStream; exited: Promise<void>; end(): void }>,
): Promise<Result> {
  const message = new Uint8Array(SIZE).fill(7);
  // One way: one write() per message, honouring backpressure.
  const oneWay = await open("count", MESSAGES);
  const confirmed = new Promise<void>((resolve) => oneWay.reader.once("data", () => resolve()));
  const start = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    if (!oneWay.writer.write(message)) await new Promise((resolve) => oneWay.writer.once("drain", resolve));
  }
  await confirmed;
  const seconds = (performance.now() - start) / 1000;
  oneWay.end();
  await oneWay.exited;
  // Ping-pong.
  const pingPong = await open("echo", ROUND_TRIPS);
  const times: number[] = [];
  let received = 0;
  let wake: (() => void) | undefined;
  pingPong.reader.on("data", (chunk: Uint8Array) => {
    received += chunk.length;
    wake?.();
  });
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    const wanted = (i + 1) * SIZE;
    const arrived = new Promise<void>((resolve) => wake = () => received >= wanted && resolve());
    pingPong.writer.write(message);
    await arrived;
    times.push(performance.now() - t0);
  }
  pingPong.end();
  await pingPong.exited;
  times.sort((a, b) => a - b);
  return { transport, perSecond: MESSAGES / seconds, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function openPipe(mode: "count" | "echo", count: number) {
  const { child, exited } = spawnChild(`pipe-${mode}`, String(count));
  return Promise.resolve({ writer: child.stdin!, reader: child.stdout!, exited, end: () => child.stdin!.end() });
}

async function openSocket(mode: "count" | "echo", count: number) {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "memmapfs-ipc-"));
  const socketPath = path.join(directory, "ipc.sock");
  const server = net.createServer();
  const connection = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const { exited } = spawnChild(`socket-${mode}`, socketPath, String(count));
  const socket = await connection;
  socket.setNoDelay?.(true);
  return {
    writer: socket,
    reader: socket,
    exited: exited.finally(() => {
      server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    }),
    end: () => socket.end(),
  };
}

// ---- postMessage between worker threads (in-process baseline) ----------------

async function benchWorkers(): Promise<Result> {
  const message = new Uint8Array(SIZE).fill(7);
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: "worker" } });
  const next = () => new Promise<unknown>((resolve) => worker.once("message", resolve));
  await next(); // ready
  const counted = next();
  const start = performance.now();
  worker.postMessage({ count: MESSAGES });
  for (let i = 0; i < MESSAGES; i++) worker.postMessage(message);
  await counted;
  const seconds = (performance.now() - start) / 1000;
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    const echoed = next();
    worker.postMessage(message);
    await echoed;
    times.push(performance.now() - t0);
  }
  await worker.terminate();
  times.sort((a, b) => a - b);
  return { transport: "postMessage (worker threads)", perSecond: MESSAGES / seconds, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function workerMain(): void {
  let remaining = -1;
  parentPort!.on("message", (message: unknown) => {
    if (typeof message === "object" && message !== null && "count" in message) {
      remaining = (message as { count: number }).count;
      return;
    }
    if (remaining > 0) {
      if (--remaining === 0) parentPort!.postMessage("counted");
      return;
    }
    parentPort!.postMessage(message); // ping-pong
  });
  parentPort!.postMessage("ready");
}

// ---- main ------------------------------------------------------------------

async function main(): Promise<void> {
  const role = args[args.indexOf("--role") + 1];
  if (args.includes("--role")) {
    const [a, b, c] = args.slice(args.indexOf("--role") + 2);
    if (role === "ring-consume") return ringConsumer(a, b, Number(c));
    if (role === "ring-echo") return ringEcho(a, b, Number(c));
    if (role === "pipe-count" || role === "pipe-echo") {
      return streamChild(role === "pipe-count" ? "count" : "echo", process.stdin, process.stdout, Number(a));
    }
    const socket = net.createConnection(a);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.setNoDelay?.(true);
    await streamChild(role === "socket-count" ? "count" : "echo", socket, socket, Number(b));
    socket.end();
    return;
  }
  console.log(`${runtimeName()} on ${os.cpus().length} CPUs: ${MESSAGES} messages of ${SIZE} bytes one way, ${ROUND_TRIPS} round trips`);
  const results = [
    await benchRing(),
    await benchStream("Unix socket", openSocket),
    await benchStream("pipe", openPipe),
    await benchWorkers(),
  ];
  console.log("| transport | one way (msg/s) | round trip p50 (µs) | p99 (µs) |");
  console.log("|---|---:|---:|---:|");
  for (const r of results) {
    console.log(
      `| ${r.transport} | ${Math.round(r.perSecond).toLocaleString("en-US")} | ${(r.p50 * 1000).toFixed(1)} | ${(r.p99 * 1000).toFixed(1)} |`,
    );
  }
  for (const r of results) if (r.notes) console.log(`\n${r.transport}: ${r.notes}`);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === "worker") workerMain();
else await main();
