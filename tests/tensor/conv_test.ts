/**
 * Tests of the convolution primitives (conv2d, convTranspose2d and the
 * weight gradient): both backends against naive direct loops on awkward
 * geometries, WebGPU against the CPU (also for reductions long enough to
 * take the split-K path, and past llvmpipe's loop cap), gradients against
 * finite differences,
 * the transpose as the exact input-gradient of conv2d (what CNN-F's feedback
 * relies on), and the error messages.
 */

import assert from "node:assert/strict";
import { grad } from "../../autograd/mod.ts";
import { conv2d, convTranspose2d, tensor } from "../../tensor/mod.ts";
import { conv2dWeightGradT } from "../../tensor/tensor.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

type P = [number, number];

/** One convolution: x [nb, ci, h, w], weight [co, ci, kh, kw]. */
interface Case {
  nb: number;
  ci: number;
  co: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: P;
  padding: P;
  dilation: P;
}

const c = (
  nb: number,
  ci: number,
  co: number,
  [h, w]: P,
  [kh, kw]: P,
  stride: P = [1, 1],
  padding: P = [0, 0],
  dilation: P = [1, 1],
): Case => ({ nb, ci, co, h, w, kh, kw, stride, padding, dilation });

const outSize = (q: Case, ax: 0 | 1) =>
  Math.floor(
    ((ax ? q.w : q.h) + 2 * q.padding[ax] -
      q.dilation[ax] * ((ax ? q.kw : q.kh) - 1) - 1) / q.stride[ax],
  ) + 1;

/** outputPadding that makes the transpose give back x's size. */
const restoring = (q: Case, ax: 0 | 1) =>
  ((ax ? q.w : q.h) + 2 * q.padding[ax] -
    q.dilation[ax] * ((ax ? q.kw : q.kh) - 1) - 1) % q.stride[ax];

const CASES: Case[] = [
  c(2, 3, 5, [7, 13], [3, 3], [1, 1], [1, 1]),
  c(1, 1, 1, [1, 1], [1, 1]),
  c(3, 4, 17, [9, 8], [3, 2], [2, 1], [1, 0]),
  c(2, 5, 3, [11, 10], [3, 3], [2, 2], [2, 2], [2, 2]),
  c(1, 2, 33, [5, 5], [1, 1]),
  c(1, 3, 2, [7, 7], [1, 1], [2, 2]),
  c(2, 7, 4, [12, 12], [5, 5], [3, 3], [2, 2]),
  c(2, 8, 70, [6, 6], [3, 3], [1, 1], [1, 1]),
  c(2, 4, 65, [8, 8], [3, 3], [1, 1], [1, 1]),
];

const label = (q: Case) =>
  `x [${q.nb}, ${q.ci}, ${q.h}, ${q.w}] w [${q.co}, ${q.ci}, ${q.kh}, ${q.kw}] stride [${q.stride}] padding [${q.padding}] dilation [${q.dilation}]`;

/**
 * The naive reference: direct loops over every (output, tap) pair give the
 * convolution, and the same pairs scattered give its two gradients.
 */
