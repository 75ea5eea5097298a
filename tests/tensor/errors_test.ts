import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  avgPool2d,
  concat,
  conv2d,
  convTranspose2d,
  crossEntropy,
  init,
  maxPool2d,
  mseLoss,
  ones,
  tensor,
} from "../../tensor/mod.ts";
import { oneLine, testBackends } from "../_util.ts";

testBackends("bad shapes name the op and both shapes", () => {
  oneLine(
    () => ones([2, 3]).add(ones([4])),
    /^add: shapes \[2, 3\] and \[4\] do not broadcast$/,
  );
  oneLine(
    () => ones([2, 3]).matmul(ones([4, 5])),
    /^matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/,
  );
  oneLine(
    () => conv2d(ones([1, 3, 8, 8]), ones([4, 2, 3, 3])),
    /^conv2d: input \[1, 3, 8, 8\] has 3 channels but weight \[4, 2, 3, 3\] expects 2$/,
  );
  oneLine(
    () => ones([6]).reshape([4]),
    /^reshape: cannot reshape \[6\] \(6 elements\) to \[4\]/,
  );
  oneLine(
    () => concat([ones([2, 3]), ones([2, 4])], 0),
    /^concat: shapes \[2, 3\], \[2, 4\] differ outside axis 0$/,
  );
  oneLine(
    () => mseLoss(ones([2]), ones([3])),
    /^mseLoss: shapes \[2\] and \[3\] differ$/,
  );
  oneLine(
    () => ones([2, 3]).sum(5),
    /^sum: axis 5 is out of range for rank 2$/,
  );
});

testBackends("wrong dtypes name the op and the dtype", () => {
  const labels = tensor([1, 0], [2], { dtype: "int32" });
  oneLine(() => labels.exp(), /^exp: expected float32 input, got int32$/);
  oneLine(
    () => crossEntropy(ones([2, 3]), ones([2])),
    /^crossEntropy: labels must be int32 class indices, got float32 /,
  );
  oneLine(
    () => ones([2]).add(labels),
    /^add: expected float32 input 1, got int32$/,
  );
  oneLine(
    () => crossEntropy(ones([2, 3]), tensor([1], [1], { dtype: "int32" })),
    /labels \[1\] do not match logits \[2, 3\]/,
  );
});

testBackends("negative or invalid geometry is rejected with the value", () => {
  oneLine(
    () => conv2d(ones([1, 1, 5, 5]), ones([1, 1, 3, 3]), { padding: -1 }),
    /^conv2d: padding must be a non-negative integer, got -1$/,
  );
  oneLine(
    () => conv2d(ones([1, 1, 5, 5]), ones([1, 1, 3, 3]), { stride: 0 }),
    /^conv2d: stride must be a positive integer, got 0$/,
  );
  oneLine(
    () =>
      convTranspose2d(ones([1, 1, 5, 5]), ones([1, 1, 3, 3]), {
        stride: 2,
        outputPadding: 2,
      }),
    /^convTranspose2d: outputPadding \[2, 2\] must be smaller than stride \[2, 2\]/,
  );
  oneLine(
    () => ones([2, 2]).pad([[-1, 0]]),
    /^pad: padding must be a non-negative integer, got -1$/,
  );
  oneLine(
    () => maxPool2d(ones([1, 1, 2, 2]), { kernelSize: 3 }),
    /^maxPool2d: input \[1, 1, 2, 2\] is smaller than kernel \[3, 3\]$/,
  );
  oneLine(
    () => avgPool2d(ones([1, 1, 4, 4]), { kernelSize: 2, padding: -1 }),
    /^avgPool2d: padding must be a non-negative integer, got -1$/,
  );
  oneLine(
    () => ones([3]).slice([2], [2]),
    /^slice: range 2\.\.4 exceeds axis 0 of \[3\]$/,
  );
});

Deno.test("init() rejects an unknown backend by name", async () => {
  await assert.rejects(
    () => init({ backend: "tpu" as "cpu" }),
    /init: unknown backend 'tpu'/,
  );
});
