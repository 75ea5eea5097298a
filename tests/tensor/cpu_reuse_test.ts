/**
 * The CPU backend hands reused (not re-zeroed) arrays to the ops that write
 * every output element: filling the pool with NaN garbage first, each such
 * op (elementwise, broadcast, slice, pad, concat, expand, permute) still
 * gives exactly the values it gives on fresh memory, and a scatter-add op
 * (unpool) still starts from zeros.
 */

import {
  concat,
  init,
  maxPool2dWithIndices,
  maxUnpool2d,
  type Tensor,
  tensor,
  where,
} from "../../tensor/mod.ts";
import { assertWritesEveryElement, randomData } from "../_util.ts";

const S = [3, 5, 7, 199]; // above the pool's minimum array length
const N = S.reduce((a, b) => a * b, 1);

const OPS: [string, () => Tensor][] = [
  ["add", () => tensor(randomData(N, 1), S).add(tensor(randomData(N, 2), S))],
  [
    "div",
    () => tensor(randomData(N, 1), S).div(tensor([2, 3, 4, 5, 6], [5, 1, 1])),
  ],
  ["mul", () => tensor(randomData(N, 1), S).mul(0.5)],
  ["relu", () => tensor(randomData(N, 1), S).relu()],
  ["gt", () => tensor(randomData(N, 1), S).gt(0)],
  [
    "where",
    () =>
      where(tensor(randomData(N, 1), S).gt(0), tensor(randomData(N, 2), S), 0),
  ],
  [
    "slice",
    () => tensor(randomData(2 * N, 3), [6, 5, 7, 199]).slice([3, 0, 0, 0], S),
  ],
  [
    "pad",
    () =>
      tensor(randomData(N / 3, 3), [1, 5, 7, 199]).pad([
        [1, 1],
        [0, 0],
        [0, 0],
        [0, 0],
      ], 0),
  ],
  [
    "concat",
    () =>
      concat([
        tensor(randomData(N / 3, 4), [1, 5, 7, 199]),
        tensor(randomData(2 * N / 3, 5), [2, 5, 7, 199]),
      ]),
  ],
  ["expand", () => tensor(randomData(35, 6), [1, 5, 7, 1]).expand(S)],
  [
    "permute",
    () => tensor(randomData(N, 7), [199, 7, 5, 3]).permute([3, 2, 1, 0]),
  ],
  ["unpool", () => {
    const { output, indices } = maxPool2dWithIndices(
      tensor(randomData(N * 2, 8), [3, 5, 14, 199]),
      { kernelSize: [2, 1] },
    );
    return maxUnpool2d(output, indices, {
      kernelSize: [2, 1],
      outputSize: [14, 199],
    });
  }],
];

Deno.test("CPU ops writing every element give the same values on reused garbage arrays", async () => {
  await init({ backend: "cpu", seed: 1 });
  await assertWritesEveryElement(OPS);
});
