/**
 * The pool chart: runs a real load ramp against a pool with an autoscaler — a broker started here, a
 * pool of in-process members made by createPool, a client raising the tasks it keeps in flight step
 * by step, then stopping — samples the broker's pool figures (GET /v1/pools) and reads its
 * `pool.scaled` events (GET /v1/events), and writes an SVG of pool size and utilization over time.
 *
 *     node bench/dist/src/pool-chart.js [--out docs/pool-autoscale.svg] [--phase-ms 6000]
 *
 * Progress goes to stderr; the SVG's path and the decisions to stdout.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect, createAgent, createPool, z } from "@agentwire/sdk";
import { repoRoot, startBroker } from "@agentwire/testkit";

export interface PoolSample {
  /** Seconds since the ramp began. */
  t: number;
  size: number;
  utilization: number;
  /** Tasks the client keeps in flight. */
  load: number;
}

export interface PoolDecision {
  t: number;
  from: number;
  to: number;
  reason: string;
}

export interface ChartOptions {
  title: string;
  min: number;
  max: number;
  upThreshold: number;
  downThreshold: number;
  /** One line under the legend: how the data was made. */
  note: string;
  /** Tasks one member takes at once: the load line is tasks in flight ÷ this, the members it fills. */
  slots: number;
}

const W = 860;
const H = 400;
const M = { left: 56, right: 64, top: 44, bottom: 80 };

