/**
 * The CPU backend's kernels three ways: the plain-JavaScript reference (the
 * baseline), WebAssembly on one thread, and WebAssembly on every core, for
 * matmul 1024 and the convolutions at CNN-F's shapes (batch BENCH_BATCH,
 * default 64). Each case prints GFLOP/s and the fraction of peak, where one
 * core's peak is taken as PEAK_GFLOPS (default 96: AVX2 with FMA, 32 fp32
 * FLOP per cycle at ~3 GHz) and WebAssembly's own ceiling as half of it
 * (128-bit vectors).
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno bench -A bench/wasm_bench.ts
 * ```
 */

import process from "node:process";
import {
  conv2d,
  convTranspose2d,
  init,
  type Tensor,
  tensor,
  tidy,
} from "../tensor/mod.ts";
import { conv2dWeightGradT } from "../tensor/tensor.ts";
import { configureCpu, cpuInfo } from "../tensor/wasm/mod.ts";
import { envInt, values } from "./_util.ts";

const PEAK = envInt("PEAK_GFLOPS", 96);
const CORES = navigator.hardwareConcurrency;
const nb = envInt("BENCH_BATCH", 64);
await init({ backend: "cpu", seed: 0 });
console.error(
  `wasm bench: ${JSON.stringify(cpuInfo().features)}, ${CORES} cores, ` +
    `peak ${PEAK} GFLOP/s per core (wasm SIMD ceiling ${PEAK / 2})`,
);

const MODES: { name: string; wasm: boolean; threads: number }[] = [
  { name: "js reference", wasm: false, threads: 1 },
  { name: "wasm 1 thread", wasm: true, threads: 1 },
  { name: `wasm ${CORES} threads`, wasm: true, threads: CORES },
];

const geom = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] } as const;

interface Case {
  group: string;
  flops: number;
  setup: () => Tensor[];
  run: (t: Tensor[]) => Tensor;
}

const CASES: Case[] = [{
  group: "matmul 1024x1024x1024",
  flops: 2 * 1024 ** 3,
  setup: () => [
    tensor(values(1024 * 1024, 1), [1024, 1024]),
    tensor(values(1024 * 1024, 2), [1024, 1024]),
  ],
  run: ([a, b]) => a.matmul(b),
}];
for (const [ci, co, s] of [[1, 16, 28], [32, 32, 28], [32, 64, 14]]) {
  const setup = () => [
    tensor(values(nb * ci * s * s, 1), [nb, ci, s, s]),
    tensor(values(co * ci * 9, 2), [co, ci, 3, 3]),
    tensor(values(nb * co * s * s, 3), [nb, co, s, s]),
  ];
  const flops = 2 * nb * co * ci * 9 * s * s;
  const tag = `${ci}->${co} ${s}x${s} batch ${nb}`;
  CASES.push(
    {
      group: `conv2d ${tag}`,
      flops,
      setup,
      run: ([x, w]) => conv2d(x, w, geom),
    },
    {
      group: `input grad ${tag}`,
      flops,
      setup,
      run: ([_x, w, gy]) => convTranspose2d(gy, w, geom),
    },
    {
      group: `weight grad ${tag}`,
      flops,
      setup,
      run: ([x, _w, gy]) =>
        conv2dWeightGradT(x, gy, { ...geom, kernel: [3, 3] }),
    },
  );
}

for (const c of CASES) {
  const inputs = c.setup();
  for (const m of MODES) {
    const once = async () => {
      configureCpu({ wasm: m.wasm, threads: m.threads });
      const out = tidy(() => c.run(inputs));
      await out.data();
      out.dispose();
    };
    await once();
    const reps = m.wasm ? 5 : 2;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) await once();
    const cpu = process.cpuUsage(c0);
    const sec = (performance.now() - t0) / 1000 / reps;
    const gf = c.flops / sec / 1e9;
    // Process CPU time: steadier than wall time on a shared machine (for
    // one thread, GFLOP/s per busy core).
    const cpuSec = (cpu.user + cpu.system) / 1e6 / reps;
    console.error(
      `${c.group} [${m.name}]: ${(sec * 1000).toFixed(1)} ms, ` +
        `${gf.toFixed(1)} GFLOP/s = ${(100 * gf / PEAK).toFixed(0)}% of a ` +
        `core, ${(100 * gf / (PEAK * CORES)).toFixed(0)}% of ${CORES}; ` +
        `${(c.flops / cpuSec / 1e9).toFixed(1)} GFLOP per CPU-second`,
    );
    Deno.bench({
      name: m.name,
      group: c.group,
      baseline: !m.wasm,
      n: m.wasm ? 5 : 2,
      warmup: 1,
      fn: once,
    });
  }
}
configureCpu({ wasm: true, threads: CORES });
