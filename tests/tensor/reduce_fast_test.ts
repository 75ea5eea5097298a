/**
 * The CPU reductions walk a trailing block of reduced axes as one
 * contiguous run (the H, W of an instance norm, the N, H, W of a bias
 * gradient): sums, maxima and argmaxima over every axis subset of random
 * odd shapes with size-1 dimensions give the bits of a naive row-major
 * reduction, and the WebGPU kernels agree with them.
 */

import assert from "node:assert/strict";
import { tensor } from "../../tensor/mod.ts";
import { assertMatchesCpu, randomData, testBackends } from "../_util.ts";

const SHAPES = [[3, 5, 7, 9], [2, 1, 5, 3], [1, 4, 1, 1], [6, 11]];

/** Naive reduction: reduced elements visited in row-major order. */
function naive(
  x: Float32Array,
  shape: number[],
  axes: number[],
  mode: "sum" | "max" | "argmax",
): Float32Array {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const nOut = kept.reduce((a, i) => a * shape[i], 1);
  const nRed = axes.reduce((a, i) => a * shape[i], 1);
  const st = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let base = 0;
    let rem = o;
    for (let k = kept.length - 1; k >= 0; k--) {
      base += (rem % shape[kept[k]]) * st[kept[k]];
      rem = Math.floor(rem / shape[kept[k]]);
    }
    let acc = 0, best = -Infinity, idx = 0;
    for (let r = 0; r < nRed; r++) {
      let off = 0;
      let q = r;
      for (let k = axes.length - 1; k >= 0; k--) {
        off += (q % shape[axes[k]]) * st[axes[k]];
        q = Math.floor(q / shape[axes[k]]);
      }
      const v = x[base + off];
      acc += v;
      if (v > best) {
        best = v;
        idx = r;
      }
    }
    out[o] = mode === "sum" ? acc : mode === "max" ? best : idx;
  }
  return out;
}

testBackends(
  "sum() and max() over any axis subset give the bits of a naive reduction",
  async (b) => {
    for (const shape of SHAPES) {
      const x = randomData(shape.reduce((a, c) => a * c, 1), 7);
      const r = shape.length;
      for (let m = 1; m < 1 << r; m++) {
        const axes = [...Array(r).keys()].filter((i) => (m >> i) & 1);
        for (const mode of ["sum", "max"] as const) {
          if (b !== "cpu") {
            // WebGPU sums in a tree: close to the CPU, not the same bits.
            await assertMatchesCpu(
              b,
              () =>
                mode === "sum"
                  ? tensor(x, shape).sum(axes)
                  : tensor(x, shape).max(axes),
            );
            continue;
          }
          const got = mode === "sum"
            ? tensor(x, shape).sum(axes)
            : tensor(x, shape).max(axes);
          assert.deepEqual(
            await got.data(),
            naive(x, shape, axes, mode),
            `${mode} [${shape}] axes ${axes}`,
          );
          got.dispose();
        }
      }
      for (let ax = 0; ax < r; ax++) {
        const got = tensor(x, shape).argmax(ax);
        assert.deepEqual(
          Float32Array.from(await got.data()),
          naive(x, shape, [ax], "argmax"),
          `argmax [${shape}] axis ${ax}`,
        );
        got.dispose();
      }
    }
  },
);
