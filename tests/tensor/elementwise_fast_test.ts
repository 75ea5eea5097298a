/**
 * The CPU elementwise loops' fast paths (an operand constant along the
 * innermost run: scalars, per-channel [1, C, 1, 1] and [N, C, 1, 1] values,
 * per-row values; row vectors; either side) give the same bits as a naive
 * index-by-index broadcast, on random odd shapes with size-1 dimensions; the
 * WebGPU kernels agree with them.
 */

import assert from "node:assert/strict";
import { type Tensor, tensor, where } from "../../tensor/mod.ts";
import { assertMatchesCpu, randomData, testBackends } from "../_util.ts";

type Op = [
  string,
  (a: Tensor, b: Tensor) => Tensor,
  (a: number, b: number) => number,
];
const OPS: Op[] = [
  ["add", (a, b) => a.add(b), (a, b) => a + b],
  ["sub", (a, b) => a.sub(b), (a, b) => a - b],
  ["mul", (a, b) => a.mul(b), (a, b) => a * b],
  ["div", (a, b) => a.div(b), (a, b) => a / b],
  ["maximum", (a, b) => a.maximum(b), (a, b) => (a > b ? a : b)],
  ["gt", (a, b) => a.gt(b), (a, b) => Number(a > b)],
];

// [output-shaped operand, broadcast operand]; both orders are tested.
const PATTERNS: [number[], number[]][] = [
  [[3, 5, 7, 9], [1, 5, 1, 1]],
  [[3, 5, 7, 9], [3, 5, 1, 1]],
  [[3, 5, 7, 9], []],
  [[3, 5, 7, 9], [1]],
  [[1, 5, 1, 9], [1, 5, 1, 1]],
  [[2, 1, 3, 3], [2, 1, 1, 1]],
  [[5, 1, 1, 1], [5, 1, 1, 1]],
  [[13, 11], [13, 1]],
  [[13, 11], [11]],
  [[13, 1], [1, 11]],
  [[1, 1], []],
  [[7], [1]],
  [[4, 3, 5], [3, 1]],
  [[4, 3, 5], [4, 1, 5]],
];

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Naive NumPy broadcast: every output index mapped to each input's index. */
function naive(
  a: Float32Array,
  sa: number[],
  b: Float32Array,
  sb: number[],
  f: (a: number, b: number) => number,
): { shape: number[]; data: Float32Array } {
  const r = Math.max(sa.length, sb.length);
  const pa = [...Array(r - sa.length).fill(1), ...sa];
  const pb = [...Array(r - sb.length).fill(1), ...sb];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const out = new Float32Array(size(shape));
  const idx = new Array(r).fill(0);
  for (let o = 0; o < out.length; o++) {
    let ia = 0, ib = 0;
    for (let d = 0; d < r; d++) {
      ia = ia * pa[d] + (pa[d] === 1 ? 0 : idx[d]);
      ib = ib * pb[d] + (pb[d] === 1 ? 0 : idx[d]);
    }
    out[o] = f(a[ia], b[ib]);
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape, data: out };
}

for (const [name, f, ref] of OPS) {
  testBackends(
    `${name}() with a broadcast operand gives the bits of a naive broadcast`,
    async (b) => {
      for (const [big, small] of PATTERNS) {
        for (const swap of [false, true]) {
          const [sa, sb] = swap ? [small, big] : [big, small];
          const da = randomData(size(sa), 11, 0.5, 2);
          const db = randomData(size(sb), 12, 0.5, 2);
          const want = naive(da, sa, db, sb, ref);
          const got = f(tensor(da, sa), tensor(db, sb));
          assert.deepEqual(got.shape, want.shape, `${sa} ${sb}`);
          assert.deepEqual(await got.data(), want.data, `[${sa}] [${sb}]`);
          got.dispose();
          await assertMatchesCpu(
            b,
            () => f(tensor(da, sa), tensor(db, sb)),
            { atol: 1e-6, rtol: 1e-6 },
          );
        }
      }
    },
  );
}

testBackends(
  "where() with scalar and per-channel operands gives the bits of a naive select",
  async (b) => {
    const c = randomData(3 * 5 * 7, 1);
    const x = randomData(5, 2);
    const want = Float32Array.from(
      c,
      (v, i) => v > 0 ? x[Math.floor(i / 7) % 5] : 0.25,
    );
    const build = () =>
      where(tensor(c, [3, 5, 7]).gt(0), tensor(x, [5, 1]), tensor(0.25));
    const got = build();
    assert.deepEqual(await got.data(), want);
    got.dispose();
    await assertMatchesCpu(b, build);
  },
);
