import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  conv2d,
  crossEntropy,
  manualSeed,
  maxPool2d,
  memoryStats,
  randn,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";
import { testBackends } from "../_util.ts";

/** One SGD step of a small conv net; returns the loss tensor (kept). */
function step(params: Tensor[], x: Tensor, y: Tensor, lr: number): Tensor {
  return tidy(() => {
    const [w1, w2, fc] = params;
    let h = conv2d(x, w1, { padding: 1 }).relu();
    h = maxPool2d(h, { kernelSize: 2 });
    h = conv2d(h, w2, { padding: 1, stride: 2 }).relu();
    const logits = h.flatten(1).matmul(fc);
    const loss = crossEntropy(logits, y);
    loss.backward();
    for (const p of params) {
      p.assign(p.sub(p.grad!.mul(lr)));
      p.grad!.dispose();
      p.grad = null;
    }
    return loss.detach();
  });
}

testBackends(
  "200 training steps of a conv net keep live buffers and bytes flat",
  async (b) => {
    manualSeed(0);
    const params = [
      randn([4, 1, 3, 3]).mul(0.3),
      randn([6, 4, 3, 3]).mul(0.2),
      randn([6 * 2 * 2, 3]).mul(0.2),
    ];
    params.forEach((p) => (p.requiresGrad = true));
    const x = randn([5, 1, 8, 8]);
    const y = tensor([0, 1, 2, 1, 0], [5], { dtype: "int32" });
    // Warm-up: pipelines, constant cache, pool buckets.
    const first = step(params, x, y, 0.1);
    const l0 = await first.item();
    first.dispose();
    const before = memoryStats(b);
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const loss = step(params, x, y, 0.1);
      if (i === 199) last = await loss.item();
      loss.dispose();
    }
    const after = memoryStats(b);
    assert.equal(after.liveBuffers, before.liveBuffers, "live buffer count");
    assert.equal(after.liveBytes, before.liveBytes, "live bytes");
    assert.ok(last < l0, `loss fell: ${l0} -> ${last}`);
  },
);
