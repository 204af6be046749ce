// Turns the workloads' raw contenders into comparisons (ours against each
// peer, measured in the same run) and renders them: console tables, the
// markdown report and the targets of issue 6.
import { describeMachine } from "./machine.mjs";
import { NPM_PACKAGES } from "./npm_peers.mjs";

export const TITLES = {
  random_read: "Random 4 KiB reads into a buffer",
  zero_copy: "Random zero-copy 4 KiB views",
  sequential_scan: "Sequential scan, counting newlines",
  sparse_touch: "Sparse touch, 1% of pages",
  write_chunks: "Write in 64 KiB chunks + durable",
  small_file: "Open, read, close a small file",
  ffi_overhead: "FFI overhead",
};

const MiB = 2 ** 20;

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The full runs a workload's result holds (one for results made before --runs). */
export function runsOf(workload) {
  return workload.runs?.length ? workload.runs : [{ contenders: workload.contenders }];
}

/**
 * A workload's contenders with the median over its runs of each value (time,
 * peak RSS), and each run's own values kept in `runValues`.
 */
export function mergeRuns(runs) {
  const names = [];
  const byName = new Map();
  for (const run of runs) {
    for (const contender of run.contenders) {
      if (!byName.has(contender.name)) {
        names.push(contender.name);
        byName.set(contender.name, []);
      }
      byName.get(contender.name).push(contender);
    }
  }
  return names.map((name) => {
    const all = byName.get(name);
    const merged = { ...all[0], value: median(all.map((c) => c.value)), runValues: all.map((c) => c.value) };
    if (all.every((c) => c.rssBytes)) merged.rssBytes = median(all.map((c) => c.rssBytes));
    if (all.every((c) => c.rssDeltaBytes != null)) merged.rssDeltaBytes = median(all.map((c) => c.rssDeltaBytes));
    return merged;
  });
}

/**
 * Like {@link compare}, with the spread over the runs: each row's `ratios`
 * holds the speed-up of every run (ours against the peer of the same run),
 * and `ratio` is their median.
 */
export function compareRuns(workload) {
  const runs = runsOf(workload);
  const perRun = new Map();
  for (const run of runs) {
    for (const row of compare({ contenders: run.contenders })) {
      if (row.ratio == null) continue;
      const key = `${row.ours.name}|${row.peer.name}`;
      if (!perRun.has(key)) perRun.set(key, []);
      perRun.get(key).push(row.ratio);
    }
  }
  return compare(workload).map((row) => {
    if (!row.peer) return { ...row, ratios: [] };
    const ratios = perRun.get(`${row.ours.name}|${row.peer.name}`) ?? [];
    return { ...row, ratios, ratio: ratios.length ? median(ratios) : row.ratio };
  });
}

/** "1.52x", or "1.52x (1.31–1.60)" for the median and range of several runs. */
export function spreadText(ratios, ratio, digits = 2) {
  if (ratio == null) return "—";
  if (!ratios || ratios.length < 2) return ratioText(ratio, digits);
  return `${ratioText(ratio, digits)} (${ratioText(Math.min(...ratios), digits).slice(0, -1)}–${ratioText(Math.max(...ratios), digits)})`;
}

/** `peer / ours` as a speed-up: above 1 means memmapfs is faster. */
export function compare(workload) {
  const ours = workload.contenders.filter((c) => c.ours);
  const peers = workload.contenders.filter((c) => !c.ours);
  const rows = [];
  for (const o of ours) {
    const mine = peers.filter((p) => !o.group || !p.group || p.group === o.group);
    if (mine.length === 0) rows.push({ ours: o, peer: null, ratio: null });
    for (const p of mine) {
      rows.push({
        ours: o,
        peer: p,
        ratio: p.value / o.value,
        rssRatio: o.rssBytes && p.rssBytes ? o.rssBytes / p.rssBytes : undefined,
      });
    }
  }
  return rows;
}

