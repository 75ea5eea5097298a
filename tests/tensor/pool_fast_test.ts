/**
 * The CPU arg-pool's unrolled whole 2 x 2 window and its precomputed window
 * spans pick the same positions as a naive first-best scan (ties, NaN,
 * partial windows at padded edges, overlapping windows, odd planes), and
 * unpooling scatters back to them; the WebGPU kernels agree. The
 * WebAssembly kernel of the common 2 x 2 window (large inputs on the CPU
 * backend) picks the same positions on one and two threads and across
 * chunks.
 */

import assert from "node:assert/strict";
import {
  maxPool2dWithIndices,
  maxUnpool2d,
  minPool2dWithIndices,
  type PoolOptions,
  tensor,
} from "../../tensor/mod.ts";
import { init } from "../../tensor/mod.ts";
import { configureCpu, cpuInfo } from "../../tensor/wasm/mod.ts";
import { poolTuning } from "../../tensor/wasm/pooling.ts";
import { assertMatchesCpu, randomData, testBackends } from "../_util.ts";

/** Naive arg-pool: first position in row-major window order with v > best. */
function naiveArg(
  x: Float32Array,
  [n, c, h, w]: number[],
  k: number,
  s: number,
  p: number,
  sign: number,
): number[] {
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((w + 2 * p - k) / s) + 1;
  const out: number[] = [];
  for (let plane = 0; plane < n * c; plane++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        let best = NaN, arg = -1;
        for (let r = oh * s - p; r < oh * s - p + k; r++) {
          for (let col = ow * s - p; col < ow * s - p + k; col++) {
            if (r < 0 || r >= h || col < 0 || col >= w) continue;
            const v = sign * x[plane * h * w + r * w + col];
            if (arg < 0 || v > best) {
              best = v;
              arg = r * w + col;
            }
          }
        }
        out.push(arg);
      }
    }
  }
  return out;
}

const CASES: [number[], number, number, number][] = [
  [[2, 3, 8, 8], 2, 2, 0],
  [[1, 2, 7, 9], 2, 2, 0],
  [[2, 1, 6, 6], 2, 2, 1],
  [[1, 3, 5, 5], 2, 1, 0],
  [[3, 1, 9, 7], 3, 2, 1],
  [[1, 1, 2, 2], 2, 2, 0],
];

testBackends(
  "max and min arg-pooling pick the first best position, with ties and NaN",
  async (b) => {
    for (const [shape, k, s, p] of CASES) {
      const n = shape.reduce((a, d) => a * d, 1);
      // Few distinct values make ties common; a NaN now and then.
      const x = Float32Array.from(
        randomData(n, 17),
        (v, i) => i % 13 === 5 ? NaN : Math.round(v * 3),
      );
      const o: PoolOptions = { kernelSize: k, stride: s, padding: p };
      for (
        const [sign, pool] of [[1, maxPool2dWithIndices], [
          -1,
          minPool2dWithIndices,
        ]] as const
      ) {
        if (b === "cpu") {
          const { output, indices } = pool(tensor(x, shape), o);
          assert.deepEqual(
            [...await indices.data()],
            naiveArg(x, shape, k, s, p, sign),
            `[${shape}] k${k} s${s} p${p} sign ${sign}`,
          );
          output.dispose();
          indices.dispose();
        }
        const y = randomData(n, 18);
        await assertMatchesCpu(b, () => {
          const r = pool(tensor(y, shape), o);
          return [
            r.indices,
            r.output,
            maxUnpool2d(r.output, r.indices, {
              ...o,
              outputSize: [shape[2], shape[3]],
            }),
          ];
        });
      }
    }
  },
);

Deno.test("[cpu] the WebAssembly 2x2 arg-pool picks the first best position on large inputs (ties, NaN, ±0, ±inf), on 1 and 2 threads and across chunks", async () => {
  await init({ backend: "cpu" });
  if (!cpuInfo().wasm) return; // no WebAssembly SIMD: the JS kernel runs
  const special = [NaN, 0, -0, Infinity, -Infinity];
  const saved = poolTuning.chunkFloats;
  try {
    // Pooled widths 4 (one vector), 5 and 7 (the last vector overlaps),
    // 14 (CNN-F); odd heights and widths drop their last row and column.
    for (
      const shape of [[16, 16, 8, 8], [16, 16, 9, 11], [8, 9, 15, 15], [
        4,
        8,
        28,
        28,
      ]]
    ) {
      const n = shape.reduce((a, d) => a * d, 1);
      const x = Float32Array.from(
        randomData(n, 23),
        (v, i) => i % 11 === 3 ? special[i % 5] : Math.round(v * 2),
      );
      for (const [threads, chunk] of [[1, saved], [2, saved], [2, 1000]]) {
        configureCpu({ threads });
        poolTuning.chunkFloats = chunk;
        for (
          const [sign, pool] of [[1, maxPool2dWithIndices], [
            -1,
            minPool2dWithIndices,
          ]] as const
        ) {
          const { output, indices } = pool(tensor(x, shape), {
            kernelSize: 2,
            stride: 2,
          });
          assert.deepEqual(
            [...await indices.data()],
            naiveArg(x, shape, 2, 2, 0, sign),
            `[${shape}] sign ${sign}, ${threads} thread(s), chunk ${chunk}`,
          );
          output.dispose();
          indices.dispose();
        }
      }
    }
  } finally {
    poolTuning.chunkFloats = saved;
    configureCpu({ threads: navigator.hardwareConcurrency });
  }
});
