/**
 * Tests of the matmul primitive: the blocked CPU GEMM and the tiled WGSL GEMM
 * against a naive triple loop on awkward sizes (1, primes, non-multiples of
 * the 16/32/64 tiles, vec4-aligned and not), every transpose combination,
 * batched and broadcast operands; WebGPU against the CPU (including
 * reductions long enough to need split-K, and longer than llvmpipe's loop
 * cap); gradients against finite differences.
 */

import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  gemmTile,
  LOOP_BUDGET,
  maxKTiles,
  splitK,
  TARGET_GROUPS,
} from "../../gpu/shaders/gemm.ts";
import { tensor } from "../../tensor/mod.ts";
import { matmulT } from "../../tensor/tensor.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  randomData,
  testBackends,
} from "../_util.ts";

type Trans = { transA: boolean; transB: boolean };

const TRANS: Trans[] = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: true },
];

const name = (t: Trans) => `${t.transA ? "Aᵀ" : "A"}${t.transB ? "Bᵀ" : "B"}`;

/** Stored shapes of A and B for an M x N x K problem (batch 0 = 2-D). */
function shapes(
  m: number,
  n: number,
  k: number,
  t: Trans,
  batchA: number,
  batchB: number,
): [number[], number[]] {
  const a = t.transA ? [k, m] : [m, k];
  const b = t.transB ? [n, k] : [k, n];
  return [batchA ? [batchA, ...a] : a, batchB ? [batchB, ...b] : b];
}

