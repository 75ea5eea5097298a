import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  FbFlatten,
  FbLinear,
  insNorm,
} from "../../cnnf/mod.ts";
import { normBiasReLU } from "../../cnnf/layers.ts";
import { INS_NORM_MAX_PLANE } from "../../tensor/ops/norm.ts";
import { insNormT } from "../../tensor/tensor.ts";
import { valueAndGrad } from "../../autograd/mod.ts";
import {
  memoryStats,
  type NestedArray,
  type Tensor,
  tensor,
} from "../../tensor/mod.ts";
import {
  assertClose,
  assertGradients,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

/** Nested values with -0 normalised to 0 (the sign of zero is not specified). */
const arr = async (t: Tensor) => {
  const norm = (v: NestedArray): NestedArray =>
    Array.isArray(v) ? v.map(norm) : v + 0;
  return norm(await t.toArray());
};

testBackends(
  "AdaReLU: first pass masks x > 0, feedback routes through the mask",
  async () => {
    const r = new AdaReLU(0.1);
    const y = r.forward(tensor([[-1, 2, 0, 3]]));
    assert.deepEqual(await arr(y), [[0, 2, 0, 3]]);
    const z = r.feedback(tensor([[5, -6, 7, 8]]));
    assert.deepEqual(await arr(z), [[0, -6, 0, 8]]);
    assert.deepEqual(await arr(r.hidden!), [[5, -6, 7, 8]]);
  },
);

testBackends(
  "AdaReLU: second pass steps toward hidden and masks x'·hidden > 0",
  async () => {
    const r = new AdaReLU(0.5);
    r.forward(tensor([[1, 1, 1, 1]]));
    r.feedback(tensor([[3, -3, 0, 1]]));
    // x' = x + 0.5 (h - x) = [2, -1, 0.5, 1]; x'·h = [6, 3, 0, 1] > 0 → [1, 1, 0, 1].
    const y = r.forward(tensor([[1, 1, 1, 1]]));
    assert.deepEqual(await arr(y), [[2, -1, 0, 1]]);
    assert.deepEqual(await arr(r.mask!), [[1, 1, 0, 1]]);
  },
);

testBackends("AdaReLU: reset clears mask and hidden and frees them", (b) => {
  const r = new AdaReLU(0.1);
  const x = tensor([[1, -1]]);
  r.forward(x).dispose(); // warms the constant cache
  r.reset();
  const before = memoryStats(b).liveBuffers;
  r.forward(x).dispose();
  r.feedback(tensor([[1, 1]])).dispose();
  r.reset();
  x.dispose();
  assert.equal(r.mask, null);
  assert.equal(r.hidden, null);
  assert.equal(memoryStats(b).liveBuffers, before);
  assert.throws(
    () => r.feedback(tensor([[1, 1]])),
    /no forward pass set the mask/,
  );
});

testBackends(
  "AdaReLU: the mask is constant for autograd; hidden carries gradient",
  async (b) => {
    await assertGradients(b, (x, h) => {
      const r = new AdaReLU(0.3);
      r.forward(x);
      r.feedback(h);
      const out = r.forward(x).sum();
      r.reset();
      return out;
    }, [
      { data: Float32Array.from([0.5, -0.7, 1.2, 0.3]), shape: [1, 4] },
      { data: Float32Array.from([0.9, 0.4, -0.8, 0.6]), shape: [1, 4] },
    ]);
  },
);

const X = [[[
  [1, 5, 2, 2],
  [3, 4, 2, 0],
  [-1, -2, 7, 7],
  [-3, -1, 7, 1],
]]];

testBackends(
  "AdaPool: first pass is max pooling; feedback unpools to the argmax, first on ties",
  async () => {
    const p = new AdaPool(2);
    const y = p.forward(tensor(X));
    assert.deepEqual(await arr(y), [[[[5, 2], [-1, 7]]]]);
    // Ties: window (0,1) has 2,2,2,0 → first index (row 0, col 2) = 2;
    // window (1,1) has 7,7,7,1 → index 10.
    assert.deepEqual(await arr(p.posInd!), [[[[1, 2], [8, 10]]]]);
    const z = p.feedback(tensor([[[[10, 20], [30, 40]]]]));
    assert.deepEqual(await arr(z), [[[
      [0, 10, 20, 0],
      [0, 0, 0, 0],
      [30, 0, 40, 0],
      [0, 0, 0, 0],
    ]]]);
  },
);

testBackends(
  "AdaPool: with hidden set, max where hidden > 0, min where < 0, zero where 0",
  async () => {
    const p = new AdaPool(2);
    p.forward(tensor(X));
    p.feedback(tensor([[[[1, -1], [0, -2]]]]));
    const y = p.forward(tensor(X));
    // max of window 0 = 5; min of window 1 = 0; hidden 0 → 0; min of window 3 = 1.
    assert.deepEqual(await arr(y), [[[[5, 0], [0, 1]]]]);
    assert.deepEqual(await arr(p.negInd!), [[[[0, 7], [12, 15]]]]);
    const z = p.feedback(tensor([[[[10, 20], [30, 40]]]]));
    // pos·z to argmax: window 0 (idx 1) ← 10; neg·z to argmin: window 1 (idx 7) ← 20,
    // window 3 (idx 15) ← 40; window 2 had hidden 0 in the forward pass, so its
    // sign masks are both 0 and 30 is dropped.
    assert.deepEqual(await arr(z), [[[
      [0, 10, 0, 0],
      [0, 0, 0, 20],
      [0, 0, 0, 0],
      [0, 0, 0, 40],
    ]]]);
    p.reset();
    assert.equal(p.hidden, null);
    assert.equal(p.posState, null);
    // After reset the next forward is a plain max pool again.
    assert.deepEqual(await arr(p.forward(tensor(X))), [[[[5, 2], [-1, 7]]]]);
  },
);

testBackends(
  "Bias adds bottom-up and is the identity top-down; Flatten restores the shape",
  async () => {
    const b = new Bias([1, 2, 1, 1]);
    b.bias.assign(tensor([1, -1], [1, 2, 1, 1]));
    const y = b.forward(tensor([[[[1]], [[1]]]]));
    assert.deepEqual(await arr(y), [[[[2]], [[0]]]]);
    assert.deepEqual(await arr(b.feedback(tensor([[[[3]], [[4]]]]))), [[[[3]], [
      [4],
    ]]]);
    const f = new FbFlatten();
    const v = f.forward(tensor(new Float32Array(12), [2, 3, 2, 1]));
    assert.deepEqual(v.shape, [2, 6]);
    assert.deepEqual(f.feedback(v).shape, [2, 3, 2, 1]);
  },
);

testBackends(
  "FbLinear feeds back with the same weight untransposed",
  async () => {
    const l = new FbLinear(3, 2);
    l.weight.assign(tensor([[1, 2, 3], [4, 5, 6]]));
    assert.deepEqual(await arr(l.forward(tensor([[1, 0, 1]]))), [[4, 10]]);
    assert.deepEqual(await arr(l.feedback(tensor([[1, 1]]))), [[5, 7, 9]]);
    assert.equal(l.parameters().length, 1);
  },
);

testBackends("insNorm divides by the root mean square over H, W", async (b) => {
  const x = tensor([[[[3, 4], [0, 0]]]]);
  const rms = Math.sqrt((9 + 16) / 4 + 1e-8);
  assertClose(await insNorm(x).data(), [3 / rms, 4 / rms, 0, 0]);
  await assertGradients(
    b,
    (t) => insNorm(t).mul(tensor(randomData(12, 3), [1, 2, 2, 3])).sum(),
    [
      { data: randomData(12, 4), shape: [1, 2, 2, 3] },
    ],
  );
});

testBackends(
  "normBiasReLU equals InsNorm, Bias, AdaReLU in turn: output, mask, gradients, second pass",
  async () => {
    const shape = [3, 4, 7, 5];
    const x = randomTensor(shape, 21, -2, 2);
    const w = randomTensor(shape, 22);
    const hidden = randomTensor(shape, 23);
    const make = () => {
      const b = new Bias([1, 4, 1, 1]);
      b.bias.assign(randomTensor([1, 4, 1, 1], 24, -0.3, 0.3));
      return { b, r: new AdaReLU(0.1) };
    };
    const fused = make();
    const layered = make();
    const run = (l: { b: Bias; r: AdaReLU }, f: boolean) =>
      valueAndGrad((t: Tensor, bias: Tensor) => {
        l.b.bias = bias;
        const y = f
          ? normBiasReLU(t, l.b, l.r)
          : l.r.forward(l.b.forward(insNorm(t)));
        return y.mul(w).sum();
      })(x, l.b.bias);
    for (const pass of [0, 1]) {
      // Second pass: a hidden signal routes normBiasReLU to the three layers.
      if (pass === 1) {
        fused.r.feedback(hidden).dispose();
        layered.r.feedback(hidden).dispose();
      }
      const a = run(fused, true);
      const e = run(layered, false);
      assertClose(await a.value.data(), await e.value.data(), {
        rtol: 1e-5,
      });
      for (const i of [0, 1]) {
        assertClose(await a.grads[i].data(), await e.grads[i].data(), {
          atol: 1e-5,
        }, `pass ${pass} gradient ${i}`);
      }
      assert.deepEqual(
        [...await fused.r.mask!.data()],
        [...await layered.r.mask!.data()],
      );
      [a, e].forEach((r) => [r.value, ...r.grads].forEach((t) => t.dispose()));
    }
    fused.r.reset();
    layered.r.reset();
    [x, w, hidden].forEach((t) => t.dispose());
  },
);

testBackends(
  "insNorm takes the composed form past the fused kernels' plane limit",
  async () => {
    const w = INS_NORM_MAX_PLANE + 1;
    const data = new Float32Array(w).fill(2);
    data[0] = 0;
    const x = tensor(data, [1, 1, 1, w]);
    // The primitive refuses the plane; insNorm still normalises it.
    assert.throws(() => insNormT(x, { eps: 1e-8 }), /exceeds the kernel limit/);
    const y = await insNorm(x).data();
    const rms = Math.sqrt((4 * (w - 1)) / w + 1e-8);
    assertClose([y[0], y[1], y[w - 1]], [0, 2 / rms, 2 / rms]);
    x.dispose();
  },
);
