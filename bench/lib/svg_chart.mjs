// A dependency-free SVG bar chart of speed-ups: one group per comparison
// (memmapfs against one peer), one bar per runtime, on a log scale so 0.5x
// and 2x are the same distance from the 1x line.
import { compareRuns, TITLES } from "./report.mjs";

const COLORS = { deno: "#2b7a78", bun: "#e2a03f", node: "#3c6fb6" };
const escape = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function ratioChart(results, machineText) {
  const groups = new Map();
  for (const result of results) {
    for (const workload of result.workloads) {
      if (workload.error) continue;
      const rows = compareRuns(workload);
      const oursCount = new Set(rows.map((row) => row.ours.name)).size;
      for (const row of rows) {
        if (row.ratio == null || !Number.isFinite(row.ratio)) continue;
        // The ours name only where a workload has several, so labels fit.
        const ours = oursCount > 1 ? `: ${row.ours.name.replace(/^MappedFile,?\s*/, "")}` : "";
        const label = `${TITLES[workload.workload] ?? workload.workload}${ours} vs ${row.peer.name}`;
        if (!groups.has(label)) groups.set(label, []);
        groups.get(label).push({ runtime: result.runtime.key, ratio: row.ratio });
      }
    }
  }
  const all = [...groups.values()].flat().map((bar) => bar.ratio);
  const low = Math.min(0.1, ...all.map((r) => 10 ** Math.floor(Math.log10(r))));
  const high = Math.max(10, ...all.map((r) => 10 ** Math.ceil(Math.log10(r))));
  const labelWidth = 600, plotWidth = 420, bar = 9, gap = 12, top = 56;
  const width = labelWidth + plotWidth + 70;
  const x = (ratio) => labelWidth + ((Math.log10(ratio) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * plotWidth;
  let y = top;
  const body = [];
  for (const [label, bars] of groups) {
    const height = bars.length * bar;
    body.push(`<text x="${labelWidth - 8}" y="${y + height / 2 + 4}" text-anchor="end">${escape(label)}</text>`);
    for (const { runtime, ratio } of bars) {
      const from = x(1), to = x(ratio);
      body.push(`<rect x="${Math.min(from, to).toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(to - from)).toFixed(1)}" height="${bar - 1}" fill="${COLORS[runtime]}"><title>${runtime}: ${ratio.toFixed(2)}x</title></rect>`);
      body.push(`<text x="${(Math.max(from, to) + 4).toFixed(1)}" y="${y + bar - 1}" font-size="9">${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}x</text>`);
      y += bar;
    }
    y += gap;
  }
  const height = y + 30;
  const ticks = [];
  for (let decade = Math.log10(low); decade <= Math.log10(high) + 1e-9; decade++) {
    const ratio = 10 ** decade;
    ticks.push(`<line x1="${x(ratio)}" y1="${top - 6}" x2="${x(ratio)}" y2="${y}" stroke="${ratio === 1 ? "#000" : "#ddd"}" stroke-width="${ratio === 1 ? 1.5 : 1}"/>`);
    ticks.push(`<text x="${x(ratio)}" y="${y + 14}" text-anchor="middle">${ratio}x</text>`);
  }
  const legend = results.map((r, i) => `<rect x="${labelWidth + i * 140}" y="30" width="10" height="10" fill="${COLORS[r.runtime.key]}"/><text x="${labelWidth + 14 + i * 140}" y="39">${escape(r.runtime.version)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" font-size="13" font-weight="bold">memmapfs speed-up over each peer (peer time / memmapfs time, log scale; right of 1x = memmapfs faster)</text>
<text x="10" y="${height - 8}" fill="#555">${escape(machineText)}</text>
${legend.join("\n")}
${ticks.join("\n")}
${body.join("\n")}
</svg>
`;
}
