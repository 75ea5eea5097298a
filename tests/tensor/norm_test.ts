/**
 * Tests of the fused instance-norm primitive (`insNorm`, `insNormGrad`):
 * the fused forward and gradient against the composed formula they replace
 * (square, mean, add, sqrt, div) on odd shapes on every backend, WebGPU
 * against the CPU, finite differences, a zero plane, memory, and errors.
 * (The composed formula caches constants, such as each plane size's mean
 * divisor, so the tests that run it skip the live-storage check.)
 */

import assert from "node:assert/strict";
import { valueAndGrad } from "../../autograd/mod.ts";
import { init, type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import {
  insNormBiasReluT,
  insNormGradT,
  insNormT,
} from "../../tensor/tensor.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  assertWritesEveryElement,
  oneLine,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

const EPS = 1e-8;
const fused = (x: Tensor) => insNormT(x, { eps: EPS });
/** The composed formula the primitive replaces (the old `insNorm`). */
const composed = (x: Tensor) =>
  x.div(x.square().mean([2, 3], true).add(EPS).sqrt());

const fusedBR = (x: Tensor, b: Tensor) => insNormBiasReluT(x, b, { eps: EPS });
/** InsNorm, Bias and ReLU composed (CNN-F's first-pass block tail). */
const composedBR = (x: Tensor, b: Tensor) => composed(x).add(b).relu();
const biasShape = (s: number[]) => [1, s[1], 1, 1];

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Planes of 1 value, a row, a column, fewer values than the workgroup's 128
// threads, and several times more (each thread strides over the plane).
const SHAPES: number[][] = [
  [1, 1, 1, 1],
  [2, 3, 1, 13],
  [3, 2, 11, 1],
  [3, 5, 7, 9],
  [2, 3, 17, 19],
  [1, 2, 29, 31],
  [5, 1, 3, 3],
];

/**
 * For each of SHAPES, computes the fused and the composed results (`make`
 * returns them as two equal-length lists, inside a tidy scope) and asserts
 * each pair close.
 */
async function assertFusedMatches(
  label: string,
  tol: { atol: number; rtol: number },
  make: (k: number, shape: number[]) => [Tensor[], Tensor[]],
): Promise<void> {
  for (const [k, shape] of SHAPES.entries()) {
    const [fusedOut, composedOut] = tidy(() => {
      const [f, c] = make(k, shape);
      return [f, c];
    });
    for (const [i, t] of fusedOut.entries()) {
      assertClose(
        await t.data(),
        await composedOut[i].data(),
        tol,
        `${label} ${i} ${shape}`,
      );
    }
    [...fusedOut, ...composedOut].forEach((t) => t.dispose());
  }
}

/** The gradients of sum(f(inputs) * w) with respect to `inputs`. */
function gradsOf(
  f: (...t: Tensor[]) => Tensor,
  w: Tensor,
  inputs: Tensor[],
): Tensor[] {
  const { value, grads } = valueAndGrad((...t: Tensor[]) =>
    f(...t).mul(w).sum()
  )(...inputs);
  value.dispose();
  return grads;
}

testBackends(
  "insNorm primitive matches the composed formula on odd shapes",
  () =>
    assertFusedMatches("insNorm", { atol: 1e-6, rtol: 1e-5 }, (k, shape) => {
      const x = randomTensor(shape, 10 + k, -3, 2);
      return [[fused(x)], [composed(x)]];
    }),
);

testBackends(
  "insNorm primitive's gradient matches the composed formula's",
  () =>
    assertFusedMatches("gradient", { atol: 1e-5, rtol: 1e-4 }, (k, shape) => {
      const w = randomTensor(shape, 50 + k);
      const [f, c] = [fused, composed].map((f) =>
        gradsOf(f, w, [randomTensor(shape, 20 + k, -2, 3)])
      );
      return [f, c];
    }),
);

testBackends(
  "insNorm primitive's gradient matches finite differences",
  async (b) => {
    for (const shape of [[2, 3, 3, 5], [1, 2, 1, 7], [1, 1, 13, 11]]) {
      const n = size(shape);
      const w = randomData(n, 7);
      await assertGradients(
        b,
        (x) => fused(x).mul(tensor(w, shape)).sum(),
        [{ data: randomData(n, 8, -2, 2), shape }],
      );
    }
  },
);

testBackends(
  "insNormGrad, plain and gated, matches the CPU on odd shapes",
  async (b) => {
    for (const [k, shape] of SHAPES.entries()) {
      await assertMatchesCpu(b, () => {
        const g = randomTensor(shape, 30 + k);
        const x = randomTensor(shape, 40 + k, -5, 5);
        const gate = randomTensor(shape, 45 + k).relu();
        return [
          insNormGradT(g, x, { eps: EPS }),
          insNormGradT(g, x, { eps: EPS }, gate),
          fused(x),
        ];
      }, { atol: 1e-5, rtol: 1e-4 });
    }
  },
);

testBackends(
  "gated insNormGrad counts g exactly where the gate is > 0 (not -0, NaN, -inf)",
  async () => {
    const special = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 2, -3];
    const shape = [2, 1, 3, 3];
    const gate = tensor(
      Float32Array.from([...special, ...special.reverse()]),
      shape,
    );
    const g = randomTensor(shape, 4);
    const x = randomTensor(shape, 5);
    const [a, e] = tidy(() => [
      insNormGradT(g, x, { eps: EPS }, gate),
      insNormGradT(g.mul(gate.gt(0)), x, { eps: EPS }),
    ]);
    assertClose(await a.data(), await e.data(), { atol: 1e-6, rtol: 1e-6 });
    [gate, g, x, a, e].forEach((t) => t.dispose());
  },
);