function naive(q: Case, x: Float32Array, w: Float32Array, gy: Float32Array) {
  const [ho, wo] = [outSize(q, 0), outSize(q, 1)];
  const y = new Float64Array(q.nb * q.co * ho * wo);
  const gx = new Float64Array(x.length);
  const gw = new Float64Array(w.length);
  for (let n = 0; n < q.nb; n++) {
    for (let o = 0; o < q.co; o++) {
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          const yi = ((n * q.co + o) * ho + oh) * wo + ow;
          for (let ci = 0; ci < q.ci; ci++) {
            for (let i = 0; i < q.kh; i++) {
              for (let j = 0; j < q.kw; j++) {
                const ih = oh * q.stride[0] - q.padding[0] + i * q.dilation[0];
                const iw = ow * q.stride[1] - q.padding[1] + j * q.dilation[1];
                if (ih < 0 || ih >= q.h || iw < 0 || iw >= q.w) continue;
                const xi = ((n * q.ci + ci) * q.h + ih) * q.w + iw;
                const wi = ((o * q.ci + ci) * q.kh + i) * q.kw + j;
                y[yi] += x[xi] * w[wi];
                gx[xi] += gy[yi] * w[wi];
                gw[wi] += gy[yi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return { y, gx, gw, ho, wo };
}

// Float32 sums of at most a few hundred products of values in [-1, 1].
const NAIVE_TOL = { atol: 1e-4, rtol: 1e-4 };

testBackends(
  "conv2d(), convTranspose2d() and the weight gradient match naive loops",
  async () => {
    for (const q of CASES) {
      const x = randomData(q.nb * q.ci * q.h * q.w, 1);
      const w = randomData(q.co * q.ci * q.kh * q.kw, 2);
      const gyLen = q.nb * q.co * outSize(q, 0) * outSize(q, 1);
      const gy = randomData(gyLen, 3);
      const r = naive(q, x, w, gy);
      const xt = tensor(x, [q.nb, q.ci, q.h, q.w]);
      const wt = tensor(w, [q.co, q.ci, q.kh, q.kw]);
      const gyt = tensor(gy, [q.nb, q.co, r.ho, r.wo]);
      const geom = {
        stride: q.stride,
        padding: q.padding,
        dilation: q.dilation,
      };
      const y = conv2d(xt, wt, geom);
      assert.deepEqual(y.shape, [q.nb, q.co, r.ho, r.wo]);
      assertClose(await y.data(), r.y, NAIVE_TOL, `conv2d ${label(q)}`);
      const gx = convTranspose2d(gyt, wt, {
        ...geom,
        outputPadding: [restoring(q, 0), restoring(q, 1)],
      });
      assert.deepEqual(gx.shape, xt.shape);
      assertClose(await gx.data(), r.gx, NAIVE_TOL, `transpose ${label(q)}`);
      const gw = conv2dWeightGradT(xt, gyt, { ...geom, kernel: [q.kh, q.kw] });
      assert.deepEqual(gw.shape, wt.shape);
      assertClose(await gw.data(), r.gw, NAIVE_TOL, `weight grad ${label(q)}`);
      for (const t of [xt, wt, gyt, y, gx, gw]) t.dispose();
    }
  },
  { leakCheck: true },
);

// WebGPU sums in float32 in another order than the CPU's float64
// micro-kernel; 1e-4 absolute and 1e-3 relative cover K up to a few hundred.
const GPU_TOL = { atol: 1e-4, rtol: 1e-3 };

for (const q of [CASES[0], CASES[3], CASES[8]]) {
  const geom = { stride: q.stride, padding: q.padding, dilation: q.dilation };
  const xShape = [q.nb, q.ci, q.h, q.w];
  const wShape = [q.co, q.ci, q.kh, q.kw];
  const yShape = [q.nb, q.co, outSize(q, 0), outSize(q, 1)];
  const size = `${q.h}x${q.w}`;
  testBackends(
    `conv2d() matches the CPU reference for ${size} input`,
    (b) =>
      assertMatchesCpu(
        b,
        () => conv2d(randomTensor(xShape, 4), randomTensor(wShape, 5), geom),
        GPU_TOL,
      ),
    { leakCheck: true },
  );
  testBackends(
    `convTranspose2d() matches the CPU reference for ${size} output`,
    (b) =>
      assertMatchesCpu(
        b,
        () =>
          convTranspose2d(randomTensor(yShape, 6), randomTensor(wShape, 7), {
            ...geom,
            outputPadding: [restoring(q, 0), restoring(q, 1)],
          }),
        GPU_TOL,
      ),
    { leakCheck: true },
  );
  testBackends(
    `conv2dWeightGrad() matches the CPU reference for ${size} input`,
    (b) =>
      assertMatchesCpu(
        b,
        () =>
          conv2dWeightGradT(randomTensor(xShape, 8), randomTensor(yShape, 9), {
            ...geom,
            kernel: [q.kh, q.kw],
          }),
        GPU_TOL,
      ),
    { leakCheck: true },
  );
}

/**
 * Tolerance for float32 sums of K products of values in [-1, 1], as in
 * matmul_test.ts: results are of order sqrt(K / 9) with random signs, and
 * summation error scales with that, not with the (possibly cancelled)
 * element, so the absolute part is 2e-4 of that scale (7x the ~2e-3 error
 * of an unsplit sequential sum at K = 67500; a lost K tile errs by units).
 */
const longTol = (k: number) => ({ atol: 2e-4 * Math.sqrt(k / 9), rtol: 1e-4 });

testBackends(
  "conv2dWeightGrad() matches the CPU reference when N*Ho*Wo = 67500",
  async (b) => {
    const attrs = {
      stride: [1, 1] as P,
      padding: [1, 1] as P,
      dilation: [1, 1] as P,
      kernel: [3, 3] as P,
    };
    // K = 3 * 150 * 150 = 67500, past llvmpipe's 65535 loop trips. The
    // 2->17 case has a 32x32 tile, whose inner loop Mesa does not unroll
    // by itself: it gave wrong sums here before split-K.
    for (const [ci, co] of [[1, 2], [2, 17]]) {
      await assertMatchesCpu(
        b,
        () =>
          conv2dWeightGradT(
            randomTensor([3, ci, 150, 150], 40),
            randomTensor([3, co, 150, 150], 41),
            attrs,
          ),
        longTol(67500),
      );
    }
  },
  { leakCheck: true },
);

testBackends(
  "conv2d() and convTranspose2d() match the CPU reference over 300 channels",
  async (b) => {
    // K = 300 * 3 * 3 = 2700 over an output of few tiles: split-K, with the
    // partial sums stored back through the NCHW mapping.
    const geom = { stride: 1, padding: 1 };
    await assertMatchesCpu(
      b,
      () =>
        conv2d(
          randomTensor([2, 300, 3, 5], 42),
          randomTensor([5, 300, 3, 3], 43),
          geom,
        ),
      longTol(2700),
    );
    await assertMatchesCpu(
      b,
      () =>
        convTranspose2d(
          randomTensor([2, 300, 3, 5], 44),
          randomTensor([300, 4, 3, 3], 45),
          geom,
        ),
      longTol(2700),
    );
  },
  { leakCheck: true },
);

/** Inputs for a gradient check: deterministic data with shapes. */
const inputs = (...shapes: number[][]) =>
  shapes.map((shape, i) => ({
    data: randomData(shape.reduce((a, b) => a * b, 1), 20 + i),
    shape,
  }));

/** sum(f(...) * r) for a fixed random r, so every output entry matters. */
const weighted = (t: ReturnType<typeof tensor>) =>
  t.mul(tensor(randomData(t.size, 99), t.shape)).sum();

testBackends(
  "conv2d() gradients match finite differences (stride, padding, dilation)",
  async (b) => {
    const geoms = [
      { stride: 1, padding: 1, dilation: 1, x: [2, 3, 5, 6] },
      { stride: 2, padding: 1, dilation: 1, x: [1, 2, 7, 6] },
      { stride: 1, padding: 2, dilation: 2, x: [1, 2, 7, 7] },
    ];
    for (const { x, ...g } of geoms) {
      await assertGradients(
        b,
        (xt, wt) => weighted(conv2d(xt, wt, g)),
        inputs(x, [3, x[1], 3, 3]),
      );
    }
  },
);

testBackends(
  "convTranspose2d() gradients match finite differences (stride 1 and 2)",
  async (b) => {
    const geoms = [
      { stride: 1, padding: 1, outputPadding: 0, y: [2, 3, 5, 5] },
      { stride: 2, padding: 1, outputPadding: 1, y: [1, 3, 4, 4] },
      { stride: 2, padding: 0, outputPadding: 1, y: [1, 2, 3, 4] },
    ];
    for (const { y, ...g } of geoms) {
      await assertGradients(
        b,
        (yt, wt) => weighted(convTranspose2d(yt, wt, g)),
        inputs(y, [y[1], 2, 3, 3]),
      );
    }
  },
);

testBackends(
  "conv2dWeightGrad() gradients match finite differences",
  async (b) => {
    const geoms = [
      { stride: [1, 1] as P, gy: [2, 3, 6, 5] },
      { stride: [2, 2] as P, gy: [2, 3, 3, 3] },
    ];
    for (const { stride, gy } of geoms) {
      const attrs = {
        stride,
        padding: [1, 1] as P,
        dilation: [1, 1] as P,
        kernel: [3, 3] as P,
      };
      await assertGradients(
        b,
        (xt, gyt) => weighted(conv2dWeightGradT(xt, gyt, attrs)),
        inputs([2, 2, 6, 5], gy),
      );
    }
  },
);

testBackends(
  "convTranspose2d() with a conv2d's weight is that conv2d's input-gradient",
  async () => {
    const opts = [
      { stride: 1, padding: 1, outputPadding: 0 },
      { stride: 2, padding: 1, outputPadding: 1 },
    ];
    for (const { outputPadding, ...g } of opts) {
      const x = randomTensor([2, 3, 8, 8], 30);
      const w = randomTensor([4, 3, 3, 3], 31);
      const ys = g.stride === 1 ? 8 : 4;
      const v = randomTensor([2, 4, ys, ys], 32);
      const [vjp] = grad((xt: typeof x) => conv2d(xt, w, g).mul(v).sum())(x);
      const t = convTranspose2d(v, w, { ...g, outputPadding });
      assert.deepEqual(t.shape, x.shape);
      assertClose(await t.data(), await vjp.data(), { atol: 1e-5 });
      // The autograd rule itself calls convTranspose2d, so also check the
      // adjoint identity <conv2d(x), v> = <x, convTranspose2d(v)>, which
      // does not.
      const lhs = await conv2d(x, w, g).mul(v).sum().item();
      const rhs = await x.mul(t).sum().item();
      assertClose([lhs], [rhs], { atol: 1e-4, rtol: 1e-5 });
    }
  },
);

testBackends("convolution errors name the op, shapes and values", () => {
  const x = tensor(randomData(75), [1, 3, 5, 5]);
  const w = tensor(randomData(72), [2, 4, 3, 3]);
  assert.throws(
    () => conv2d(x, w),
    /^Error: conv2d: input \[1, 3, 5, 5\] has 3 channels but weight \[2, 4, 3, 3\] expects 4$/,
  );
  assert.throws(
    () => convTranspose2d(x, w),
    /^Error: convTranspose2d: input \[1, 3, 5, 5\] has 3 channels but weight \[2, 4, 3, 3\] expects 2$/,
  );
  const w3 = tensor(randomData(54), [2, 3, 3, 3]);
  assert.throws(
    () => conv2d(x, w3, { padding: -1 }),
    /^Error: conv2d: padding must be a non-negative integer, got -1$/,
  );
  assert.throws(
    () =>
      convTranspose2d(x, tensor(randomData(54), [3, 2, 3, 3]), {
        padding: [0, -2],
      }),
    /^Error: convTranspose2d: padding must be a non-negative integer, got -2$/,
  );
  assert.throws(
    () =>
      conv2dWeightGradT(x, tensor(randomData(8), [1, 2, 2, 2]), {
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        kernel: [3, 3],
      }),
    /conv2dWeightGrad: output gradient \[1, 2, 2, 2\] does not match input \[1, 3, 5, 5\]/,
  );
});