export function formatValue(contender, unit) {
  if (!contender) return "—";
  const v = contender.value;
  let text = unit === "ns/op"
    ? (v >= 10_000 ? `${(v / 1000).toFixed(1)} µs` : `${v.toFixed(v < 100 ? 1 : 0)} ns`)
    : (v >= 10_000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 100 ? 1 : 0)} ms`);
  if (contender.rssBytes) {
    text += `, peak RSS ${(contender.rssBytes / MiB).toFixed(0)} MiB`;
    if (contender.rssDeltaBytes != null) text += ` (+${(contender.rssDeltaBytes / MiB).toFixed(0)})`;
  }
  return text;
}

const ratioText = (ratio, digits = 2) => (ratio == null ? "—" : `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(digits)}x`);

/** Rows of [workload, memmapfs, its value, peer, its value, ratio] for one runtime. */
export function tableRows(result) {
  const rows = [];
  for (const workload of result.workloads) {
    const title = TITLES[workload.workload] ?? workload.workload;
    if (workload.error) {
      rows.push([title, `failed: ${workload.error}`, "", "", "", ""]);
      continue;
    }
    for (const { ours, peer, ratio, ratios } of compareRuns(workload)) {
      rows.push([title, ours.name, formatValue(ours, workload.unit), peer?.name ?? "—", formatValue(peer, workload.unit), spreadText(ratios, ratio)]);
    }
    // npm packages that did not install or load get one line in the report, not one per workload.
    for (const skipped of workload.skipped ?? []) {
      if (!NPM_PACKAGES.includes(skipped.name)) rows.push([title, "", "", skipped.name, skipped.reason, ""]);
    }
  }
  return rows;
}

const HEADER = ["workload", "memmapfs", "time", "peer", "time", "speed-up"];
/** With several runs: times are medians over the runs, the speed-up is the median and (range). */
const headerFor = (result) => (runCount(result) > 1
  ? ["workload", "memmapfs", "median time", "peer", "median time", `speed-up, median (min–max) of ${runCount(result)} runs`]
  : HEADER);

/** How many full runs a runtime's result holds. */
export function runCount(result) {
  return Math.max(1, ...result.workloads.map((w) => w.runs?.length ?? 1));
}

export function consoleTable(result) {
  const header = headerFor(result);
  const rows = [header, ...tableRows(result)];
  const widths = header.map((_, i) => Math.min(60, Math.max(...rows.map((row) => String(row[i]).length))));
  return rows.map((row) => row.map((cell, i) => String(cell).slice(0, 60).padEnd(widths[i])).join("  ")).join("\n");
}

function markdownTable(header, rows) {
  const escape = (cell) => String(cell).replace(/\|/g, "\\|");
  return [header, header.map(() => "---"), ...rows].map((row) => `| ${row.map(escape).join(" | ")} |`).join("\n");
}

const find = (result, id) => result.workloads.find((w) => w.workload === id && !w.error);
const byName = (workload, test) => workload?.contenders.filter((c) => test(c.name)) ?? [];
const best = (contenders) => contenders.reduce((a, b) => (a && a.value <= b.value ? a : b), null);
const isPositional = (name) => name.startsWith("fs.readSync") || name.startsWith("FsFile");

/** One run of a result: each workload's contenders as that run measured them. */
function runOfResult(result, index) {
  return { ...result, workloads: result.workloads.map((w) => (w.runs?.length ? { ...w, contenders: w.runs[Math.min(index, w.runs.length - 1)].contenders } : w)) };
}

/**
 * Issue 6's targets for one runtime: [{ target, value, met }] (met null when
 * not measurable). Over several runs, a target with a ratio is judged on every
 * run: its value is the median and the range, and it is "met" only when every
 * run met it ("missed" when none did, else met in k of N runs); the context
 * rows are the medians' values.
 */
export function targets(result) {
  const count = runCount(result);
  const medians = targetsOfRun(result);
  if (count < 2) return medians;
  const runs = Array.from({ length: count }, (_, i) => targetsOfRun(runOfResult(result, i)));
  return medians.map((row) => {
    const same = runs.map((run) => run.find((t) => t.target === row.target));
    if (row.ratio == null || same.some((t) => t?.ratio == null)) return row;
    const ratios = same.map((t) => t.ratio);
    const metCount = same.filter((t) => t.met).length;
    return {
      target: row.target,
      ratio: median(ratios),
      value: `${spreadText(ratios, median(ratios), 3)}${row.detail}`,
      met: metCount === count ? true : metCount === 0 ? false : `met in ${metCount} of ${count} runs`,
    };
  });
}

function targetsOfRun(result) {
  const out = [];
  const add = (target, ratio, met, detail = "") => out.push({ target, ratio, detail, value: ratio == null ? "not measured" : `${ratioText(ratio, 3)}${detail}`, met: ratio == null ? null : met });
  const random = find(result, "random_read");
  const readAt = byName(random, (n) => n === "MappedFile.readAt")[0];
  const positional = best(byName(random, isPositional));
  const c = byName(random, (n) => n.startsWith("C "))[0];
  const r1 = readAt && positional ? positional.value / readAt.value : null;
  add("random readAt ≥ 2x the positional read", r1, r1 >= 2);
  const r2 = readAt && c ? readAt.value / c.value : null;
  add("random readAt within 1.3x of C mmap + memcpy", r2, r2 <= 1.3, " of C's time");
  const copyFloor = byName(random, (n) => n.includes("JS floor"))[0];
  if (readAt && copyFloor) out.push({ target: "(context) readAt against a bare view + copy of the same mapping", value: `${ratioText(readAt.value / copyFloor.value)} of its time (+${(readAt.value - copyFloor.value).toFixed(0)} ns)`, met: null });
  const zero = find(result, "zero_copy");
  const sub = byName(zero, (n) => n === "MappedFile.subarray")[0];
  const zPositional = best(byName(zero, isPositional));
  const r3 = sub && zPositional ? zPositional.value / sub.value : null;
  add("zero-copy ≥ 10x the positional read", r3, r3 >= 10);
  const cTouch = byName(zero, (n) => n.startsWith("C "))[0];
  if (sub && cTouch) out.push({ target: "(context) zero-copy against C touching the same bytes", value: `${ratioText(sub.value / cTouch.value)} of C's time`, met: null });
  const viewFloor = byName(zero, (n) => n.includes("JS floor"))[0];
  if (sub && viewFloor) out.push({ target: "(context) zero-copy against a bare view of the same mapping", value: `${ratioText(sub.value / viewFloor.value)} of its time (+${(sub.value - viewFloor.value).toFixed(0)} ns)`, met: null });
  const bun = byName(zero, (n) => n.startsWith("Bun.mmap"))[0];
  if (bun) add("zero-copy no slower than Bun.mmap", sub ? bun.value / sub.value : null, sub && bun.value / sub.value >= 1);
  const scan = find(result, "sequential_scan");
  const mapped = byName(scan, (n) => n.startsWith("MappedFile"))[0];
  const whole = byName(scan, (n) => n === "readFileSync")[0];
  const r5 = mapped && whole ? whole.value / mapped.value : null;
  add("scan no slower than readFileSync", r5, r5 >= 1);
  const r6 = mapped?.rssBytes && whole?.rssBytes ? mapped.rssBytes / whole.rssBytes : null;
  add("scan peak RSS ≤ 0.25 of readFileSync's", r6, r6 <= 0.25, " of its RSS");
  const sparse = find(result, "sparse_touch");
  const touched = byName(sparse, (n) => n.startsWith("MappedFile"))[0];
  const r7 = touched?.rssDeltaBytes != null ? touched.rssDeltaBytes / sparse.params.fileBytes : null;
  out.push({ target: "sparse touch RSS ≤ 2% of the file", value: r7 == null ? "not measured" : `${(r7 * 100).toFixed(2)}% (RSS growth; whole peak ${(touched.rssBytes / sparse.params.fileBytes * 100).toFixed(2)}%)`, met: r7 == null ? null : r7 <= 0.02 });
  // Issue 18: MemMapFS with its cache warm, 64 KiB, against readFileSync of the same file.
  const small = find(result, "small_file");
  const wholeRead = byName(small, (n) => n === "readFileSync, 64 KiB")[0];
  for (const [label, prefix] of [
    ["MemMapFS warm open + view ≥ 5x readFileSync (64 KiB), root, default (fstatat per open)", "MemMapFS open + view + close, cache warm (root"],
    ["MemMapFS warm open + view ≥ 5x readFileSync (64 KiB), unconfined, default (stat per open)", "MemMapFS open + view + close, cache warm, unconfined"],
    ["MemMapFS warm open + view ≥ 5x readFileSync (64 KiB), cache.validateAfterMs: 1000", "MemMapFS open + view + close, cache warm, validateAfterMs"],
  ]) {
    const view = byName(small, (n) => n.startsWith(prefix))[0];
    if (view && wholeRead) add(label, wholeRead.value / view.value, wholeRead.value / view.value >= 5);
  }
  for (const [label, name] of [["MemMapFS.readFile ≥ 1.0x readFileSync (64 KiB), root", "MemMapFS.readFile (root)"], ["MemMapFS.readFile ≥ 1.0x readFileSync (64 KiB), unconfined", "MemMapFS.readFile, unconfined"]]) {
    const copy = byName(small, (n) => n === name)[0];
    if (copy && wholeRead) add(label, wholeRead.value / copy.value, wholeRead.value / copy.value >= 1);
  }
  const ffi = find(result, "ffi_overhead");
  const advise = byName(ffi, (n) => n.startsWith("advise"))[0];
  const floor = byName(ffi, (n) => n.includes("bare binding"))[0];
  if (advise) {
    const wrapper = floor ? `; the library's part, over the bare libc binding (${formatValue(floor, "ns/op")}): ${(advise.value - floor.value).toFixed(0)} ns` : "";
    out.push({ target: "FFI: advise on one page < 100 ns", value: `${formatValue(advise, "ns/op")}${wrapper}`, met: advise.value < 100 });
    const syscall = byName(ffi, (n) => n.startsWith("C madvise"))[0];
    if (floor && syscall) {
      out.push({ target: "(context) the runtime's FFI cost: bare binding over C's madvise", value: `${(floor.value - syscall.value).toFixed(0)} ns (C: ${formatValue(syscall, "ns/op")})`, met: null });
    }
  }
  const skipped = byName(ffi, (n) => n.includes("skipped"))[0];
  const msync = byName(ffi, (n) => n.includes("msync"))[0];
  if (skipped) {
    const text = `${formatValue(skipped, "ns/op")} (no system call)${msync ? `; with a writable view out it msyncs: ${formatValue(msync, "ns/op")}` : ""}`;
    out.push({ target: "FFI: sync of a clean page < 100 ns", value: text, met: skipped.value < 100 });
  }
  return out;
}