testBackends(
  "insNorm of an all-zero plane is zero with a finite gradient",
  async () => {
    const x = tensor(new Float32Array(2 * 5 * 3), [2, 1, 5, 3]);
    const g = randomTensor([2, 1, 5, 3], 3);
    const y = fused(x);
    const dx = insNormGradT(g, x, { eps: EPS });
    assert.ok((await y.data()).every((v) => v === 0));
    // With x = 0 the rule reduces to g / sqrt(eps).
    const want = Array.from(await g.data(), (v) => v / Math.sqrt(EPS));
    assertClose(await dx.data(), want, { rtol: 1e-5 });
    [x, g, y, dx].forEach((t) => t.dispose());
  },
  { leakCheck: true },
);

testBackends(
  "insNorm primitive keeps no tensors after backward",
  () => {
    const x = randomTensor([4, 3, 9, 7], 5);
    x.requiresGrad = true;
    for (let i = 0; i < 20; i++) {
      const loss = tidy(() => fused(fused(x).mul(2)).square().sum());
      loss.backward();
      loss.dispose();
    }
    assert.ok(x.grad);
    assert.deepEqual(x.grad.shape, [4, 3, 9, 7]);
    x.grad.dispose();
    x.grad = null;
    x.dispose();
  },
  { leakCheck: true },
);

testBackends(
  "insNorm primitive rejects bad input with one-line errors",
  () => {
    const x3 = randomTensor([2, 3, 4]);
    const xi = tensor(new Int32Array(4), [1, 1, 2, 2]);
    const x = randomTensor([1, 1, 2, 2]);
    const g = randomTensor([1, 1, 2, 3]);
    oneLine(
      () => fused(x3),
      /insNorm: input must be \[N, C, H, W\], got \[2, 3, 4\]/,
    );
    oneLine(() => fused(xi), /insNorm: input must be float32, got int32/);
    oneLine(
      () => insNormGradT(g, x, { eps: EPS }),
      /insNormGrad: gradient \[1, 1, 2, 3\] does not match input \[1, 1, 2, 2\]/,
    );
    oneLine(
      () => insNormGradT(x, x, { eps: EPS }, g),
      /insNormGrad: gate \[1, 1, 2, 3\] does not match input \[1, 1, 2, 2\]/,
    );
    [x3, xi, x, g].forEach((t) => t.dispose());
  },
  { leakCheck: true },
);

testBackends(
  "insNormBiasRelu matches insNorm, bias and relu composed on odd shapes",
  () =>
    assertFusedMatches("output", { atol: 1e-6, rtol: 1e-5 }, (k, shape) => {
      const x = randomTensor(shape, 60 + k, -3, 2);
      const bias = randomTensor(biasShape(shape), 70 + k, -0.5, 0.5);
      return [[fusedBR(x, bias)], [composedBR(x, bias)]];
    }),
);

testBackends(
  "insNormBiasRelu's gradients (input and bias) match the composed form's",
  () =>
    assertFusedMatches("gradient", { atol: 1e-5, rtol: 1e-4 }, (k, shape) => {
      const w = randomTensor(shape, 80 + k);
      const [f, c] = [fusedBR, composedBR].map((f) =>
        gradsOf(f, w, [
          randomTensor(shape, 90 + k, -2, 3),
          randomTensor(biasShape(shape), 100 + k, -0.5, 0.5),
        ])
      );
      return [f, c];
    }),
);

