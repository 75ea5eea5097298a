/**
 * Peer comparison of CPU speed, all in one run: matmul 1024, conv2d forward
 * and gradients at the Fashion-MNIST CNN-F shapes, and the CNN-F rows
 * (first pass, run cycles, PGD-7, adversarial training step), timed in our
 * engine (CPU backend), tfjs-wasm (XNNPACK), jax-js (wasm) and PyTorch
 * (subprocess), with our time's ratio to each peer and our GFLOP/s as a
 * fraction of the cores' fp32 peak. Dev-only; see bench/compare/README.md.
 *
 * ```sh
 * deno task compare --quick
 * deno run -A bench/compare/run.ts --threads 2 --only matmul,conv --json
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { initOurs, runOurs } from "./ours.ts";
import { TorchPeer } from "./torch.ts";
import { type PeerInfo, runTfjs, startTfjs } from "./tfjs.ts";
import { runJaxjs, startJaxjs } from "./jaxjs.ts";
import { machine, renderTable } from "./report.ts";
import { buildRows, type Outcome, type Plan, type Row } from "./workloads.ts";

const USAGE = `usage: deno run -A bench/compare/run.ts [--threads N]
  [--only matmul,conv,cnnf] [--peers ours,tfjs,jax,torch] [--quick] [--json]
  [--batches 64,256] [--torch-blas DIR]`;

const SECTIONS = ["matmul", "conv", "cnnf"];
const PEERS = ["ours", "tfjs", "jax", "torch"];

function fail(msg: string): never {
  console.error(`compare: ${msg}\n${USAGE}`);
  Deno.exit(2);
}

/** Parses a comma list and checks every entry against `allowed`. */
function list(flag: string, value: string, allowed: string[]): Set<string> {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const i of items) {
    if (!allowed.includes(i)) {
      fail(`--${flag}: unknown '${i}' (${allowed.join(", ")})`);
    }
  }
  return new Set(items);
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string", default: "2" },
    only: { type: "string", default: SECTIONS.join(",") },
    peers: { type: "string", default: PEERS.join(",") },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "torch-blas": { type: "string" },
    batches: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const threads = Number(flags.threads);
if (!Number.isInteger(threads) || threads < 1) {
  fail(`--threads must be a positive integer, got '${flags.threads}'`);
}
const blasDir = flags["torch-blas"];
if (blasDir !== undefined) {
  let ok = false;
  try {
    ok = Deno.statSync(blasDir).isDirectory;
  } catch { /* reported below */ }
  if (!ok) fail(`--torch-blas: '${blasDir}' is not a folder`);
}
const sections = list("only", flags.only, SECTIONS);
const peers = list("peers", flags.peers, PEERS);
const quick = flags.quick;
const batches = flags.batches === undefined
  ? (quick ? [64] : [64, 256])
  : flags.batches.split(",").map((b) => Number(b.trim()));
if (!batches.length || batches.some((b) => !Number.isInteger(b) || b < 1)) {
  fail(`--batches: positive integers expected, got '${flags.batches}'`);
}
const rows = buildRows(sections, batches);

/**
 * Timing plan of a row, the same for every peer: micro kernels get a
 * warm-up and up to 7 runs within 8 s; the CNN-F rows a warm-up and up to
 * 5 runs within 20 s at the first batch, and at larger batches (JIT and
 * kernels already warm) no warm-up and up to 3 runs within 60 s.
 */
function planFor(r: Row): Plan {
  if (r.section !== "cnnf") {
    return quick
      ? { warmup: 1, reps: 3, budgetMs: 2000 }
      : { warmup: 1, reps: 7, budgetMs: 8000 };
  }
  if (quick) return { warmup: 1, reps: 1, budgetMs: 0 };
  const first = r.spec.kind === "cnnf" && r.spec.batch === batches[0];
  return first
    ? { warmup: 1, reps: 5, budgetMs: 20000 }
    : { warmup: 0, reps: 3, budgetMs: 60000 };
}

const progress = (peer: string) => (r: Row, o: Outcome) =>
  console.error(
    `  ${peer.padEnd(6)} ${r.id}: ${
      "ms" in o ? `${o.ms.toFixed(1)} ms` : `skipped (${o.skip})`
    }`,
  );

const notes: string[] = [];
const results: Record<string, Map<string, Outcome>> = {};
const started = performance.now();

/** A started peer: times one row. */
type Runner = (r: Row) => Promise<Outcome>;
const runners: [string, Runner][] = [];
const one = (
  run: typeof runOurs,
): Runner =>
async (r) => (await run([r], planFor, () => {})).get(r.id)!;

if (peers.has("ours")) {
  const backend = await initOurs(threads);
  notes.push(
    `ours: CPU backend (${backend}), threads: ${threads} passed to init ` +
      `(engines without that option ignore it)`,
  );
  runners.push(["ours", one(runOurs)]);
}
if (peers.has("tfjs")) {
  const info: PeerInfo = await startTfjs();
  notes.push(info.note);
  if (info.ok) runners.push(["tfjs", one(runTfjs)]);
}
if (peers.has("jax")) {
  const info = await startJaxjs(threads);
  notes.push(info.note);
  if (info.ok) runners.push(["jax", one(runJaxjs)]);
}
let torch: TorchPeer | null = null;
if (peers.has("torch")) {
  const t = await TorchPeer.start(threads, blasDir);
  notes.push(t.info.note);
  torch = t.peer;
  if (torch) {
    const peer = torch;
    runners.push(["torch", (r) => peer.run(r.spec, planFor(r))]);
  }
}
// Row by row, every peer right after ours: the load of a shared machine
// drifts within minutes, and the ratios should see the same load.
for (const row of rows) {
  for (const [name, run] of runners) {
    const o = await run(row);
    (results[name] ??= new Map()).set(row.id, o);
    progress(name)(row, o);
  }
}
await torch?.close();

const info = machine(threads);
const table = renderTable(rows, results, info);
const header = [
  `# bench/compare, ${new Date().toISOString()}`,
  `${info.cpu}; ${info.peakNote}`,
  `load average at the end: ${info.load} (other processes make times noisy)`,
  ...notes,
  `wall time ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
  `ratio = our time / peer time (below 1: we are faster)`,
].join("\n");
if (flags.json) {
  console.error(`${header}\n\n${table}`);
  const plain = (m: Map<string, Outcome> | undefined) =>
    m ? Object.fromEntries(m) : null;
  console.log(JSON.stringify(
    {
      date: new Date().toISOString(),
      threads,
      quick,
      machine: info,
      notes,
      rows: rows.map((r) => ({ id: r.id, spec: r.spec, flops: r.flops })),
      results: Object.fromEntries(PEERS.map((p) => [p, plain(results[p])])),
    },
    null,
    2,
  ));
} else {
  console.log(`${header}\n\n${table}`);
}
// jax-js's worker pool has no shutdown call and keeps the event loop alive;
// only then exit explicitly, so a worker leak of our own engine still shows
// as a run that does not end.
if (results.jax) Deno.exit(0);