const LABELS = { deno: "Deno", bun: "Bun", node: "Node" };

/** "met", "missed", "—", or "met in k of N runs". */
export const metText = (met) => (met == null ? "—" : met === true ? "met" : met === false ? "missed" : met);

/**
 * One row per comparison, one column per runtime: "ours vs peer (speed-up)".
 * Peers that exist on one runtime only (Bun.mmap, FsFile) leave "—" elsewhere.
 */
export function summaryTable(results) {
  const rows = new Map();
  for (const [column, result] of results.entries()) {
    for (const workload of result.workloads) {
      if (workload.error) continue;
      const comparisons = compareRuns(workload);
      const oursCount = new Set(comparisons.map((row) => row.ours.name)).size;
      for (const { ours, peer, ratio, ratios } of comparisons) {
        const title = TITLES[workload.workload] ?? workload.workload;
        const key = `${title}${oursCount > 1 ? `: ${ours.name.replace(/^MappedFile,?\s*/, "")}` : ""}|${peer?.name ?? "—"}`;
        if (!rows.has(key)) rows.set(key, results.map(() => "—"));
        if (!peer) {
          rows.get(key)[column] = formatValue({ value: ours.value }, workload.unit);
          continue;
        }
        const rss = ours.rssBytes && peer.rssBytes ? `; RSS ${(ours.rssBytes / MiB).toFixed(0)} vs ${(peer.rssBytes / MiB).toFixed(0)} MiB` : "";
        rows.get(key)[column] = `${formatValue({ value: ours.value }, workload.unit)} vs ${formatValue({ value: peer.value }, workload.unit)} (**${spreadText(ratios, ratio)}**${rss})`;
      }
    }
  }
  const header = ["workload", "peer", ...results.map((r) => r.runtime.version)];
  // Peers found on one runtime only are met last; sorting puts them under their workload.
  const order = Object.values(TITLES);
  const rank = (key) => order.findIndex((title) => key.startsWith(title));
  const sorted = [...rows].map((row, i) => [row, i]).sort(([a, i], [b, j]) => rank(a[0]) - rank(b[0]) || i - j);
  return markdownTable(header, sorted.map(([[key, cells]]) => [...key.split("|"), ...cells]));
}