testBackends(
  "insNormBiasRelu's input gradient alone (the gated kernel) matches the composed form's",
  () =>
    assertFusedMatches("gradient", { atol: 1e-5, rtol: 1e-4 }, (k, shape) => {
      const w = randomTensor(shape, 130 + k);
      const b = randomTensor(biasShape(shape), 140 + k, -0.5, 0.5);
      const [f, c] = [fusedBR, composedBR].map((f) =>
        gradsOf((t) => f(t, b), w, [randomTensor(shape, 150 + k, -2, 3)])
      );
      return [f, c];
    }),
);

testBackends(
  "insNormBiasRelu's gradients match finite differences",
  async (b) => {
    for (const shape of [[2, 3, 3, 5], [1, 2, 1, 7], [1, 1, 13, 11]]) {
      const n = size(shape);
      const w = randomData(n, 9);
      const bias = randomData(shape[1], 12, -0.3, 0.3);
      // The input alone (gated backward kernel), then input and bias.
      await assertGradients(
        b,
        (x) =>
          fusedBR(x, tensor(bias, biasShape(shape))).mul(tensor(w, shape))
            .sum(),
        [{ data: randomData(n, 13, -2, 2), shape }],
      );
      await assertGradients(
        b,
        (x, bias) => fusedBR(x, bias).mul(tensor(w, shape)).sum(),
        [
          { data: randomData(n, 11, -2, 2), shape },
          {
            data: randomData(shape[1], 12, -0.3, 0.3),
            shape: biasShape(shape),
          },
        ],
      );
    }
  },
);

testBackends(
  "insNormBiasRelu matches the CPU on odd shapes",
  async (b) => {
    for (const [k, shape] of SHAPES.entries()) {
      await assertMatchesCpu(b, () => {
        const x = randomTensor(shape, 110 + k, -4, 4);
        const bias = randomTensor(biasShape(shape), 120 + k);
        return fusedBR(x, bias);
      }, { atol: 1e-5, rtol: 1e-4 });
    }
  },
);

testBackends(
  "insNormBiasRelu keeps no tensors after backward and rejects a bad bias",
  () => {
    const x = randomTensor([3, 4, 5, 7], 5);
    const b = randomTensor([1, 4, 1, 1], 6);
    x.requiresGrad = true;
    b.requiresGrad = true;
    for (let i = 0; i < 10; i++) {
      const loss = tidy(() => fusedBR(x, b).square().sum());
      loss.backward();
      loss.dispose();
    }
    assert.deepEqual(b.grad?.shape, [1, 4, 1, 1]);
    const bad = randomTensor([1, 3, 1, 1]);
    oneLine(
      () => fusedBR(x, bad),
      /insNormBiasRelu: bias must be float32 \[1, 4, 1, 1\] for input \[3, 4, 5, 7\], got float32 \[1, 3, 1, 1\]/,
    );
    [x.grad!, b.grad!, x, b, bad].forEach((t) => t.dispose());
    x.grad = null;
    b.grad = null;
  },
  { leakCheck: true },
);

Deno.test("CPU fused norm kernels write every element of a reused garbage array", async () => {
  // They are in the CPU backend's list of ops that get pooled arrays as
  // they are (not re-zeroed): fill the pool with NaN arrays first.
  await init({ backend: "cpu", seed: 1 });
  const shape = [3, 5, 7, 199]; // above the pool's minimum array length
  const n = size(shape);
  const builds: [string, () => Tensor][] = [
    ["insNorm", () => fused(tensor(randomData(n, 1), shape))],
    ["insNormBiasRelu", () =>
      fusedBR(
        tensor(randomData(n, 2), shape),
        tensor(randomData(5, 3), [1, 5, 1, 1]),
      )],
    ["insNormGrad", () =>
      insNormGradT(
        tensor(randomData(n, 4), shape),
        tensor(randomData(n, 5), shape),
        { eps: EPS },
      )],
    ["insNormGrad gated", () =>
      insNormGradT(
        tensor(randomData(n, 4), shape),
        tensor(randomData(n, 5), shape),
        { eps: EPS },
        tensor(randomData(n, 6), shape).relu(),
      )],
  ];
  await assertWritesEveryElement(builds);
});
