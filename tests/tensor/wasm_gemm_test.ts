/**
 * Tests of the WebAssembly GEMM path of the CPU backend: matmul and the
 * three convolutions against the plain-JavaScript reference kernels on odd
 * shapes (1, primes, tails of the 6 x 8 micro-tile, K across blocks,
 * several image chunks), the mul+add kernel next to the fused one, and the
 * same bits whatever the thread count.
 */

import assert from "node:assert/strict";
import { init, type Tensor, tidy } from "../../tensor/mod.ts";
import {
  conv2dT,
  conv2dWeightGradT,
  convTranspose2dT,
  matmulT,
} from "../../tensor/tensor.ts";
import { configureCpu, cpuInfo, wasmRuntime } from "../../tensor/wasm/mod.ts";
import { WasmRuntime } from "../../tensor/wasm/runtime.ts";
import { gemmWasm, packRows } from "../../tensor/wasm/gemm.ts";
import { MR, NR } from "../../tensor/wasm/gemm_kernel.ts";
import { convTuning } from "../../tensor/wasm/conv.ts";
import { gemmCpu } from "../../tensor/ops/matmul_kernels.ts";
import { assertClose, randomData, randomTensor } from "../_util.ts";

await init({ backend: "cpu" });

/** Output of `build` with the wasm path on or off and `threads` threads. */
async function run(
  build: () => Tensor,
  wasm: boolean,
  threads = 1,
): Promise<Float32Array> {
  configureCpu({ wasm, threads });
  try {
    const t = tidy(build);
    const d = await t.data() as Float32Array;
    t.dispose();
    return d;
  } finally {
    configureCpu({ wasm: true, threads: 1 });
  }
}

/** Asserts wasm (1 thread) matches the JavaScript kernels within round-off. */
async function assertMatchesJs(build: () => Tensor, k: number, what: string) {
  const js = await run(build, false);
  const wasm = await run(build, true);
  // float32 sums of k terms of size <= 1: error grows like sqrt(k) ulps.
  assertClose(wasm, js, { atol: 2e-6 * Math.sqrt(k) * 4, rtol: 1e-4 }, what);
}

Deno.test("the wasm path is available with SIMD in Deno", () => {
  const info = cpuInfo();
  assert.equal(info.features.simd, true);
  assert.equal(info.wasm, true);
});

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [2, 3, 5],
  [7, 13, 11],
  [17, 1, 33],
  [4, 8, 256],
  [5, 29, 257],
  [6, 8, 7],
  [13, 17, 19],
  [12, 24, 258],
  [33, 65, 300],
  [61, 9, 600],
];

Deno.test("wasm matmul matches the JavaScript GEMM on odd shapes and transposes", async () => {
  for (const [m, n, k] of SIZES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const build = () =>
          matmulT(
            randomTensor(transA ? [k, m] : [m, k], m + k),
            randomTensor(transB ? [n, k] : [k, n], n + 7),
            { transA, transB },
          );
        await assertMatchesJs(build, k, `${m}x${n}x${k} ${transA} ${transB}`);
      }
    }
  }
});

Deno.test("wasm batched matmul matches the JavaScript GEMM with shared operands", async () => {
  await assertMatchesJs(
    () =>
      matmulT(randomTensor([3, 9, 10], 1), randomTensor([10, 17], 2), {
        transA: false,
        transB: false,
      }),
    10,
    "batched A",
  );
  await assertMatchesJs(
    () =>
      matmulT(randomTensor([19, 5], 3), randomTensor([2, 19, 6], 4), {
        transA: true,
        transB: false,
      }),
    19,
    "batched B",
  );
});

type P = [number, number];
/** nb, ci, co, h, w, kh, kw, stride, padding, dilation. */
const GEOMS: [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  P,
  P,
  P,
][] = [
  [1, 1, 1, 1, 1, 1, 1, [1, 1], [0, 0], [1, 1]],
  [3, 5, 7, 11, 9, 3, 2, [2, 1], [1, 0], [1, 1]],
  [2, 3, 13, 17, 13, 3, 3, [1, 2], [2, 1], [2, 1]],
  [5, 1, 6, 12, 12, 5, 5, [1, 1], [2, 2], [1, 1]],
  [4, 9, 3, 7, 10, 1, 1, [1, 1], [0, 0], [1, 1]],
  [6, 4, 10, 8, 8, 3, 3, [2, 2], [1, 1], [1, 1]],
  // Stride 1 with padding wider than the kernel.
  [2, 3, 5, 6, 7, 1, 2, [1, 1], [1, 1], [1, 1]],
  // Stride 1, dilation 2 by 3.
  [3, 6, 9, 13, 11, 3, 2, [1, 1], [1, 2], [2, 3]],
  // Kernels three wide at stride 1 (col2im's three-tap rows): padded,
  // padded past the kernel, unpadded with one output column.
  [2, 5, 7, 9, 11, 3, 3, [1, 1], [1, 1], [1, 1]],
  [3, 2, 4, 6, 5, 2, 3, [1, 1], [0, 3], [1, 1]],
  [1, 3, 2, 4, 3, 1, 3, [2, 1], [0, 0], [1, 1]],
];