/** The naive reference: one dot product per output element, in float64. */
function naiveMatmul(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  t: Trans,
  batch: number,
  aBatched: boolean,
  bBatched: boolean,
): Float64Array {
  const out = new Float64Array(Math.max(batch, 1) * m * n);
  for (let z = 0; z < Math.max(batch, 1); z++) {
    const ao = aBatched ? z * m * k : 0;
    const bo = bBatched ? z * k * n : 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          s += a[ao + (t.transA ? p * m + i : i * k + p)] *
            b[bo + (t.transB ? j * k + p : p * n + j)];
        }
        out[(z * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

// [M, N, K]: each of 1, 7, 17, 33, 65, 130 in every position, plus sizes
// whose contiguous axes are multiples of 4 (the vec4 loaders) but not of
// the tiles.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 17, 33],
  [17, 33, 7],
  [33, 7, 65],
  [65, 130, 17],
  [130, 65, 1],
  [1, 130, 7],
  [36, 20, 68],
  [64, 64, 64],
  [4, 12, 130],
];

// Float32 accumulation over K <= 130 terms of magnitude <= 1: 1e-4 absolute
// plus 1e-4 relative leaves a wide margin over rounding.
const NAIVE_TOL = { atol: 1e-4, rtol: 1e-4 };

testBackends(
  "matmul() matches a naive reference on awkward sizes and every transpose",
  async () => {
    for (const [m, n, k] of SIZES) {
      for (const t of TRANS) {
        const [sa, sb] = shapes(m, n, k, t, 0, 0);
        const a = randomData(m * k, m + 3 * n);
        const b = randomData(k * n, k + 5);
        const c = matmulT(tensor(a, sa), tensor(b, sb), t);
        assert.deepEqual(c.shape, [m, n]);
        assertClose(
          await c.data(),
          naiveMatmul(a, b, m, n, k, t, 0, false, false),
          NAIVE_TOL,
          `${name(t)} ${m}x${n}x${k}`,
        );
      }
    }
  },
);

testBackends(
  "batched matmul() matches a naive reference with shared operands",
  async () => {
    const cases: [number, number, number, number, number][] = [
      [3, 3, 7, 17, 33], // both batched
      [3, 0, 33, 7, 20], // B shared across the batch
      [0, 2, 20, 36, 12], // A shared across the batch
      [1, 1, 65, 1, 7],
    ];
    for (const [ba, bb, m, n, k] of cases) {
      for (const t of TRANS) {
        const [sa, sb] = shapes(m, n, k, t, ba, bb);
        const a = randomData(Math.max(ba, 1) * m * k, 7);
        const b = randomData(Math.max(bb, 1) * k * n, 8);
        const c = matmulT(tensor(a, sa), tensor(b, sb), t);
        const batch = Math.max(ba, bb);
        assert.deepEqual(c.shape, [batch, m, n]);
        assertClose(
          await c.data(),
          naiveMatmul(a, b, m, n, k, t, batch, ba > 0, bb > 0),
          NAIVE_TOL,
          `${name(t)} batch ${ba}/${bb} ${m}x${n}x${k}`,
        );
      }
    }
  },
);

// WebGPU sums in float32 in a different order than the CPU's float64
// micro-kernel: 1e-4 absolute and 1e-3 relative cover K up to a few hundred.
const GPU_TOL = { atol: 1e-4, rtol: 1e-3 };

testBackends(
  "matmul() matches the CPU reference for 33x65x17 and 130x7x68 products",
  async (bk) => {
    for (const [m, n, k] of [[33, 65, 17], [130, 7, 68]]) {
      for (const t of TRANS) {
        await assertMatchesCpu(bk, () => {
          const [sa, sb] = shapes(m, n, k, t, 2, 0);
          const a = tensor(randomData(2 * m * k, 11), sa);
          const b = tensor(randomData(k * n, 12), sb);
          return matmulT(a, b, t);
        }, GPU_TOL);
      }
    }
  },
  { leakCheck: true },
);

/**
 * Tolerance for float32 sums of K products of values in [-1, 1]. Their
 * signs are random, so results are of order sqrt(K / 9) (about 90 at
 * K = 70000) while an element may cancel to near 0: a plain relative
 * tolerance would be meaningless there, so the absolute part is relative to
 * that scale. A sequential float32 sum errs by about u sqrt(K) times the
 * partial sums, ~2e-3 here (measured on lavapipe without split-K; split-K,
 * which sums chunks of a few hundred terms separately, gave ~1e-4).
 * 2e-4 of the scale (~0.02) leaves a 7x margin over the unsplit sum, while
 * a loop that stops early, or one K tile lost, is off by units or tens.
 */
const longTol = (k: number) => ({
  atol: 2e-4 * Math.sqrt(k / 9),
  rtol: 1e-4,
});

testBackends(
  "matmul() matches the CPU reference for K = 70000, past llvmpipe's loop cap",
  async (bk) => {
    const k = 70000;
    // 2x3 is the smallest case; 17x17 (a 32x32 tile with 2x2 per thread)
    // is one whose inner loop Mesa does not unroll by itself, which gave
    // wrong sums here before split-K.
    const cases: [number, number, Trans[]][] = [
      [2, 3, [TRANS[0], TRANS[3]]],
      [17, 17, TRANS],
    ];
    for (const [m, n, ts] of cases) {
      for (const t of ts) {
        await assertMatchesCpu(bk, () => {
          const [sa, sb] = shapes(m, n, k, t, 0, 0);
          const a = tensor(randomData(m * k, 13), sa);
          const b = tensor(randomData(k * n, 14), sb);
          return matmulT(a, b, t);
        }, longTol(k));
      }
    }
  },
  { leakCheck: true },
);

testBackends(
  "split-K matmul() matches the CPU reference for batched long products",
  async (bk) => {
    // Few output tiles and K of 4099 (scalar loads) or 4100 (vec4): K is
    // split for occupancy, with a partial last chunk, over batch indices.
    const cases: [number, number, number, number, number][] = [
      [3, 3, 5, 7, 4099],
      [3, 0, 5, 7, 4100],
      [0, 2, 20, 36, 4100],
    ];
    for (const [ba, bb, m, n, k] of cases) {
      for (const t of TRANS) {
        await assertMatchesCpu(bk, () => {
          const [sa, sb] = shapes(m, n, k, t, ba, bb);
          const a = tensor(randomData(Math.max(ba, 1) * m * k, 15), sa);
          const b = tensor(randomData(Math.max(bb, 1) * k * n, 16), sb);
          return matmulT(a, b, t);
        }, longTol(k));
      }
    }
  },
  { leakCheck: true },
);

Deno.test("splitK() bounds the loop trips and covers K exactly", () => {
  const cases: [number, number, number, number][] = [
    [2, 3, 70000, 1],
    [16, 9, 64 * 784, 1], // weight gradient 1->16 at batch 64
    [32, 288, 8 * 784, 1],
    [1024, 1024, 1024, 1],
    [1024, 1024, 5_000_000, 1],
    [5, 7, 4099, 3],
    [64, 64, 64, 1],
    [2, 3, 0, 1],
  ];
  for (const [m, n, k, batch] of cases) {
    const tile = gemmTile(m, n, k);
    const { splits, kchunk } = splitK(tile, m, n, k, batch);
    const what = `${m}x${n}x${k} batch ${batch}`;
    assert.ok(splits >= 1, what);
    if (splits === 1) {
      assert.ok(Math.ceil(k / tile.bk) <= maxKTiles(tile), what);
      continue;
    }
    assert.equal(kchunk % tile.bk, 0, what);
    // Every chunk non-empty, together exactly K.
    assert.ok((splits - 1) * kchunk < k && splits * kchunk >= k, what);
    const trips = (kchunk / tile.bk) * (1 + tile.bk / tile.unroll);
    assert.ok(trips <= LOOP_BUDGET, `${what}: ${trips} trips`);
  }
  // Short reductions and outputs with enough tiles stay in one pass; the
  // 1->16 weight gradient gets enough workgroups; huge K is split for the
  // loop cap even with plenty of tiles.
  const t = (m: number, n: number, k: number) =>
    splitK(gemmTile(m, n, k), m, n, k, 1).splits;
  assert.equal(t(64, 64, 64), 1);
  assert.equal(t(1024, 1024, 1024), 1);
  assert.ok(t(16, 9, 64 * 784) >= 64);
  assert.ok(t(16, 9, 64 * 784) <= TARGET_GROUPS);
  assert.ok(t(1024, 1024, 5_000_000) > 1);
});

testBackends(
  "matmul() gradients match finite differences for every transpose",
  async (bk) => {
    const [m, n, k] = [3, 5, 4];
    for (const t of TRANS) {
      for (const [ba, bb] of [[0, 0], [2, 2], [2, 0], [0, 2]]) {
        const [sa, sb] = shapes(m, n, k, t, ba, bb);
        const outShape = ba || bb ? [Math.max(ba, bb), m, n] : [m, n];
        const r = randomData(outShape.reduce((x, y) => x * y, 1), 3);
        await assertGradients(
          bk,
          (a, b) => matmulT(a, b, t).mul(tensor(r, outShape)).sum(),
          [
            { data: randomData(Math.max(ba, 1) * m * k, 1), shape: sa },
            { data: randomData(Math.max(bb, 1) * k * n, 2), shape: sb },
          ],
        );
      }
    }
  },
);

testBackends("matmul() via the method form chains", async () => {
  const a = tensor([[1, 2], [3, 4]]);
  const b = tensor([[5, 6], [7, 8]]);
  assert.deepEqual(await a.matmul(b).toArray(), [[19, 22], [43, 50]]);
  const zeroK = matmulT(
    tensor(new Float32Array(0), [2, 0]),
    tensor(new Float32Array(0), [0, 3]),
    { transA: false, transB: false },
  );
  assert.deepEqual(await zeroK.toArray(), [[0, 0, 0], [0, 0, 0]]);
});

testBackends(
  "matmul() errors name the op and both shapes",
  () => {
    const a = tensor(randomData(6), [2, 3]);
    const b = tensor(randomData(8), [4, 2]);
    assert.throws(
      () => a.matmul(b),
      /^Error: matmul: inner dimensions differ: \[2, 3\] @ \[4, 2\] \(3 vs 4\)$/,
    );
    const c = tensor(randomData(24), [2, 3, 4]);
    const d = tensor(randomData(36), [3, 4, 3]);
    assert.throws(
      () => c.matmul(d),
      /matmul: batch sizes differ.*\[2, 3, 4\].*\[3, 4, 3\]/,
    );
    assert.throws(
      () => tensor([1, 2]).matmul(b),
      /matmul: .*\[2\] and \[4, 2\]/,
    );
  },
);
