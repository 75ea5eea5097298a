/**
 * Runs a long loop in a process of its own (resident memory is per process,
 * and `deno test --parallel` runs other test files alongside) and prints
 * JSON: resident memory and memory counters after warm-up and at the end,
 * and the losses. Used by `memory_test.ts`:
 *
 *   deno run -A --v8-flags=--expose-gc tests/gpu/_memory_run.ts \
 *     conv|cnnf cpu|webgpu WARMUP STEPS
 *
 * "conv": conv2d forward and backward calls on 2x3x24x24 images (the GEMM
 * tiles that leaked on lavapipe). "cnnf": CNN-F training steps at batch 4
 * as `train/loop.ts` runs them (the CNN-F loss, gradient clipping, SGD with
 * momentum and weight decay), on a tiny CNN-F whose kernels are those of
 * the Fashion-MNIST model.
 */

import "../../autograd/mod.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  CNNFBase,
  cnnfCleanLoss,
  FbConv2d,
  FbFlatten,
  FbLinear,
  type FeedbackResult,
  type ForwardResult,
  insNorm,
} from "../../cnnf/mod.ts";
import { clipGradNorm, SGD } from "../../nn/optim.ts";
import {
  type BackendName,
  conv2d,
  init,
  memoryStats,
  randn,
  readAll,
  sync,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";

/** A two-conv CNN-F on 1x12x12 images (ind 0: it reconstructs the image). */
class TinyCNNF extends CNNFBase {
  readonly conv1 = new FbConv2d(1, 4, 3, { padding: 1 });
  readonly ins1_bias = new Bias([1, 4, 1, 1]);
  readonly conv2 = new FbConv2d(4, 8, 3, { padding: 1 });
  readonly ins2_bias = new Bias([1, 8, 1, 1]);
  readonly fc1 = new FbLinear(8 * 6 * 6, 16);
  readonly fc1_bias = new Bias([1, 16]);
  readonly fc2 = new FbLinear(16, 4);
  readonly fc2_bias = new Bias([1, 4]);
  readonly relus = [new AdaReLU(0.1), new AdaReLU(0.1), new AdaReLU(0.1)];
  readonly pool = new AdaPool(2);
  readonly #flatten = new FbFlatten();

  constructor() {
    super({ cycles: 1, resParam: 0.1, ind: 0 });
  }
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r1.forward(
        this.ins1_bias.forward(insNorm(this.conv1.forward(x))),
      );
      h = r2.forward(this.ins2_bias.forward(insNorm(this.conv2.forward(h))));
      const block1 = h;
      h = this.#flatten.forward(this.pool.forward(h));
      h = r3.forward(this.fc1_bias.forward(this.fc1.forward(h)));
      const logits = this.fc2_bias.forward(this.fc2.forward(h));
      return options.first ?? true
        ? { logits, feature: x, blocks: [block1] }
        : { logits };
    });
  }
  feedback(logits: Tensor): FeedbackResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r3.feedback(this.fc2.feedback(logits));
      h = insNorm(this.#flatten.feedback(this.fc1.feedback(h)));
      h = r2.feedback(this.pool.feedback(h));
      const block1 = h;
      h = r1.feedback(insNorm(this.conv2.feedback(h)));
      return { recon: this.conv1.feedback(h), blocks: [block1] };
    });
  }
  latentLayers(): (AdaReLU | AdaPool)[] {
    return [...this.relus, this.pool];
  }
}

/** One conv2d forward and backward call; returns sum(y) every 10th call. */
function convLoop(): (i: number) => Promise<number | null> {
  const x = randn([2, 3, 24, 24]);
  const w = randn([8, 3, 3, 3]);
  x.requiresGrad = true;
  w.requiresGrad = true;
  return async (i: number) => {
    const out = tidy(() => {
      const y = conv2d(x, w, { padding: 1 });
      y.square().sum().backward();
      const sums = [y.sum(), x.grad!.sum(), w.grad!.sum()];
      for (const p of [x, w]) {
        p.grad!.dispose();
        p.grad = null;
      }
      return sums;
    });
    // A readback every 10 calls, as a training loop reads its loss.
    const v = i % 10 === 9 ? (await readAll(out))[0][0] : null;
    out.forEach((t) => t.dispose());
    return v;
  };
}

/** One CNN-F training step on a fresh uploaded batch; returns the loss. */
function cnnfLoop(): (i: number) => Promise<number> {
  const model = new TinyCNNF();
  const opt = new SGD(model.parameters(), {
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
  });
  let seed = 7;
  return async () => {
    const data = new Float32Array(4 * 144).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 31 - 1;
    });
    const x = tensor(data, [4, 1, 12, 12]);
    const y = tensor([0, 1, 2, 3], [4], { dtype: "int32" });
    model.train();
    const stats = tidy(() => {
      const r = cnnfCleanLoss(model, x, y, { mseParam: 0.1 });
      r.loss.backward();
      clipGradNorm(model.parameters(), 0.5);
      opt.step();
      opt.zeroGrad();
      return [r.loss.detach()];
    });
    model.reset();
    const [loss] = await readAll(stats);
    for (const t of [...stats, x, y]) t.dispose();
    return loss[0];
  };
}

function snapshot() {
  // Garbage is not growth: collect it first (needs --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  return { rss: Deno.memoryUsage().rss, mem: memoryStats() };
}

const [kind, backend, warm, steps] = Deno.args;
await init({ backend: backend as BackendName, seed: 1 });
const step = kind === "conv" ? convLoop() : cnnfLoop();
const losses: (number | null)[] = [];
for (let i = 0; i < Number(warm); i++) losses.push(await step(i));
await sync();
const before = snapshot();
for (let i = 0; i < Number(steps); i++) losses.push(await step(i));
await sync();
const after = snapshot();
console.log(JSON.stringify({ before, after, losses }));