/** An SVG (no script, no external resource) of pool size (left axis) and utilization (right axis) over time. */
export function renderPoolChart(samples: readonly PoolSample[], decisions: readonly PoolDecision[], o: ChartOptions): string {
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const uMax = Math.max(1.5, Math.ceil(Math.max(...samples.map((s) => s.utilization)) * 2) / 2);
  const sizeMax = o.max + 1;
  const x = (t: number): number => M.left + (t / tMax) * (W - M.left - M.right);
  const ySize = (n: number): number => H - M.bottom - (n / sizeMax) * (H - M.top - M.bottom);
  const yUtil = (u: number): number => H - M.bottom - (Math.min(u, uMax) / uMax) * (H - M.top - M.bottom);
  const f = (n: number): string => n.toFixed(1);
  const step = (pts: readonly [number, number][]): string =>
    pts.map(([px, py], i) => (i === 0 ? `M${f(px)},${f(py)}` : `H${f(px)}V${f(py)}`)).join("");
  const line = (pts: readonly [number, number][]): string => pts.map(([px, py], i) => `${i === 0 ? "M" : "L"}${f(px)},${f(py)}`).join("");

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${M.left}" y="24" font-size="15" font-weight="600">${escape(o.title)}</text>`);
  // Grid and axes.
  for (let n = 0; n <= sizeMax; n += 2) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(ySize(n))}" y2="${f(ySize(n))}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 8}" y="${f(ySize(n) + 4)}" text-anchor="end" fill="#1f5fbf">${n}</text>`);
  }
  for (let u = 0; u <= uMax + 1e-9; u += 0.5) out.push(`<text x="${W - M.right + 8}" y="${f(yUtil(u) + 4)}" fill="#c0561b">${u.toFixed(1)}</text>`);
  for (let t = 0; t <= tMax; t += tMax > 60 ? 10 : 5) out.push(`<text x="${f(x(t))}" y="${H - M.bottom + 18}" text-anchor="middle" fill="#555">${t}s</text>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#999"/>`);
  out.push(`<text transform="translate(16 ${(H - M.bottom + M.top) / 2}) rotate(-90)" text-anchor="middle" fill="#1f5fbf">members</text>`);
  out.push(`<text transform="translate(${W - 14} ${(H - M.bottom + M.top) / 2}) rotate(90)" text-anchor="middle" fill="#c0561b">utilization</text>`);
  // The band the autoscaler keeps utilization in, and the pool's bounds.
  out.push(`<rect x="${M.left}" width="${W - M.left - M.right}" y="${f(yUtil(o.upThreshold))}" height="${f(yUtil(o.downThreshold) - yUtil(o.upThreshold))}" fill="#c0561b" fill-opacity="0.06"/>`);
  for (const [u, label] of [[o.upThreshold, "up"], [o.downThreshold, "down"]] as const) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(yUtil(u))}" y2="${f(yUtil(u))}" stroke="#c0561b" stroke-dasharray="2 4"/>`);
    out.push(`<text x="${W - M.right - 4}" y="${f(yUtil(u) - 4)}" text-anchor="end" fill="#c0561b" font-size="10">${label} ${u}</text>`);
  }
  for (const [n, label] of [[o.min, "min"], [o.max, "max"]] as const) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(ySize(n))}" y2="${f(ySize(n))}" stroke="#1f5fbf" stroke-dasharray="6 4" stroke-opacity="0.5"/>`);
    out.push(`<text x="${M.left + 4}" y="${f(ySize(n) - 4)}" fill="#1f5fbf" font-size="10">${label} ${n}</text>`);
  }
  // Load (on the members axis: the members it fills), utilization, size.
  out.push(`<path d="${step(samples.map((s) => [x(s.t), ySize(s.load / o.slots)]))}" fill="none" stroke="#888" stroke-width="1.5" stroke-dasharray="5 3"/>`);
  out.push(`<path d="${line(samples.map((s) => [x(s.t), yUtil(s.utilization)]))}" fill="none" stroke="#c0561b" stroke-width="1.5"/>`);
  out.push(`<path d="${step(samples.map((s) => [x(s.t), ySize(s.size)]))}" fill="none" stroke="#1f5fbf" stroke-width="2.5"/>`);
  // Each decision (pool.scaled): a marker at its time and new size.
  for (const d of decisions) {
    const up = d.to > d.from;
    const px = x(d.t);
    const py = ySize(d.to);
    const tri = up ? `${f(px)},${f(py - 7)} ${f(px - 5)},${f(py + 2)} ${f(px + 5)},${f(py + 2)}` : `${f(px)},${f(py + 7)} ${f(px - 5)},${f(py - 2)} ${f(px + 5)},${f(py - 2)}`;
    out.push(`<polygon points="${tri}" fill="${up ? "#1a8f3c" : "#8f1a6a"}"><title>${d.from} → ${d.to} (${escape(d.reason)}) at ${d.t.toFixed(1)} s</title></polygon>`);
  }
  // Legend, two rows.
  const legend: [string, string, string][] = [
    ["#1f5fbf", "", "pool size (members)"],
    ["#c0561b", "", "utilization: (in flight + queued) ÷ capacity"],
    ["#888", "5 3", `load: tasks kept in flight ÷ ${o.slots} slots (members it fills)`],
  ];
  legend.forEach(([color, dash, text], i) => {
    const lx = M.left + (i === 2 ? 0 : i * 220);
    const ly = H - (i === 2 ? 28 : 46);
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5" stroke-dasharray="${dash}"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${escape(text)}</text>`);
  });
  const dx = M.left + 360;
  out.push(`<polygon points="${dx + 4},${H - 37} ${dx - 1},${H - 28} ${dx + 9},${H - 28}" fill="#1a8f3c"/><text x="${dx + 16}" y="${H - 28}">scale-up</text>`);
  out.push(`<polygon points="${dx + 84},${H - 28} ${dx + 79},${H - 37} ${dx + 89},${H - 37}" fill="#8f1a6a"/><text x="${dx + 96}" y="${H - 28}">scale-down decision (pool.scaled event)</text>`);
  out.push(`<text x="${M.left}" y="${H - 8}" fill="#777" font-size="10">${escape(o.note)}</text>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

interface PoolView {
  name: string;
  size: number;
  utilization: number;
}

const USAGE = "usage: node bench/dist/src/pool-chart.js [--out FILE (default docs/pool-autoscale.svg)] [--phase-ms MS (default 6000)]";

async function main(): Promise<void> {
  let values: { out?: string | undefined; "phase-ms"?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({ options: { out: { type: "string" }, "phase-ms": { type: "string" }, help: { type: "boolean" } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\nRuns a load ramp against a pool with an autoscaler and writes an SVG of its size and utilization over time.\n`);
    return;
  }
  const out = values.out ?? join(repoRoot(), "docs", "pool-autoscale.svg");
  const phaseMs = Number(values["phase-ms"] ?? 6_000);
  if (!Number.isInteger(phaseMs) || phaseMs < 500) {
    process.stderr.write(`--phase-ms must be an integer of at least 500\n${USAGE}\n`);
    process.exit(2);
  }
  const autoscale = { up_threshold: 0.8, down_threshold: 0.2, step: 2, interval_ms: 250, window_ms: 1_500, stabilization_ms: 3_000, cooldown_ms: 1_000 };
  const min = 2;
  const max = 10;
  const capacity = 2;
  const levels = [4, 10, 20, 20, 8, 2, 0, 0];

  await using broker = await startBroker([], { label: "broker:pool-chart" });
  await using pool = await createPool({
    url: broker.url,
    name: "chart",
    min,
    max,
    autoscale,
    grace_ms: 30_000,
    template: (instance) =>
      createAgent({ ...instance, name: "chart-worker", capacity }).capability("chart.work", { input: z.object({}) }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 200)); // the work: a slot held for 200 ms
      }),
  });
  await using client = await connect({ url: broker.url });

  let level = 0;
  let workers = 0;
  const worker = async (slot: number): Promise<void> => {
    while (slot < level) await client.submit("chart.work", {}, { timeoutMs: 120_000 });
    workers--;
  };
  const samples: PoolSample[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    void fetch(`${broker.http}/v1/pools`)
      .then((r) => r.json() as Promise<{ pools?: PoolView[] }>)
      .then(({ pools }) => {
        const p = pools?.find((v) => v.name === "chart");
        if (p !== undefined) samples.push({ t: (Date.now() - t0) / 1000, size: p.size, utilization: p.utilization, load: level });
      });
  }, 100);
  for (const [i, next] of levels.entries()) {
    level = next;
    while (workers < level) void worker(workers++);
    process.stderr.write(`phase ${i + 1}/${levels.length}: ${level} tasks in flight, pool size ${pool.size}\n`);
    await new Promise((resolve) => setTimeout(resolve, phaseMs));
  }
  clearInterval(sampler);

  const decisions: PoolDecision[] = [];
  for await (const e of client.events({ type: "pool.scaled", from: t0 })) {
    const d = e.data as { pool: string; from: number; to: number; reason: string };
    if (d.pool === "chart") decisions.push({ t: (e.at - t0) / 1000, from: d.from, to: d.to, reason: d.reason });
  }
  const title = `A pool (min ${min}, max ${max}, ${capacity} slots each) under a load ramp: ${decisions.length} decisions`;
  const a = autoscale;
  const note = `step ${a.step}, interval ${a.interval_ms} ms, window ${a.window_ms} ms, stabilization ${a.stabilization_ms} ms, cooldown ${a.cooldown_ms} ms · GET /v1/pools every 100 ms · bench/src/pool-chart.ts`;
  writeFileSync(out, renderPoolChart(samples, decisions, { title, note, min, max, upThreshold: autoscale.up_threshold, downThreshold: autoscale.down_threshold, slots: capacity }));
  process.stdout.write(`${out}\n`);
  for (const d of decisions) process.stdout.write(`${d.t.toFixed(1)} s: ${d.from} -> ${d.to} (${d.reason})\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
