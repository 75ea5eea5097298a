/**
 * Memory as a user meets it: the README's training step run in a loop, a
 * CNN-F adversarial-training loop, and `Module.dispose()`, on every backend.
 */

import assert from "node:assert/strict";
import {
  CNNF,
  cnnfAdvLoss,
  type CNNFBase,
  cnnfTarget,
  CNNFWideResNet,
  crossEntropy,
  Flatten,
  Linear,
  LinfPGD,
  memoryStats,
  optim,
  rand,
  randint,
  ReLU,
  Sequential,
  step,
  type Tensor,
  tensor,
  tidy,
} from "../../mod.ts";
import { TinyCNNF } from "../_tiny_cnnf.ts";
import { testBackends } from "../_util.ts";

/** The README's training step, verbatim (checked below). */
async function readmeStep(
  model: Sequential,
  opt: optim.SGD,
  x: Tensor,
  labels: Tensor,
): Promise<number> {
  // README-STEP-BEGIN
  const loss = await step(() => {
    const l = crossEntropy(model.forward(x), labels);
    l.backward(); // fills param.grad
    opt.step();
    opt.zeroGrad();
    return l; // read back as a number; every tensor of the step is freed
  });
  // README-STEP-END
  return loss;
}

Deno.test("the README shows the training step this file runs", async () => {
  const src = await Deno.readTextFile(new URL(import.meta.url));
  const body = src.split("// README-STEP-BEGIN\n")[1].split(
    "  // README-STEP-END",
  )[0];
  const norm = (s: string) => s.replace(/\s+/g, " ").trim();
  const readme = await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  );
  assert.ok(
    norm(readme).includes(norm(body)),
    "README's step differs from the tested one",
  );
  assert.ok(
    readme.includes(
      "new Sequential(new Flatten(), new Linear(784, 64), new ReLU(), new Linear(64, 10))",
    ),
    "README's model differs from the tested one",
  );
});

testBackends(
  "the README training step 200 times keeps live buffers flat",
  async (b) => {
    const model = new Sequential(
      new Flatten(),
      new Linear(784, 64),
      new ReLU(),
      new Linear(64, 10),
    );
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = rand([8, 1, 28, 28]).mul(2).sub(1);
    const labels = randint(0, 10, [8]);
    // Warm-up: the first step creates momentum buffers, the second caches
    // the constants of the momentum update.
    const first = await readmeStep(model, opt, x, labels);
    await readmeStep(model, opt, x, labels);
    const before = memoryStats(b);
    let last = first;
    for (let i = 0; i < 200; i++) {
      last = await readmeStep(model, opt, x, labels);
      assert.equal(memoryStats(b).liveBuffers, before.liveBuffers, `step ${i}`);
    }
    const after = memoryStats(b);
    assert.equal(after.liveBytes, before.liveBytes, "live bytes");
    assert.ok(last < first, `the loss fell: ${first} -> ${last}`);
    x.dispose();
    labels.dispose();
    opt.dispose();
    model.dispose();
  },
);

/**
 * Steps of the full Fashion-MNIST CNN-F loop: a leak of even one buffer per
 * step shows after the first; LONG_TESTS=1 runs the full 100 (minutes on a
 * software GPU). The 100 steps always run on the small CNN-F below.
 */
const CNNF_STEPS = Deno.env.get("LONG_TESTS") ? 100 : 4;

/**
 * Adversarial training as `train/loop.ts` does it (PGD end to end, then the
 * CNN-F loss, backward, SGD) for `steps` steps after two warm-up steps,
 * asserting live buffers and bytes never move.
 */
async function adversarialLoop(
  b: string,
  model: CNNFBase,
  inputShape: number[],
  classes: number,
  steps: number,
): Promise<void> {
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = rand(inputShape).mul(2).sub(1);
  const y = randint(0, classes, [inputShape[0]]);
  const pgd = new LinfPGD(cnnfTarget(model, "e2eAvg"), {
    eps: 0.1,
    epsIter: 0.05,
    nbIter: 1,
  });
  const train = async () => {
    const { adv } = await pgd.perturb(x, y);
    model.train();
    const r = await step(() => {
      const { loss } = cnnfAdvLoss(model, x, adv, y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      model.reset();
      return loss;
    });
    adv.dispose();
    return r;
  };
  // Warm-up: pipelines, constants, momentum buffers.
  await train();
  await train();
  const before = memoryStats(b as "cpu" | "webgpu");
  for (let i = 0; i < steps; i++) {
    assert.ok(Number.isFinite(await train()));
    assert.equal(
      memoryStats(b as "cpu" | "webgpu").liveBuffers,
      before.liveBuffers,
      `step ${i}`,
    );
  }
  const after = memoryStats(b as "cpu" | "webgpu");
  assert.equal(after.liveBuffers, before.liveBuffers, "live buffers");
  assert.equal(after.liveBytes, before.liveBytes, "live bytes");
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
}

testBackends(
  `${CNNF_STEPS} steps of CNN-F adversarial training keep live buffers flat`,
  async (b) => {
    const model = new CNNF({ ind: 2, cycles: 1, resParam: 0.1 });
    await adversarialLoop(b, model, [2, 1, 28, 28], 10, CNNF_STEPS);
  },
);

testBackends(
  "100 steps of adversarial training of a small CNN-F keep live buffers flat",
  async (b) => {
    await adversarialLoop(b, new TinyCNNF(), [4, 1, 12, 12], 4, 100);
  },
);

testBackends(
  "Module.dispose() returns memoryStats to its baseline",
  async (b) => {
    const x = rand([2, 1, 28, 28]);
    const y = tensor([1, 2], [2], { dtype: "int32" });
    const use = async (model: CNNF) => {
      // Gradients and latent state too.
      tidy(() => crossEntropy(model.runAverage(x), y).backward());
      model.runCycles(x).dispose();
      await model.parameters()[0].grad!.data();
    };
    // A first model warms the constant cache (scalars such as resParam).
    const warm = new CNNF({ ind: 2, cycles: 2, resParam: 0.1 });
    await use(warm);
    warm.dispose();
    const base = memoryStats(b);
    const model = new CNNF({ ind: 2, cycles: 2, resParam: 0.1 });
    const built = memoryStats(b).liveBuffers;
    assert.ok(built - base.liveBuffers >= model.parameters().length);
    await use(model);
    assert.ok(memoryStats(b).liveBuffers > built, "grads and latents live");
    model.dispose();
    assert.equal(memoryStats(b).liveBuffers, base.liveBuffers, "buffers");
    assert.equal(memoryStats(b).liveBytes, base.liveBytes, "bytes");

    // The Wide ResNet too (its initialisers cache scalars of their own).
    const wrnOptions = { depth: 10, widenFactor: 1, ind: 0 };
    new CNNFWideResNet(wrnOptions).dispose();
    const wrnBase = memoryStats(b).liveBuffers;
    const wrn = new CNNFWideResNet(wrnOptions);
    assert.ok(memoryStats(b).liveBuffers > wrnBase);
    wrn.dispose();
    assert.equal(memoryStats(b).liveBuffers, wrnBase, "WRN");
    x.dispose();
    y.dispose();
  },
);