/** The whole markdown report over every runtime's results. */
export function markdownReport(results, npmPeers) {
  const lines = [];
  const first = results[0];
  lines.push("# memmapfs benchmarks", "");
  lines.push(`Machine: ${describeMachine(first.machine)}. Runtimes: ${results.map((r) => r.runtime.version).join(", ")}.`);
  lines.push(`Run: ${results.map((r) => `${LABELS[r.runtime.key]} ${r.date}`).join(", ")}${first.quick ? " (--quick sizes)" : ""}.`);
  const counts = [...new Set(results.map(runCount))];
  const load = results.flatMap((r) => r.loadAverages ?? []);
  if (load.length) {
    lines.push(`Machine load (1-minute load average, sampled before each workload run): ${Math.min(...load).toFixed(2)}–${Math.max(...load).toFixed(2)} on ${first.machine.cores} cores${Math.max(...load) >= first.machine.cores / 2 ? " — other work shared the machine, so absolute times are noisy; ratios are taken within one process and one run" : ""}.`);
  }
  lines.push(`Sizes: ${first.sizesText}. Each value is the median of the repetitions after a warm-up; contenders of a workload run interleaved in one process, except sequential scan and sparse touch, where each runs in its own process so its peak RSS (VmHWM) is its own.`, "");
  if (counts.length === 1 && counts[0] > 1) {
    lines.push(`Runs: ${counts[0]} full runs of every workload, interleaved (each workload ran on every runtime, then again, ${counts[0]} times, before the next). Times are the median over the runs; a speed-up is given as the median of the runs' speed-ups (each run's ours against its peer of the same run) and their range, min–max.`, "");
  } else if (counts.some((n) => n > 1)) {
    lines.push(`Runs: ${results.map((r) => `${LABELS[r.runtime.key]} ${runCount(r)}`).join(", ")} full runs per workload; speed-ups are the median (min–max) of the runs.`, "");
  }
  lines.push("Speed-up is the peer's time divided by memmapfs's: above 1x memmapfs is faster.", "");
  lines.push("![speed-up of memmapfs over each peer, per runtime](ratios.svg)", "");
  lines.push("## Summary", "", "memmapfs vs the peer, median time per operation (ns) or per run (ms); **speed-up** = peer / memmapfs.", "", summaryTable(results), "");
  for (const result of results) {
    lines.push(`## ${result.runtime.version}`, "", markdownTable(headerFor(result), tableRows(result)), "");
  }
  lines.push("## Targets (issues 6 and 18)", "");
  const targetRows = [];
  for (const result of results) {
    for (const t of targets(result)) targetRows.push([LABELS[result.runtime.key], t.target, t.value, metText(t.met)]);
  }
  lines.push(markdownTable(["runtime", "target", "measured", ""], targetRows), "");
  if (npmPeers?.length) {
    lines.push("## npm memory-mapping packages", "");
    for (const peer of npmPeers) {
      const loads = results.map((r) => {
        const failed = r.workloads.flatMap((w) => w.skipped ?? []).find((s) => s.name === peer.name);
        return `${LABELS[r.runtime.key]}: ${!peer.installed ? "—" : failed ? failed.reason : "loaded"}`;
      });
      lines.push(`- \`${peer.name}\`: ${peer.installed ? "installed" : peer.reason}${peer.installed ? `; ${loads.join("; ")}` : ""}`);
    }
    lines.push("", "npm builds native addons with node-gyp against the headers it finds (here the system Node's): " +
      "a runtime with another Node ABI refuses such an addon (\"did not self-register\"), and Bun and Deno load " +
      "only Node-API addons, not ones written against V8's API. A package that loads nowhere appears in no table.", "");
  }
  lines.push("Reproduce: `npm run bench` (or `deno task bench`); `--runs=N` full runs (default 3, 1 with `--quick`), `--quick` for small sizes, `--runtime=deno,bun,node`, `--only=<workload>`.");
  return `${lines.join("\n")}\n`;
}
