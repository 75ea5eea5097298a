/**
 * Tests of the pooling ops: hand-checked max/min/avg pooling and unpooling,
 * every WebGPU kernel against the CPU reference on awkward shapes, finite-
 * difference gradients, and the error messages.
 */

import assert from "node:assert/strict";
import {
  avgPool2d,
  type BackendName,
  maxPool2d,
  maxPool2dWithIndices,
  maxUnpool2d,
  minPool2dWithIndices,
  type PoolOptions,
  type Tensor,
  tensor,
  tidy,
  upsampleNearest,
} from "../../tensor/mod.ts";
import { valueAndGrad } from "../../autograd/mod.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

/** Reads a tensor's values and disposes it. */
async function take(t: Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Distinct values spread over [-1, 1) in a scrambled order, so max pooling
 * has no ties and finite differences never change the winner.
 */
function distinct(n: number, seed = 1): Float32Array {
  const keys = randomData(n, seed);
  const order = [...keys.keys()].sort((a, b) => keys[a] - keys[b]);
  const out = new Float32Array(n);
  order.forEach((j, rank) => (out[j] = -1 + (2 * rank + 1) / n));
  return out;
}

// ---------------------------------------------------------------- hand cases

const x4 = [
  [1, 5, 2, 0],
  [3, 4, 8, 7],
  [9, 0, 1, 1],
  [2, 6, 1, 3],
];

testBackends(
  "maxPool2dWithIndices() gives 2x2 maxima and flat indices",
  async () => {
    const x = tensor([[x4]]);
    const { output, indices } = maxPool2dWithIndices(x, { kernelSize: 2 });
    assert.deepEqual(output.shape, [1, 1, 2, 2]);
    assert.equal(indices.dtype, "int32");
    assert.deepEqual(await take(output), [5, 8, 9, 3]);
    assert.deepEqual(await take(indices), [1, 6, 8, 15]);
    x.dispose();
  },
  { leakCheck: true },
);

testBackends(
  "maxPool2dWithIndices() picks the first index on ties",
  async () => {
    const x = tensor([[[[1, 3, 3, 3], [3, 0, 3, 3], [7, 7, 2, 2], [
      7,
      7,
      2,
      2,
    ]]]]);
    const { output, indices } = maxPool2dWithIndices(x, { kernelSize: 2 });
    assert.deepEqual(await take(output), [3, 3, 7, 2]);
    assert.deepEqual(await take(indices), [1, 2, 8, 10]);
    x.dispose();
  },
);

testBackends(
  "minPool2dWithIndices() gives minima and first argmin",
  async () => {
    const x = tensor([[x4]]);
    const { output, indices } = minPool2dWithIndices(x, { kernelSize: 2 });
    assert.deepEqual(await take(output), [1, 0, 0, 1]);
    assert.deepEqual(await take(indices), [0, 3, 9, 10]);
    x.dispose();
  },
);

testBackends("max pooling never selects padding", async () => {
  // All values negative: a padded zero would win if it could be chosen.
  const x = tensor([[[[-5, -2, -3], [-4, -1, -6], [-9, -8, -7]]]]);
  const { output, indices } = maxPool2dWithIndices(x, {
    kernelSize: 2,
    stride: 2,
    padding: 1,
  });
  assert.deepEqual(await take(output), [-5, -2, -4, -1]);
  assert.deepEqual(await take(indices), [0, 1, 3, 4]);
  // And min pooling of positive values never selects a padded zero.
  const y = x.neg();
  const min = minPool2dWithIndices(y, { kernelSize: 2, stride: 1, padding: 1 });
  assert.deepEqual(
    await take(min.output),
    [5, 2, 2, 3, 4, 1, 1, 3, 4, 1, 1, 6, 9, 8, 7, 7],
  );
  assert.deepEqual(
    await take(min.indices),
    [0, 1, 1, 2, 3, 4, 4, 2, 3, 4, 4, 5, 6, 7, 8, 8],
  );
  x.dispose();
  y.dispose();
});

testBackends(
  "maxUnpool2d() places values at their indices, zeros elsewhere",
  async () => {
    const x = tensor([[x4]]);
    const { output, indices } = maxPool2dWithIndices(x, { kernelSize: 2 });
    const up = maxUnpool2d(output, indices, { kernelSize: 2 });
    assert.deepEqual(up.shape, [1, 1, 4, 4]);
    const placed = [[0, 5, 0, 0], [0, 0, 8, 0], [9, 0, 0, 0], [0, 0, 0, 3]];
    assert.deepEqual(await take(up), placed.flat());
    [x, output, indices].forEach((t) => t.dispose());
  },
);

testBackends(
  "maxUnpool2d() adds values whose overlapping windows share an index",
  async () => {
    // kernel 3, stride 1 on 1x4: windows [0..2] and [1..3] both pick index 2.
    const x = tensor([[[[1, 2, 9, 3]]]]);
    const opts: PoolOptions = { kernelSize: [1, 3], stride: 1 };
    const { output, indices } = maxPool2dWithIndices(x, opts);
    assert.deepEqual(await take(indices.clone()), [2, 2]);
    const z = tensor([[[[10, 20]]]]);
    const up = maxUnpool2d(z, indices, opts);
    assert.deepEqual(await take(up), [0, 0, 30, 0]);
    [x, output, indices, z].forEach((t) => t.dispose());
  },
);

testBackends(
  "avgPool2d() divides by the window or by its unpadded count",
  async () => {
    const x = tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
    const opts = { kernelSize: 2, stride: 2, padding: 1 };
    assertClose(await take(avgPool2d(x, opts)), [1 / 4, 5 / 4, 11 / 4, 7]);
    assertClose(
      await take(avgPool2d(x, { ...opts, countIncludePad: false })),
      [1, 5 / 2, 11 / 2, 7],
    );
    x.dispose();
  },
  { leakCheck: true },
);

testBackends(
  "avgPool2d() backward spreads each gradient over its window",
  async () => {
    const x = tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
    const f = (v: Tensor) =>
      avgPool2d(v, { kernelSize: 2, stride: 1, padding: 1 }).sum();
    const { value, grads } = valueAndGrad(f)(x);
    // Every input lies in four windows of size 4 (padding counted).
    assertClose(await take(grads[0]), new Array(9).fill(1));
    value.dispose();
    x.dispose();
  },
);

// --------------------------------------------------- GPU vs CPU reference

interface Case {
  shape: number[];
  opts: PoolOptions;
}

const CASES: Case[] = [
  { shape: [1, 1, 1, 1], opts: { kernelSize: 1 } },
  { shape: [2, 3, 7, 5], opts: { kernelSize: 2 } },
  { shape: [1, 2, 13, 11], opts: { kernelSize: 3, stride: 2, padding: 1 } },
  { shape: [3, 1, 5, 7], opts: { kernelSize: [2, 3], stride: [1, 2] } },
  {
    shape: [1, 2, 17, 3],
    opts: { kernelSize: [3, 1], stride: [2, 1], padding: [1, 0] },
  },
  {
    shape: [2, 1, 6, 9],
    opts: { kernelSize: [4, 2], stride: [3, 1], padding: [2, 1] },
  },
];

const label = (c: Case) =>
  `${c.shape.join("x")} k${c.opts.kernelSize} s${c.opts.stride ?? "="} p${
    c.opts.padding ?? 0
  }`;

for (const c of CASES) {
  testBackends(
    `max and min pooling match the CPU reference for ${label(c)}`,
    async (b) => {
      await assertMatchesCpu(b, () => {
        const x = randomTensor(c.shape, 7);
        // Quantised values create ties, which must break the same way.
        const q = x.mul(2).clamp(-1, 1).sign();
        const mx = maxPool2dWithIndices(x, c.opts);
        const mn = minPool2dWithIndices(x, c.opts);
        const tq = maxPool2dWithIndices(q, c.opts);
        return [mx.output, mx.indices, mn.output, mn.indices, tq.indices];
      });
    },
  );

  testBackends(
    `maxUnpool2d() matches the CPU reference for ${label(c)}`,
    async (b) => {
      await assertMatchesCpu(b, () => {
        const x = randomTensor(c.shape, 11);
        const { output, indices } = maxPool2dWithIndices(x, c.opts);
        const z = randomTensor(output.shape as number[], 12);
        const outputSize = [c.shape[2], c.shape[3]] as [number, number];
        return maxUnpool2d(z, indices, { ...c.opts, outputSize });
      });
    },
  );

  testBackends(
    `avgPool2d() and its gradient match the CPU reference for ${label(c)}`,
    async (b) => {
      await assertMatchesCpu(b, () => {
        const x = randomTensor(c.shape, 3);
        const outs: Tensor[] = [];
        for (const countIncludePad of [true, false]) {
          const f = (v: Tensor) => {
            const y = avgPool2d(v, { ...c.opts, countIncludePad });
            return y.mul(randomTensor(y.shape as number[], 5)).sum();
          };
          const { value, grads } = valueAndGrad(f)(x);
          outs.push(avgPool2d(x, { ...c.opts, countIncludePad }), grads[0]);
          value.dispose();
        }
        return outs;
      });
    },
  );
}

testBackends(
  "pooling matches the CPU reference for a 64x64 batch of 2x3 planes",
  async (b) => {
    // Enough pooled elements to need several workgroups.
    await assertMatchesCpu(b, () => {
      const x = randomTensor([2, 3, 64, 64], 21);
      const opts = { kernelSize: 2 };
      const { output, indices } = maxPool2dWithIndices(x, opts);
      const up = maxUnpool2d(output.neg(), indices, opts);
      return [output, indices, up, avgPool2d(x, opts)];
    });
  },
);

// ------------------------------------------------------------- gradients

/** A fixed weight on `like`'s backend, so the loss is not a plain sum. */
const weigh = (y: Tensor, seed: number) =>
  y.mul(
    tensor(randomData(y.size, seed, 0.5, 1.5), y.shape as number[], {
      backend: y.backend,
    }),
  ).sum();

const input = (shape: number[], data = randomData(size(shape), 9)) => ({
  data,
  shape,
});

testBackends(
  "maxPool2d() passes finite-difference gradient checks",
  async (b) => {
    for (const c of [CASES[2], CASES[3], CASES[5]]) {
      const shape = [1, 2, c.shape[2], c.shape[3]];
      await assertGradients(
        b,
        (x) => weigh(maxPool2d(x, c.opts), 1),
        [input(shape, distinct(size(shape)))],
      );
    }
  },
);

testBackends(
  "maxUnpool2d() passes finite-difference gradient checks on its values",
  async (b) => {
    for (const c of [CASES[1], CASES[2], CASES[4]]) {
      const shape = [1, 2, c.shape[2], c.shape[3]];
      const outputSize = [shape[2], shape[3]] as [number, number];
      const ref = distinct(size(shape), 4);
      const x = tensor(ref, shape, { backend: "cpu" });
      const pooled = maxPool2d(x, c.opts).shape as number[];
      x.dispose();
      await assertGradients(b, (z) => {
        const x = tensor(ref, shape, { backend: z.backend });
        const { output, indices } = maxPool2dWithIndices(x, c.opts);
        output.dispose();
        return weigh(maxUnpool2d(z, indices, { ...c.opts, outputSize }), 2);
      }, [input(pooled)]);
    }
  },
);

testBackends(
  "avgPool2d() passes finite-difference gradient checks",
  async (b) => {
    for (const c of [CASES[2], CASES[3], CASES[5]]) {
      const shape = [1, 2, c.shape[2], c.shape[3]];
      for (const countIncludePad of [true, false]) {
        await assertGradients(
          b,
          (x) => weigh(avgPool2d(x, { ...c.opts, countIncludePad }), 3),
          [input(shape)],
        );
      }
    }
  },
);

testBackends(
  "upsampleNearest() passes finite-difference gradient checks",
  async (b) => {
    await assertGradients(
      b,
      (x) => weigh(upsampleNearest(x, [2, 3]), 4),
      [input([1, 2, 3, 2])],
    );
  },
);

// ---------------------------------------------------------------- errors

function throwsWith(fn: () => unknown, text: string): void {
  assert.throws(fn, (e: unknown) => {
    const msg = (e as Error).message;
    assert.ok(msg.includes(text), `expected "${text}" in "${msg}"`);
    assert.ok(!msg.includes("\n"), `message is not one line: "${msg}"`);
    return true;
  });
}

testBackends(
  "pooling rejects bad input with one-line messages",
  (b: BackendName) => {
    tidy(() => {
      throwsWith(
        () =>
          maxPool2d(tensor(new Float32Array(12), [3, 2, 2]), { kernelSize: 2 }),
        "maxPool2d: input must be 4-D [N, C, H, W], got [3, 2, 2]",
      );
      throwsWith(
        () =>
          avgPool2d(tensor(new Float32Array(4), [1, 1, 2, 2]), {
            kernelSize: 3,
          }),
        "avgPool2d: input [1, 1, 2, 2] is smaller than kernel [3, 3]",
      );
      const z = tensor(new Float32Array(4), [1, 1, 2, 2], { backend: b });
      throwsWith(
        () => maxUnpool2d(z, z, { kernelSize: 2 }),
        "maxUnpool2d: indices must be int32, got float32",
      );
      throwsWith(
        () =>
          maxUnpool2d(z, tensor(new Int32Array(2), [1, 1, 1, 2]), {
            kernelSize: 2,
          }),
        "maxUnpool2d: indices [1, 1, 1, 2] do not match values [1, 1, 2, 2]",
      );
    });
  },
);
