/**
 * The demo's computation, browser-safe (no Deno, no DOM): loading the two
 * models from safetensors bytes, PGD that reports each iteration, the
 * per-pass view of a CNN-F (every pass's logits and the reconstruction each
 * feedback cycle produces, taken down to the image), its routing decisions,
 * and a few training steps.
 *
 * @module
 */

import { lossGrad, type Stream } from "../attacks/_util.ts";
import { AttackBase, type Crafted } from "../attacks/base.ts";
import { LinfPGD, type PGDOptions } from "../attacks/pgd.ts";
import type { PredictFn, Target, TargetOutput } from "../attacks/types.ts";
import { noGrad } from "../autograd/grad.ts";
import { loadReferenceStateDict } from "../cnnf/checkpoint.ts";
import { CNNF } from "../cnnf/fmnist.ts";
import { insNorm } from "../cnnf/layers.ts";
import { SGD } from "../nn/optim.ts";
import { decodeSafetensors } from "../nn/safetensors.ts";
import { tensor, zerosLike } from "../tensor/creation.ts";
import { trainStep } from "../train/step.ts";
import { keep, readAll, tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Settings of the CNN-F (from the run that trained it). */
export interface ModelSettings {
  /** Reconstruction target (0 image, 1 or 2 conv blocks). */
  ind: number;
  /** Feedback cycles. */
  cycles: number;
  /** Residual step. */
  resParam: number;
}

/**
 * Builds a model on the current backend and loads safetensors bytes into
 * it. `cnn` is the plain CNN (no cycles, as the CLI builds it).
 */
export function loadModel(
  bytes: Uint8Array,
  kind: "cnnf" | "cnn",
  s: ModelSettings,
  source: string,
): CNNF {
  const model = kind === "cnnf"
    ? new CNNF({ ind: s.ind, cycles: s.cycles, resParam: s.resParam })
    : new CNNF({ ind: 0, cycles: 0, resParam: 0 });
  const { tensors } = decodeSafetensors(bytes, source);
  loadReferenceStateDict(model, tensors, { source });
  model.eval();
  return model;
}

/**
 * Takes a feedback reconstruction at `ind` down to the image through the
 * remaining generative layers (their latent state is the first pass's),
 * so that a reconstruction of a conv block can be looked at.
 */
function toImage(model: CNNF, recon: Tensor): Tensor {
  const [r1, r2] = model.relus;
  let h = recon;
  if (model.ind === 2) h = model.conv2.feedback(r2.feedback(insNorm(h)));
  if (model.ind >= 1) h = model.conv1.feedback(r1.feedback(insNorm(h)));
  return h;
}

/** Every pass of a model on one batch, read back. */
export interface PassView {
  /** Logits of each pass (first pass, then each cycle), [pass][N*C]. */
  logits: Float32Array[];
  /** Image-level reconstruction of each cycle, [cycle][N*784]. */
  recons: Float32Array[];
  /**
   * The reconstruction where the feedback makes it (the conv block at
   * `ind`), as the mean |value| over its channels, [cycle][N*784]; empty
   * when ind = 0 (it is the image).
   */
  blockRecons: Float32Array[];
}

/**
 * Runs the first pass and `cycles` feedback cycles as `runAll` does, keeping
 * each cycle's reconstruction, and reads everything back at once.
 * @param x Images [N, 1, 28, 28] in [-1, 1].
 */
export async function passes(
  model: CNNF,
  x: Tensor,
  cycles: number,
): Promise<PassView> {
  const outs = noGrad(() =>
    tidy(() => {
      model.reset();
      const first = model.forward(x, { first: true });
      const logits = [first.logits];
      const recons: Tensor[] = [];
      const blocks: Tensor[] = [];
      let f = first.feature!;
      for (let c = 0; c < cycles; c++) {
        const r = model.feedback(logits[logits.length - 1]).recon;
        recons.push(toImage(model, r));
        if (model.ind > 0) blocks.push(r.abs().mean(1));
        f = f.add(r.sub(f).mul(model.resParam));
        logits.push(model.forward(f, { first: false }).logits);
      }
      return [...logits, ...recons, ...blocks];
    })
  );
  model.reset();
  const host = await readAll(outs);
  outs.forEach((t) => t.dispose());
  return {
    logits: host.slice(0, cycles + 1) as Float32Array[],
    recons: host.slice(cycles + 1, 2 * cycles + 1) as Float32Array[],
    blockRecons: host.slice(2 * cycles + 1) as Float32Array[],
  };
}

/** What `ProgressPGD` reports after each iteration. */
export interface PGDProgress {
  /** Iterations done. */
  iteration: number;
  /** Iterations in all. */
  total: number;
  /** The summed objective at the iterate the step was taken from. */
  loss: number;
}

/** LinfPGD with its start, step and objective opened to `ProgressPGD`. */
class SteppedLinfPGD extends LinfPGD {
  start(x: Tensor, rng: Stream): Tensor {
    return this.randInit ? this.init(x, rng) : zerosLike(x);
  }
  next(x: Tensor, delta: Tensor, grad: Tensor): Tensor {
    return this.step(x, delta, grad);
  }
  objectiveOf(y: Tensor): (out: TargetOutput) => Tensor {
    return this.objective(y);
  }
}

/**
 * The library's L∞ PGD (its random start, step, projection and objective,
 * in PGDBase's order, hence the same result) run one iteration at a time:
 * after each it reads the loss back and awaits `onStep`, so a page can
 * repaint and show progress.
 */
export class ProgressPGD extends AttackBase {
  /** Report name. */
  readonly name: string = "LinfPGD";
  readonly #pgd: SteppedLinfPGD;
  readonly #onStep: (p: PGDProgress) => void | Promise<void>;

  /**
   * Creates the attack.
   * @param target What is attacked.
   * @param options LinfPGD's options.
   * @param onStep Called after every iteration.
   */
  constructor(
    target: Target | PredictFn,
    options: PGDOptions,
    onStep: (p: PGDProgress) => void | Promise<void>,
  ) {
    super(target, options);
    this.#pgd = new SteppedLinfPGD(this.target, options);
    this.#onStep = onStep;
  }

  /** PGDBase's loop, with a readback and a callback per iteration. */
  protected async craft(x: Tensor, y: Tensor, rng: Stream): Promise<Crafted> {
    const pgd = this.#pgd;
    const objective = pgd.objectiveOf(y);
    let delta = pgd.start(x, rng);
    try {
      for (let k = 0; k < pgd.nbIter; k++) {
        const [next, loss] = tidy(() => {
          const { grad, loss } = lossGrad(this.target, x.add(delta), objective);
          return [pgd.next(x, delta, grad), loss.sum()];
        });
        delta.dispose();
        delta = next;
        const value = await loss.item();
        loss.dispose();
        await this.#onStep({
          iteration: k + 1,
          total: pgd.nbIter,
          loss: value,
        });
      }
      return {
        adv: tidy(() => x.add(delta).clamp(this.clipMin, this.clipMax)),
        queries: pgd.nbIter,
      };
    } finally {
      delta.dispose();
    }
  }
}