Deno.test("wasm convolutions match the JavaScript kernels on odd geometries and image chunks", async () => {
  const saved = convTuning.chunkFloats;
  try {
    for (const chunkFloats of [saved, 500]) {
      convTuning.chunkFloats = chunkFloats;
      for (
        const [nb, ci, co, h, w, kh, kw, stride, padding, dilation] of GEOMS
      ) {
        const attrs = { stride, padding, dilation };
        const x = () => randomTensor([nb, ci, h, w], 11);
        const wt = () => randomTensor([co, ci, kh, kw], 12);
        const yShape = tidy(() => conv2dT(x(), wt(), attrs)).shape;
        const gy = () => randomTensor([...yShape], 13);
        const tag =
          `${nb}x${ci}x${h}x${w} k${kh}x${kw} co${co} chunk ${chunkFloats}`;
        await assertMatchesJs(
          () => conv2dT(x(), wt(), attrs),
          ci * kh * kw,
          `fwd ${tag}`,
        );
        await assertMatchesJs(
          () =>
            convTranspose2dT(gy(), wt(), { ...attrs, outputPadding: [0, 0] }),
          co,
          `dx ${tag}`,
        );
        await assertMatchesJs(
          () => conv2dWeightGradT(x(), gy(), { ...attrs, kernel: [kh, kw] }),
          nb * yShape[2] * yShape[3],
          `dw ${tag}`,
        );
      }
    }
  } finally {
    convTuning.chunkFloats = saved;
  }
});

Deno.test("the mul+add kernel on unshared memory adds onto C like the JavaScript GEMM", () => {
  const rt = new WasmRuntime({ simd: true, relaxed: false, shared: false });
  for (const [m, n, k] of SIZES) {
    for (const [ta, tb] of [[false, false], [true, true]]) {
      const a = randomData(m * k, 5);
      const b = randomData(k * n, 6);
      // C starts non-zero at an offset: both add onto it (C += A B).
      const js = randomData(m * n + 3, 7);
      const wasm = js.slice();
      gemmCpu(m, n, k, a, 0, ta, b, 0, tb, js, 3);
      gemmWasm(rt, m, n, k, a, 0, ta, b, 0, tb, wasm, 3);
      assertClose(wasm, js, { atol: 8e-6 * Math.sqrt(k), rtol: 1e-4 });
    }
  }
});

Deno.test("wasm results are bit-identical with 1, 2 and 3 threads", async () => {
  const attrs = {
    stride: [1, 1] as P,
    padding: [1, 1] as P,
    dilation: [1, 1] as P,
  };
  const cases: [string, () => Tensor][] = [
    [
      "matmul",
      () =>
        matmulT(randomTensor([130, 301], 1), randomTensor([301, 250], 2), {
          transA: false,
          transB: false,
        }),
    ],
    [
      "matmul tt",
      () =>
        matmulT(randomTensor([301, 130], 1), randomTensor([250, 301], 2), {
          transA: true,
          transB: true,
        }),
    ],
    [
      "conv2d",
      () =>
        conv2dT(
          randomTensor([8, 16, 14, 14], 3),
          randomTensor([24, 16, 3, 3], 4),
          attrs,
        ),
    ],
    ["convTranspose2d", () =>
      convTranspose2dT(
        randomTensor([8, 24, 14, 14], 5),
        randomTensor([24, 16, 3, 3], 4),
        { ...attrs, outputPadding: [0, 0] },
      )],
    ["weight grad", () =>
      conv2dWeightGradT(
        randomTensor([8, 16, 14, 14], 3),
        randomTensor([8, 24, 14, 14], 5),
        { ...attrs, kernel: [3, 3] },
      )],
  ];
  for (const threads of [2, 3]) {
    // Start the workers and wait until they listen (the first start
    // type-checks worker.ts under `deno test`), so they take units.
    configureCpu({ threads });
    const rt = wasmRuntime()!;
    for (let i = 0; i < 6000 && rt.poolStats()!.ready < threads - 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = rt.poolStats()!.workerUnits;
    for (const [name, build] of cases) {
      const idle = rt.poolStats()!.workerUnits;
      const one = await run(build, true, 1);
      assert.equal(rt.poolStats()!.workerUnits, idle, "1 thread: no workers");
      const many = await run(build, true, threads);
      assert.deepEqual(many, one, `${name}: ${threads} threads differ`);
    }
    assert.ok(rt.poolStats()!.workerUnits > before, "workers took no units");
  }
});

Deno.test("packRows packs strips and panels exactly, full blocks and tails", () => {
  const rt = new WasmRuntime({ simd: true, relaxed: true, shared: false });
  for (const h of [MR, NR, 4]) {
    for (
      const [rows, cols, ld] of [[1, 1, 1], [h, 7, 9], [3 * h, 13, 13], [
        2 * h + 1,
        4,
        6,
      ], [h + 5, 33, 40]]
    ) {
      rt.reset();
      const src = rt.alloc(rows * ld);
      const size = Math.ceil(rows / h) * h * cols;
      const dst = rt.alloc(size);
      const m = randomData(rows * ld, rows + cols);
      rt.f32.set(m, src);
      rt.f32.fill(NaN, dst, dst + size);
      packRows(rt, src, ld, rows, cols, dst, h);
      const want = new Float32Array(size);
      for (let b = 0; b < Math.ceil(rows / h); b++) {
        for (let q = 0; q < cols; q++) {
          for (let l = 0; l < h; l++) {
            const r = b * h + l;
            want[(b * cols + q) * h + l] = r < rows ? m[r * ld + q] : 0;
          }
        }
      }
      assert.deepEqual(
        rt.f32.slice(dst, dst + size),
        want,
        `h ${h} ${rows}x${cols} ld ${ld}`,
      );
    }
  }
});
