/**
 * What bench/compare prints: the machine's fp32 peak (clock from
 * /proc/cpuinfo, 32 FLOP per cycle per core for AVX2 with FMA: two 8-wide
 * fused multiply-adds) and the Markdown table of times, our GFLOP/s as a
 * fraction of one and of all used cores' peak, and our time's ratio to each
 * peer's.
 *
 * @module
 */

import type { Outcome, Row } from "./workloads.ts";

/** The machine facts of the header and of the peak columns. */
export interface MachineInfo {
  /** CPU model name. */
  cpu: string;
  /** Clock in GHz used for the peak. */
  ghz: number;
  /** fp32 FLOP per cycle per core assumed. */
  flopsPerCycle: number;
  /** Peak GFLOP/s of one core. */
  corePeak: number;
  /** Cores used (the thread count). */
  cores: number;
  /** How the peak was obtained. */
  peakNote: string;
  /** /proc/loadavg's first three fields. */
  load: string;
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Reads the CPU model, clock and flags; falls back to 3 GHz, said so. */
export function machine(cores: number): MachineInfo {
  const info = readText("/proc/cpuinfo");
  const field = (k: string) =>
    info.match(new RegExp(`^${k}\\s*:\\s*(.*)$`, "m"))?.[1]?.trim();
  const mhz = Number(field("cpu MHz"));
  const flags = ` ${field("flags") ?? ""} `;
  const fma = flags.includes(" avx2 ") && flags.includes(" fma ");
  const ghz = mhz > 0 ? mhz / 1000 : 3;
  const flopsPerCycle = fma ? 32 : 16;
  const corePeak = ghz * flopsPerCycle;
  const clock = mhz > 0
    ? `${ghz.toFixed(2)} GHz from /proc/cpuinfo`
    : "3 GHz assumed (no clock in /proc/cpuinfo)";
  return {
    cpu: `${field("model name") ?? "unknown CPU"}, ${cores} thread(s) used`,
    ghz,
    flopsPerCycle,
    corePeak,
    cores,
    peakNote: `fp32 peak ${corePeak.toFixed(0)} GFLOP/s per core = ${clock} ` +
      `x ${flopsPerCycle} FLOP/cycle (${
        fma ? "AVX2+FMA: 2 x 8-wide FMA" : "no FMA: 2 x 8-wide mul/add"
      })`,
    load: readText("/proc/loadavg").split(" ").slice(0, 3).join(" ") || "?",
  };
}

const PEER_NAMES: [string, string][] = [
  ["tfjs", "tfjs-wasm"],
  ["jax", "jax-js"],
  ["torch", "PyTorch"],
];

function ms(o: Outcome | undefined): string {
  if (!o) return "—";
  if ("skip" in o) return "n/a";
  return o.ms >= 10000
    ? `${(o.ms / 1000).toFixed(1)} s`
    : `${o.ms.toFixed(o.ms < 100 ? 1 : 0)} ms`;
}

/** The Markdown table; skip reasons listed under it once each. */
export function renderTable(
  rows: Row[],
  results: Record<string, Map<string, Outcome>>,
  m: MachineInfo,
): string {
  const ours = results.ours;
  const peers = PEER_NAMES.filter(([k]) => results[k]);
  const head = [
    "workload",
    "ours",
    "GFLOP/s",
    "% 1-core peak",
    `% ${m.cores}-core peak`,
    ...peers.flatMap(([, name]) => [name, `ours/${name}`]),
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  const skips = new Map<string, string[]>();
  const noteSkip = (peer: string, row: Row, o: Outcome | undefined) => {
    if (o && "skip" in o) {
      const k = `${peer}: ${o.skip}`;
      skips.set(k, [...(skips.get(k) ?? []), row.id]);
    }
  };
  for (const r of rows) {
    const o = ours?.get(r.id);
    noteSkip("ours", r, o);
    const t = o && "ms" in o ? o.ms : NaN;
    const gflops = r.flops && t > 0 ? r.flops / t / 1e6 : NaN;
    const pct = (cores: number) =>
      Number.isFinite(gflops)
        ? `${(100 * gflops / (m.corePeak * cores)).toFixed(1)} %`
        : "—";
    const cells = [
      r.id,
      ms(o),
      Number.isFinite(gflops) ? gflops.toFixed(1) : "—",
      pct(1),
      pct(m.cores),
    ];
    for (const [k] of peers) {
      const p = results[k].get(r.id);
      noteSkip(k, r, p);
      const ratio = p && "ms" in p && Number.isFinite(t)
        ? `${(t / p.ms).toFixed(2)}×`
        : "—";
      cells.push(ms(p), ratio);
    }
    lines.push(`| ${cells.join(" | ")} |`);
  }
  const notes = [...skips].map(([why, ids]) =>
    `- n/a ${why} (${ids.length} row${ids.length > 1 ? "s" : ""})`
  );
  return [...lines, ...(notes.length ? ["", ...notes] : [])].join("\n");
}
