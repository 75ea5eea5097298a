/**
 * The CPU strided copy merges whole inner axes into long runs and copies
 * them with `set`/`fill`: slice, pad and concat along outer, inner and
 * middle axes (runs above and below the block threshold, size-1 axes,
 * int32) give exactly the values of a naive element-by-element reference,
 * and the WebGPU copy agrees.
 */

import assert from "node:assert/strict";
import { concat, tensor } from "../../tensor/mod.ts";
import { mergeCopyAxes } from "../../gpu/shaders/copy.ts";
import { assertMatchesCpu, randomData, testBackends } from "../_util.ts";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Row-major coordinates of flat index i in shape s. */
function coords(i: number, s: number[]): number[] {
  const c = new Array(s.length).fill(0);
  for (let d = s.length - 1; d >= 0; d--) {
    c[d] = i % s[d];
    i = Math.floor(i / s[d]);
  }
  return c;
}
const flat = (c: number[], s: number[]) =>
  c.reduce((acc, v, d) => acc * s[d] + v, 0);

function naivePad(
  x: Float32Array,
  s: number[],
  w: [number, number][],
  value: number,
): Float32Array {
  const o = s.map((d, k) => d + w[k][0] + w[k][1]);
  return Float32Array.from({ length: size(o) }, (_, i) => {
    const c = coords(i, o).map((v, k) => v - w[k][0]);
    return c.every((v, k) => v >= 0 && v < s[k]) ? x[flat(c, s)] : value;
  });
}

function naiveSlice(
  x: Float32Array,
  s: number[],
  begin: number[],
  sz: number[],
): Float32Array {
  return Float32Array.from(
    { length: size(sz) },
    (_, i) => x[flat(coords(i, sz).map((v, k) => v + begin[k]), s)],
  );
}

const PADS: [number[], [number, number][]][] = [
  [[3, 5, 7, 9], [[3, 0], [0, 0], [0, 0], [0, 0]]],
  [[3, 5, 7, 9], [[0, 2], [0, 0], [0, 0], [0, 0]]],
  [[3, 5, 7, 9], [[0, 0], [1, 2], [0, 0], [0, 0]]],
  [[3, 5, 7, 9], [[0, 0], [0, 0], [1, 1], [1, 1]]],
  [[2, 3, 70], [[0, 0], [0, 1], [5, 66]]],
  [[1, 1, 131], [[1, 0], [0, 0], [0, 0]]],
  [[5, 1, 1, 13], [[0, 1], [2, 0], [0, 0], [0, 0]]],
  [[2, 100], [[1, 1], [0, 0]]],
];

const SLICES: [number[], number[], number[]][] = [
  [[6, 5, 7, 9], [3, 0, 0, 0], [3, 5, 7, 9]],
  [[6, 5, 7, 9], [0, 1, 0, 0], [6, 3, 7, 9]],
  [[6, 5, 7, 9], [1, 0, 2, 1], [4, 5, 4, 7]],
  [[3, 1, 200], [1, 0, 3], [2, 1, 150]],
  [[4, 1, 1, 1], [1, 0, 0, 0], [2, 1, 1, 1]],
];

testBackends(
  "pad() along any axis gives the values of a naive pad",
  async (b) => {
    for (const [s, w] of PADS) {
      const x = randomData(size(s), 3);
      const got = tensor(x, s).pad(w, 0.5);
      assert.deepEqual(await got.data(), naivePad(x, s, w, 0.5), `${s} ${w}`);
      got.dispose();
      await assertMatchesCpu(b, () => tensor(x, s).pad(w, -2));
    }
  },
);

testBackends(
  "slice() along any axis gives the values of a naive slice",
  async (b) => {
    for (const [s, begin, sz] of SLICES) {
      const x = randomData(size(s), 4);
      const got = tensor(x, s).slice(begin, sz);
      assert.deepEqual(await got.data(), naiveSlice(x, s, begin, sz), `${s}`);
      got.dispose();
      await assertMatchesCpu(b, () => tensor(x, s).slice(begin, sz));
    }
  },
);

testBackends(
  "concat() of float32 and int32 batches keeps every value",
  async (b) => {
    const s1 = [3, 5, 7, 9];
    const x1 = randomData(size(s1), 5);
    for (const axis of [0, 1, 3]) {
      const s2 = s1.map((d, k) => k === axis ? 2 : d);
      const x2 = randomData(size(s2), 6);
      if (axis === 0) {
        const got = concat([tensor(x1, s1), tensor(x2, s2)], 0);
        assert.deepEqual(await got.data(), Float32Array.from([...x1, ...x2]));
        got.dispose();
      }
      await assertMatchesCpu(
        b,
        () => concat([tensor(x1, s1), tensor(x2, s2)], axis),
      );
    }
    const i1 = Int32Array.from({ length: 130 }, (_, i) => i - 60);
    const i2 = Int32Array.from({ length: 65 }, (_, i) => 7 * i);
    const got = concat([
      tensor(i1, [2, 65], { dtype: "int32" }),
      tensor(i2, [1, 65], { dtype: "int32" }),
    ]);
    assert.deepEqual(await got.data(), Int32Array.from([...i1, ...i2]));
    got.dispose();
  },
);

Deno.test("mergeCopyAxes() folds whole inner axes and keeps partial ones", () => {
  const st = (s: number[]) =>
    s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
  // Pad along the batch of [4, 3, 5]: one run of 6 * 15 with offset -2 * 15.
  const g = mergeCopyAxes({
    region: [6, 3, 5],
    srcShape: [4, 3, 5],
    srcOffset: [-2, 0, 0],
    srcStrides: st([4, 3, 5]),
    dstOffset: [0, 0, 0],
    dstStrides: st([6, 3, 5]),
    padValue: 0,
  });
  assert.deepEqual(g.region, [90]);
  assert.deepEqual(g.srcShape, [60]);
  assert.deepEqual(g.srcOffset, [-30]);
  // A spatial pad keeps its padded axes apart.
  const h = mergeCopyAxes({
    region: [2, 3, 7],
    srcShape: [2, 3, 5],
    srcOffset: [0, 0, -1],
    srcStrides: st([2, 3, 5]),
    dstOffset: [0, 0, 0],
    dstStrides: st([2, 3, 7]),
    padValue: 0,
  });
  assert.deepEqual(h.region, [6, 7]);
  assert.deepEqual(h.srcStrides, [5, 1]);
});
