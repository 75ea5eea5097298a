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
 * the Fashion-MNIST model. "adv": adversarial training steps as the CLI
 * takes them (PGD-3 on the first pass, then `trainStep`) at batch 32, where
 * the convolutions are large enough to run on the CPU backend's worker
 * pool; the output then also carries the pool's counters and the size of
 * the WebAssembly memory.
 */

import "../../autograd/mod.ts";
import { LinfPGD } from "../../attacks/pgd.ts";
import { cnnfTarget } from "../../attacks/targets.ts";
import { trainStep } from "../../train/step.ts";
import { wasmRuntime } from "../../tensor/wasm/mod.ts";
import { cnnfCleanLoss } from "../../cnnf/mod.ts";
import { TinyCNNF } from "../_tiny_cnnf.ts";
import { clipGradNorm, SGD } from "../../nn/optim.ts";
import {
  type BackendName,
  conv2d,
  init,
  memoryStats,
  randn,
  readAll,
  sync,
  tensor,
  tidy,
} from "../../tensor/mod.ts";

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

/**
 * A tiny CNN-F, its SGD (momentum and weight decay as the CLI's) and a
 * source of fresh 12x12 batches of `nb` images in [-1, 1).
 */
function tinySetup(nb: number, seed: number) {
  const model = new TinyCNNF();
  const opt = new SGD(model.parameters(), {
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
  });
  const images = () => {
    const data = new Float32Array(nb * 144).map(() => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 31 - 1;
    });
    return tensor(data, [nb, 1, 12, 12]);
  };
  return { model, opt, images };
}

/** One CNN-F training step on a fresh uploaded batch; returns the loss. */
function cnnfLoop(): (i: number) => Promise<number> {
  const { model, opt, images } = tinySetup(4, 7);
  return async () => {
    const x = images();
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

/**
 * One adversarial training step as the CLI takes it: PGD-3 on the first
 * pass, then the CNN-F loss, clipping and SGD (`trainStep`). Returns the
 * loss.
 */
function advLoop(nb: number): (i: number) => Promise<number> {
  const { model, opt, images } = tinySetup(nb, 11);
  const labels = Int32Array.from({ length: nb }, (_, i) => i % 4);
  return async () => {
    const x = images();
    const y = tensor(labels, [nb], { dtype: "int32" });
    const target = cnnfTarget(model, "first", { decision: "first" });
    const pgd = new LinfPGD(target, {
      eps: 0.1,
      epsIter: 0.04,
      nbIter: 3,
      clipMin: -1,
      clipMax: 1,
    });
    const { adv } = await pgd.perturb(x, y);
    const stats = trainStep(model, opt, x, y, adv, {
      cleanParam: 0.1,
      mseParam: 0.1,
      gradClip: 0.5,
    });
    const [loss] = await readAll(stats);
    for (const t of [...stats, x, y, adv]) t.dispose();
    return loss[0];
  };
}

function snapshot() {
  // Garbage is not growth: collect it first (needs --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const rt = backend === "cpu" ? wasmRuntime() : null;
  return {
    rss: Deno.memoryUsage().rss,
    mem: memoryStats(),
    pool: rt?.poolStats() ?? null,
    wasmBytes: rt?.memory.buffer.byteLength ?? 0,
  };
}

const [kind, backend, warm, steps] = Deno.args;
await init({
  backend: backend as BackendName,
  seed: 1,
  ...(kind === "adv" ? { threads: 2 } : {}),
});
const step = kind === "conv"
  ? convLoop()
  : kind === "cnnf"
  ? cnnfLoop()
  : advLoop(32);
const losses: (number | null)[] = [];
for (let i = 0; i < Number(warm); i++) losses.push(await step(i));
await sync();
const before = snapshot();
for (let i = 0; i < Number(steps); i++) losses.push(await step(i));
await sync();
const after = snapshot();
console.log(JSON.stringify({ before, after, losses }));
