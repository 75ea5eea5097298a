/**
 * Same-process A/B of the WebAssembly kernels of two source trees: the
 * convolutions at CNN-F's shapes (batch 64) and the matmuls of the CNN-F
 * step, each run alternately on tree A and tree B, best time of each
 * printed with their ratio. On a shared, noisy machine only such
 * interleaved ratios mean anything; the minimum filters out the runs that
 * another process slowed down.
 *
 * Tree B is typically a snapshot of the base commit:
 *
 * ```sh
 * mkdir -p /tmp/base && git archive HEAD tensor gpu | tar -x -C /tmp/base
 * deno run -A bench/wasm_ab.ts --b /tmp/base [--threads 1] [--reps 12]
 *   [--only fwd,dx,dw,mm] [--cpu]
 * ```
 *
 * `--cpu` times by process CPU time instead of wall time (one thread only:
 * steadier when other processes share the cores).
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { resolve } from "node:path";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    a: { type: "string", default: new URL("..", import.meta.url).pathname },
    b: { type: "string" },
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "12" },
    only: { type: "string", default: "fwd,dx,dw,mm" },
    cpu: { type: "boolean", default: false },
  },
});
if (!flags.b) {
  console.error("usage: deno run -A bench/wasm_ab.ts --b <other tree> ...");
  Deno.exit(2);
}
const threads = Number(flags.threads);
const reps = Number(flags.reps);
const only = flags.only.split(",");

const now = flags.cpu
  ? () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  : () => performance.now();

interface Tree {
  rt: unknown;
  // deno-lint-ignore no-explicit-any
  m: Record<string, any>;
}

async function load(root: string): Promise<Tree> {
  const dir = "file://" + resolve(root, "tensor/wasm") + "/";
  const runtime = await import(dir + "runtime.ts");
  const m = {
    ...(await import(dir + "conv.ts")),
    ...(await import(dir + "gemm.ts")),
  };
  const rt = new runtime.WasmRuntime(runtime.probeFeatures());
  rt.setThreads(threads);
  return { rt, m };
}

const trees = [await load(flags.a), await load(flags.b)];
const rand = (n: number) => Float32Array.from({ length: n }, Math.random);

const cases: { name: string; flops: number; run: (t: Tree) => void }[] = [];
for (
  const [ci, co, s] of [[32, 32, 28], [32, 64, 14], [16, 32, 28], [1, 16, 28]]
) {
  const nb = 64;
  const g = {
    nb,
    cx: ci,
    hx: s,
    wx: s,
    cy: co,
    hy: s,
    wy: s,
    kh: 3,
    kw: 3,
    sh: 1,
    sw: 1,
    ph: 1,
    pw: 1,
    dh: 1,
    dw: 1,
  };
  const x = rand(nb * ci * s * s);
  const w = rand(co * ci * 9);
  const y = rand(nb * co * s * s);
  const tag = `${ci}->${co} ${s}x${s}`;
  const flops = 2 * nb * ci * co * 9 * s * s;
  cases.push(
    {
      name: `fwd ${tag}`,
      flops,
      run: (t) => t.m.conv2dWasm(t.rt, x, w, new Float32Array(y.length), g),
    },
    {
      name: `dx ${tag}`,
      flops,
      run: (t) =>
        t.m.convTranspose2dWasm(t.rt, y, w, new Float32Array(x.length), g),
    },
    {
      name: `dw ${tag}`,
      flops,
      run: (t) =>
        t.m.convWeightGradWasm(t.rt, x, y, new Float32Array(w.length), g),
    },
  );
}
for (
  const [m, n, k, ta, tb] of [
    [1024, 1024, 1024, false, false],
    [64, 1000, 3136, false, true],
    [1000, 3136, 128, true, false],
    [64, 3136, 1000, false, false],
  ] as const
) {
  const a = rand(m * k);
  const b = rand(k * n);
  cases.push({
    name: `mm ${m}x${n}x${k}${ta ? " tA" : ""}${tb ? " tB" : ""}`,
    flops: 2 * m * n * k,
    run: (t) =>
      t.m.gemmWasm(
        t.rt,
        m,
        n,
        k,
        a,
        0,
        ta,
        b,
        0,
        tb,
        new Float32Array(m * n),
        0,
      ),
  });
}

let logSum = 0;
let count = 0;
console.log(
  `A = ${flags.a}, B = ${flags.b}, ${threads} thread(s), ${reps} reps`,
);
for (const c of cases) {
  if (!only.some((o) => c.name.startsWith(o))) continue;
  for (const t of trees) c.run(t);
  const best = [Infinity, Infinity];
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < 2; i++) {
      const t0 = now();
      c.run(trees[i]);
      best[i] = Math.min(best[i], now() - t0);
    }
  }
  const gf = (ms: number) => (c.flops / ms / 1e6).toFixed(1);
  logSum += Math.log(best[0] / best[1]);
  count++;
  console.log(
    `${c.name.padEnd(28)} A ${best[0].toFixed(2)} ms (${gf(best[0])} GF/s)` +
      `  B ${best[1].toFixed(2)} ms (${gf(best[1])} GF/s)` +
      `  A/B ${(best[0] / best[1]).toFixed(3)}`,
  );
}
console.log(`geometric mean A/B ${Math.exp(logSum / count).toFixed(3)}`);
