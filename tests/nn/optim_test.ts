import assert from "node:assert/strict";
import { LRScheduler } from "../../nn/mod.ts";
import { Adam, clipGradNorm, type Optimizer, SGD } from "../../nn/optim.ts";
import { type Tensor, tensor } from "../../tensor/mod.ts";
import { assertClose, testBackends } from "../_util.ts";
import { fixture } from "../cnnf/_fixtures.ts";

const f = fixture("optim_parity.safetensors").tensors;

const CONFIGS: Record<string, (p: Tensor) => Optimizer> = {
  sgd: (p) => new SGD([p], { lr: 0.1 }),
  sgd_momentum_wd: (p) =>
    new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01, dampening: 0.1 }),
  sgd_nesterov: (p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }),
  adam: (p) => new Adam([p], { lr: 0.01 }),
  adam_wd: (p) =>
    new Adam([p], {
      lr: 0.01,
      betas: [0.8, 0.99],
      eps: 1e-6,
      weightDecay: 0.1,
    }),
};

for (const [name, make] of Object.entries(CONFIGS)) {
  testBackends(`${name} follows torch.optim over three steps`, async () => {
    const p = tensor(f.p0.data, f.p0.shape, { requiresGrad: true });
    const opt = make(p);
    for (let k = 0; k < 3; k++) {
      p.grad = tensor(f[`grad${k}`].data, f[`grad${k}`].shape);
      opt.step();
      assertClose(await p.data(), f[`${name}.step${k + 1}`].data, {
        atol: 1e-6,
        rtol: 1e-5,
      }, `step ${k + 1}`);
    }
  });
}

testBackends(
  "clipGradNorm scales the global norm like clip_grad_norm_",
  async () => {
    const a = tensor([0, 0, 0], [3], { requiresGrad: true });
    const b = tensor([0, 0], [2], { requiresGrad: true });
    a.grad = tensor([3, 4, 0]);
    b.grad = tensor([12, 0]);
    const norm = clipGradNorm([a, b], 1);
    assertClose(await norm.data(), f["clip.norm"].data);
    assertClose(await a.grad.data(), f["clip.a"].data, {
      atol: 1e-7,
      rtol: 1e-6,
    });
    assertClose(await b.grad!.data(), f["clip.b"].data, {
      atol: 1e-7,
      rtol: 1e-6,
    });
    // Below the limit the gradients are (numerically) unchanged.
    const n2 = clipGradNorm([a, b], 100);
    assertClose(await a.grad!.data(), f["clip.a"].data, {
      atol: 1e-7,
      rtol: 1e-5,
    });
    n2.dispose();
  },
);

for (const kind of ["poly", "cosine"] as const) {
  Deno.test(`LRScheduler ${kind} matches the reference's per-step LambdaLR`, () => {
    const opt = new SGD([tensor([0], [1], { requiresGrad: true })], {
      lr: 0.05,
    });
    const s = new LRScheduler(opt, {
      kind,
      totalSteps: 10,
      minLr: 0.05 * 1e-5,
    });
    const lrs: number[] = [];
    for (let i = 0; i < 10; i++) {
      lrs.push(opt.lr);
      s.step();
    }
    assertClose(lrs, f[`schedule.${kind}`].data, { atol: 1e-9, rtol: 1e-6 });
  });
}

Deno.test("LRScheduler step decays by gamma every stepSize steps and restores", () => {
  const opt = new SGD([tensor([0], [1], { requiresGrad: true })], { lr: 1 });
  const s = new LRScheduler(opt, { kind: "step", stepSize: 2, gamma: 0.5 });
  const lrs = [];
  for (let i = 0; i < 5; i++) {
    s.step();
    lrs.push(opt.lr);
  }
  assert.deepEqual(lrs, [1, 0.5, 0.5, 0.25, 0.25]);
  s.setStep(0);
  assert.equal(opt.lr, 1);
  assert.throws(
    () => new LRScheduler(opt, { kind: "poly" }),
    /poly needs totalSteps > 0/,
  );
});

Deno.test("SGD rejects nesterov without momentum", () => {
  assert.throws(
    () =>
      new SGD([tensor([1], [1], { requiresGrad: true })], {
        lr: 0.1,
        nesterov: true,
      }),
    /nesterov needs momentum > 0/,
  );
});
