// The worker side of workers.test.ts: maps what the test shares and answers
// one task. Run only as a worker thread.
import { parentPort, workerData } from "node:worker_threads";
import { MappedFile, SharedMemory } from "../mod.ts";
import type { SharedMappedFile, SharedRegion } from "../mod.ts";

type Task =
  | { task: "scan"; shared: SharedMappedFile; from: number; to: number; markers: number[] }
  | { task: "region"; shared: SharedRegion };

const data = workerData as Task;

/** Sum of the little-endian uint32 values in [from, to), read in 64 MiB views. */
function sumOf(file: MappedFile, from: number, to: number): number {
  let sum = 0;
  for (let at = from; at < to; at += 64 * 2 ** 20) {
    const view = file.subarray(at, Math.min(at + 64 * 2 ** 20, to));
    const words = new Uint32Array(view.buffer, view.byteOffset, view.length / 4);
    for (let i = 0; i < words.length; i++) sum += words[i];
  }
  return sum;
}

if (data.task === "scan") {
  const file = MappedFile.fromShared(data.shared);
  const sum = sumOf(file, data.from, data.to);
  const markers = data.markers.map((offset) => file.getUint32(offset, true));
  parentPort!.postMessage({ size: file.size, sum, markers });
  // Stays mapped until told, so the test measures memory while every worker
  // maps the file. terminate() runs no disposal: close first.
  parentPort!.once("message", () => {
    file.close();
    parentPort!.postMessage("closed");
  });
} else {
  const region = SharedMemory.fromShared(data.shared);
  const counters = new Int32Array(region.bytes.buffer, region.bytes.byteOffset, 2);
  Atomics.store(counters, 1, 1234);
  Atomics.add(counters, 0, 1);
  parentPort!.once("message", () => {
    // The owner closed its side by now: this mapping is still ours.
    parentPort!.postMessage({ value: Atomics.load(counters, 1), first: region.bytes[8] });
    region.close();
    parentPort!.postMessage("closed");
  });
  parentPort!.postMessage("ready");
}
