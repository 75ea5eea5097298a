import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import { tensor } from "../../tensor/mod.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

testBackends(
  "sum/mean/max/min over axes with keepdim match hand values",
  async () => {
    const x = tensor([[1, 5, 3], [4, 2, 6]]);
    assert.deepEqual([...await x.sum().data()], [21]);
    assert.deepEqual(await x.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(await x.sum(1, true).toArray(), [[9], [12]]);
    assert.deepEqual(await x.mean(-1).toArray(), [3, 4]);
    assert.deepEqual(await x.max(1).toArray(), [5, 6]);
    assert.deepEqual(await x.min(0).toArray(), [1, 2, 3]);
    assert.deepEqual(await x.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(await x.argmin(0, true).toArray(), [[0, 1, 0]]);
    assertClose(await x.var(1).data(), [4, 4]);
    assertClose(await x.var(1, { correction: 0 }).data(), [8 / 3, 8 / 3]);
  },
);

testBackends(
  "argmax() and argmin() return the first index on ties",
  async () => {
    const x = tensor([[3, 1, 3, 1], [2, 2, 2, 2]]);
    assert.deepEqual(await x.argmax(1).toArray(), [0, 0]);
    assert.deepEqual(await x.argmin(1).toArray(), [1, 0]);
    // Long rows exercise the cross-thread combine on the GPU.
    const long = new Float32Array(300).fill(1);
    long[17] = 5;
    long[250] = 5;
    assert.deepEqual(await tensor(long).argmax(0).toArray(), 17);
  },
);

const SHAPES: [number[], number[]][] = [
  [[1], [0]],
  [[7, 13], [1]],
  [[7, 13], [0]],
  [[3, 5, 11], [0, 2]],
  [[2, 3, 17, 5], [0, 2, 3]],
  [[1031], [0]],
  [[64, 3, 1], [0, 1, 2]],
];

testBackends("reductions match the CPU kernel on awkward shapes", async (b) => {
  for (const [shape, axes] of SHAPES) {
    await assertMatchesCpu(b, () => {
      const x = randomTensor(shape, 9);
      return [x.sum(axes), x.max(axes), x.min(axes), x.mean(axes, true)];
    });
    await assertMatchesCpu(b, () => {
      const x = randomTensor(shape, 10);
      return [x.argmax(axes[0]), x.argmin(axes[axes.length - 1])];
    });
  }
});

testBackends(
  "sum, mean, max, min and var gradients match finite differences",
  async (b) => {
    const data = randomData(60, 5);
    const w = randomData(60, 6);
    for (const axes of [[1], [0, 2], [0, 1, 2]]) {
      await assertGradients(b, (x) => {
        const wt = tensor(w.subarray(0, x.size), x.shape);
        const xw = x.mul(wt);
        return xw.sum(axes).exp().sum()
          .add(xw.max(axes).sum())
          .add(xw.min(axes).mul(2).sum())
          .add(x.var(axes).sum())
          .add(x.mean(axes).mul(3).sum());
      }, [{ data, shape: [3, 4, 5] }]);
    }
  },
);

testBackends(
  "max() and min() skip NaN, keep infinities and give ±inf for all-NaN rows",
  async () => {
    const x = tensor([
      [NaN, NaN, NaN],
      [-Infinity, NaN, -Infinity],
      [Infinity, 2, NaN],
      [NaN, -3, 5],
    ]);
    assert.deepEqual([...await x.max(1).data()], [
      -Infinity,
      -Infinity,
      Infinity,
      5,
    ]);
    assert.deepEqual([...await x.min(1).data()], [Infinity, -Infinity, 2, -3]);
    assert.deepEqual([...await x.argmax(1).data()], [0, 0, 0, 2]);
    assert.deepEqual([...await x.argmin(1).data()], [0, 0, 1, 1]);
  },
);

testBackends("max() gradient splits evenly between ties", async () => {
  const x = tensor([2, 7, 7, 1], [4], { requiresGrad: true });
  x.max().backward();
  assert.deepEqual([...await x.grad!.data()], [0, 0.5, 0.5, 0]);
});
