import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import { concat, split, stack, type Tensor, tensor } from "../../tensor/mod.ts";
import {
  assertGradients,
  assertMatchesCpu,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

testBackends("reshape() shares storage and infers -1", async () => {
  const x = tensor([1, 2, 3, 4, 5, 6]);
  const y = x.reshape([2, -1]);
  assert.deepEqual(y.shape, [2, 3]);
  assert.equal(y.storage, x.storage);
  assert.deepEqual(await y.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(x.flatten().shape, [6]);
  assert.deepEqual(y.unsqueeze(1).shape, [2, 1, 3]);
  assert.deepEqual(y.unsqueeze(1).squeeze().shape, [2, 3]);
});

testBackends(
  "permute() and transpose() match hand-computed values",
  async (b) => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(await x.transpose().toArray(), [[1, 4], [2, 5], [3, 6]]);
    await assertMatchesCpu(
      b,
      () => randomTensor([3, 5, 7, 2], 1).permute([2, 0, 3, 1]),
    );
    await assertMatchesCpu(
      b,
      () => randomTensor([1, 17, 1], 2).permute([2, 1, 0]),
    );
  },
);

testBackends("expand() broadcasts size-1 and missing axes", async (b) => {
  const x = tensor([[1], [2]]);
  assert.deepEqual(await x.expand([2, 2, 3]).toArray(), [
    [[1, 1, 1], [2, 2, 2]],
    [[1, 1, 1], [2, 2, 2]],
  ]);
  await assertMatchesCpu(
    b,
    () => randomTensor([3, 1, 5], 3).expand([2, 3, 7, 5]),
  );
});

testBackends(
  "slice(), narrow() and pad() match hand-computed values",
  async (b) => {
    const x = tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    assert.deepEqual(await x.slice([1, 0], [2, 2]).toArray(), [[4, 5], [7, 8]]);
    assert.deepEqual(await x.narrow(1, 2, 1).toArray(), [[3], [6], [9]]);
    assert.deepEqual(await tensor([1, 2]).pad([[2, 1]], -1).toArray(), [
      -1,
      -1,
      1,
      2,
      -1,
    ]);
    await assertMatchesCpu(
      b,
      () => randomTensor([5, 7, 3], 4).slice([1, 2, 0], [3, 5, 3]),
    );
    await assertMatchesCpu(
      b,
      () => randomTensor([3, 5, 2], 5).pad([[1, 2], [0, 3], [2, 0]], 0.5),
    );
  },
);

testBackends("concat(), stack() and split() round-trip", async (b) => {
  const a = tensor([[1, 2]]);
  const c = tensor([[3, 4], [5, 6]]);
  assert.deepEqual(await concat([a, c], 0).toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(await stack([a, a], 0).toArray(), [[[1, 2]], [[1, 2]]]);
  const parts = split(concat([a, c], 0), [1, 2], 0);
  assert.deepEqual(await parts[1].toArray(), [[3, 4], [5, 6]]);
  await assertMatchesCpu(
    b,
    () =>
      concat([
        randomTensor([2, 3, 5], 1),
        randomTensor([2, 1, 5], 2),
        randomTensor([2, 4, 5], 3),
      ], 1),
  );
  await assertMatchesCpu(b, () => split(randomTensor([6, 7], 1), 3, 0));
});

testBackends("int32 tensors move like float32 ones", async (b) => {
  const i = tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: "int32" });
  const t = i.transpose();
  assert.equal(t.dtype, "int32");
  assert.deepEqual(await t.toArray(), [[1, 4], [2, 5], [3, 6]]);
  await assertMatchesCpu(
    b,
    () => tensor([1, 2, 3], [3], { dtype: "int32" }).pad([[1, 1]], 7),
  );
});

const gradCases: [string, (x: Tensor) => Tensor, number[]][] = [
  ["reshape", (x) => x.reshape([6, 2]), [3, 4]],
  ["permute", (x) => x.permute([1, 2, 0]), [2, 3, 2]],
  ["expand", (x) => x.expand([4, 3, 5]), [3, 1]],
  ["slice", (x) => x.slice([1, 1], [2, 3]), [4, 5]],
  ["pad", (x) => x.pad([[1, 2], [3, 0]], 2), [2, 3]],
  ["concat", (x) => concat([x, x.mul(2), x.narrow(0, 1, 1)], 0), [2, 3]],
];
for (const [name, f, shape] of gradCases) {
  testBackends(`${name}() gradient matches finite differences`, async (b) => {
    const n = shape.reduce((p, q) => p * q, 1);
    const w = randomData(1000, 77);
    await assertGradients(b, (x) => {
      const y = f(x);
      const wt = tensor(w.subarray(0, y.size), y.shape);
      return y.mul(wt).sum();
    }, [{ data: randomData(n, 11), shape }]);
  });
}