/**
 * The routing decisions of every pass of a CNN-F on x: each AdaReLU's mask
 * and each AdaPool's argmax/argmin indices, read after each bottom-up pass
 * (keys `pass<p>.relu<i>.mask`, `pass<p>.pool<j>.posInd`, ...). Comparing
 * them between backends shows how often near-ties route differently.
 */
export async function routing(
  model: CNNF,
  x: Tensor,
  cycles: number,
): Promise<Record<string, ArrayLike<number>>> {
  const names: string[] = [];
  const held: Tensor[] = [];
  const grab = (p: number) => {
    model.relus.forEach((r, i) => {
      // Later passes start at `ind`: the ReLUs below it do not run again.
      if (r.mask && (p === 0 || i >= model.ind)) {
        names.push(`pass${p}.relu${i + 1}.mask`);
        held.push(keep(r.mask.clone()));
      }
    });
    model.pools.forEach((q, j) => {
      for (const k of ["posInd", "negInd"] as const) {
        const t = q[k];
        if (t) {
          names.push(`pass${p}.pool${j + 1}.${k}`);
          held.push(keep(t.clone()));
        }
      }
    });
  };
  noGrad(() =>
    tidy(() => {
      model.reset();
      const first = model.forward(x, { first: true });
      grab(0);
      let z = first.logits;
      let f = first.feature!;
      for (let c = 0; c < cycles; c++) {
        const r = model.feedback(z).recon;
        f = f.add(r.sub(f).mul(model.resParam));
        z = model.forward(f, { first: false }).logits;
        grab(c + 1);
      }
    })
  );
  model.reset();
  const host = await readAll(held);
  held.forEach((t) => t.dispose());
  return Object.fromEntries(names.map((n, i) => [n, host[i]]));
}

/** Options of `trainSteps`. */
export interface TrainStepsOptions {
  /** Optimizer steps. */
  steps: number;
  /** Examples per step (taken in order, wrapping around). */
  batchSize: number;
  /** SGD learning rate. */
  lr: number;
  /** Weight of the reconstruction losses (the CLI's default 0.1). */
  mseParam?: number;
  /** Where in the examples to start (default 0). */
  offset?: number;
  /** Called after every step with its loss. */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

/**
 * A few steps of the CLI's standard training on a model in the page:
 * CNN-F's clean loss (cross entropy of every pass plus the reconstruction
 * losses), gradient-norm clip 0.5, SGD with momentum 0.9. Returns the
 * losses; reads back once per step.
 * @param images Examples in [-1, 1], 784 values each.
 */
export async function trainSteps(
  model: CNNF,
  images: Float32Array[],
  labels: number[],
  o: TrainStepsOptions,
): Promise<number[]> {
  const opt = new SGD(model.parameters(), { lr: o.lr, momentum: 0.9 });
  const losses: number[] = [];
  let at = o.offset ?? 0;
  model.train();
  try {
    for (let s = 0; s < o.steps; s++) {
      const idx = Array.from(
        { length: o.batchSize },
        (_, k) => (at + k) % images.length,
      );
      at += o.batchSize;
      const xs = new Float32Array(o.batchSize * 784);
      idx.forEach((i, k) => xs.set(images[i], k * 784));
      const x = tensor(xs, [o.batchSize, 1, 28, 28]);
      const y = tensor(idx.map((i) => labels[i]), [o.batchSize], {
        dtype: "int32",
      });
      const [loss, hits] = trainStep(model, opt, x, y, null, {
        cleanParam: 0,
        mseParam: o.mseParam ?? 0.1,
        gradClip: 0.5,
      });
      const v = await loss.item();
      [loss, hits, x, y].forEach((t) => t.dispose());
      losses.push(v);
      await o.onStep?.(s + 1, v);
    }
  } finally {
    model.eval();
  }
  return losses;
}
