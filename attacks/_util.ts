/**
 * Internal helpers of the attack suite: turning a prediction function into
 * a `Target`, protecting the model for the duration of an attack, the loss
 * gradient with respect to the input only, ε-ball projections, per-example
 * norms, row selection for shrinking a batch to its unfinished examples, and
 * the attack's random stream.
 *
 * @module
 */

import { computeGrads } from "../autograd/backward.ts";
import { noGrad } from "../autograd/grad.ts";
import { CNNFBase } from "../cnnf/model.ts";
import type { Module } from "../nn/module.ts";
import { randomAt } from "../tensor/creation.ts";
import {
  backendObject,
  constant,
  setGradEnabled,
  takeRandom,
  tidy,
  track,
} from "../tensor/engine.ts";
import { concat, where } from "../tensor/functional.ts";
import { fmt, type Shape, sizeOf } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { LossFn, PredictFn, Target, TargetOutput } from "./types.ts";

/**
 * Wraps a prediction function as a target whose one head is also its
 * decision. `module`, when given, is protected during attacks.
 * @example
 * ```ts
 * import { Linear } from "@cnnf/webgpu";
 * import { predictTarget } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const fc = new Linear(4, 3);
 * const t = predictTarget((x) => fc.forward(x), { name: "fc", module: fc });
 * assert.equal(t.name, "fc");
 * ```
 */
export function predictTarget(
  predict: PredictFn,
  options: { name?: string; module?: Module } = {},
): Target {
  return {
    name: options.name ?? "predict",
    module: options.module,
    run(x) {
      const logits = predict(x);
      return { heads: [logits], logits };
    },
    decide: predict,
  };
}

/**
 * A target as is, or a prediction function wrapped by `predictTarget`.
 * @example
 * ```ts
 * import { Linear } from "@cnnf/webgpu";
 * import { asTarget } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * const fc = new Linear(4, 3);
 * assert.equal(asTarget((x) => fc.forward(x)).name, "predict");
 * ```
 */
export function asTarget(t: Target | PredictFn): Target {
  return typeof t === "function" ? predictTarget(t) : t;
}

/**
 * Runs `fn` with `module` (when given) in eval mode, its parameters not
 * recording gradients (advertorch's `ctx_noparamgrad_and_eval`) and, for a
 * CNN-F model, its latent state snapshotted; everything is put back after,
 * whether `fn` succeeds or throws.
 */
export async function guarded<T>(
  module: Module | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (!module) return await fn();
  const modes = module.modules().map((m) => [m, m.training] as const);
  const params = module.parameters();
  const flags = params.map((p) => p.requiresGrad);
  const latent = module instanceof CNNFBase ? module.saveLatent() : null;
  module.eval();
  for (const p of params) p.requiresGrad = false;
  try {
    return await fn();
  } finally {
    for (const [m, t] of modes) m.training = t;
    params.forEach((p, i) => (p.requiresGrad = flags[i]));
    if (latent && module instanceof CNNFBase) module.restoreLatent(latent);
  }
}

/** Per-example loss summed over a target output's heads (weighted). */
export function headsLoss(
  out: TargetOutput,
  labels: Tensor,
  loss: LossFn,
): Tensor {
  return tidy(() => {
    let total: Tensor | null = null;
    out.heads.forEach((h, i) => {
      const w = out.weights?.[i] ?? 1;
      let l = loss(h, labels);
      if (w !== 1) l = l.mul(w);
      total = total ? total.add(l) : l;
    });
    if (!total) throw new Error("attack: the target returned no heads");
    return total;
  });
}

/** Gradient, per-example objective and logits at one point. */
export interface LossGrad {
  /** d(Σ objective)/dx, shaped like x. */
  grad: Tensor;
  /** The per-example objective [N] (detached). */
  loss: Tensor;
  /** The target's tracking logits [N, C] (detached). */
  logits: Tensor;
}

/**
 * The gradient of Σ `body(x).objective` with respect to x only
 * (parameters' `.grad` untouched), recording even inside `noGrad`.
 * Returns the gradient, the per-example objective and any auxiliary
 * tensors `body` returns, detached; they join the caller's scope.
 */
export function gradOf<A extends Record<string, Tensor>>(
  x: Tensor,
  body: (xv: Tensor) => { objective: Tensor; aux: A },
): { grad: Tensor; objective: Tensor; aux: A } {
  const r = tidy(() => {
    const prev = setGradEnabled(true);
    try {
      const xv = x.detach();
      xv.requiresGrad = true;
      const { objective, aux } = body(xv);
      if (objective.rank !== 1 || objective.shape[0] !== x.shape[0]) {
        throw new Error(
          `attack: objective must be per-example [${x.shape[0]}], got ${
            fmt(objective.shape)
          }`,
        );
      }
      const [grad] = computeGrads(objective.sum(), { inputs: [xv] });
      const detached = Object.fromEntries(
        Object.entries(aux).map(([k, v]) => [k, v.detach()]),
      ) as A;
      return { grad, objective: objective.detach(), aux: detached };
    } finally {
      setGradEnabled(prev);
    }
  });
  track(r.grad);
  return r;
}

/**
 * The gradient of the summed per-example `objective` of a target's output
 * with respect to x, with the objective and the tracking logits.
 */
export function lossGrad(
  target: Target,
  x: Tensor,
  objective: (out: TargetOutput) => Tensor,
): LossGrad {
  const r = gradOf(x, (xv) => {
    const out = target.run(xv);
    return { objective: objective(out), aux: { logits: out.logits } };
  });
  return { grad: r.grad, loss: r.objective, logits: r.aux.logits };
}

/** Evaluates the target's tracking logits without recording. */
export function forwardLogits(target: Target, x: Tensor): Tensor {
  return noGrad(() => tidy(() => target.run(x).logits));
}

/** Evaluates the target's decision logits without recording. */
export function decideLogits(target: Target, x: Tensor): Tensor {
  return noGrad(() => tidy(() => target.decide(x)));
}

/**
 * 1 where the prediction counts as a success: argmax ≠ y (untargeted) or
 * argmax = y (targeted). float32 [N].
 */
export function successMask(
  logits: Tensor,
  labels: Tensor,
  targeted: boolean,
): Tensor {
  return tidy(() => {
    const pred = logits.argmax(1);
    return targeted ? pred.eq(labels) : pred.ne(labels);
  });
}

/** Shape [N, 1, 1, ...] that broadcasts a per-example value over x. */
export function perExampleShape(x: Tensor): number[] {
  return [x.shape[0], ...x.shape.slice(1).map(() => 1)];
}

/** Per-example L2 norm, shaped [N, 1, ...] to broadcast over x. */
export function l2Norm(t: Tensor): Tensor {
  const axes = t.shape.slice(1).map((_, i) => i + 1);
  return tidy(() => t.square().sum(axes, true).sqrt());
}

/** Per-example L∞ norm, shaped [N, 1, ...]. */
export function linfNorm(t: Tensor): Tensor {
  const axes = t.shape.slice(1).map((_, i) => i + 1);
  return tidy(() => t.abs().max(axes, true));
}

/** Projects onto the L∞ ball of radius eps around x, then the clip range. */
export function projectLinf(
  xAdv: Tensor,
  x: Tensor,
  eps: number,
  lo: number,
  hi: number,
): Tensor {
  return tidy(() => xAdv.maximum(x.sub(eps)).minimum(x.add(eps)).clamp(lo, hi));
}

/**
 * Scales the perturbation xAdv − x into the L2 ball of radius eps
 * (advertorch's `clamp_by_pnorm`), then clips. Shrinking toward x keeps a
 * point that was in the box inside it.
 */
export function projectL2(
  xAdv: Tensor,
  x: Tensor,
  eps: number,
  lo: number,
  hi: number,
): Tensor {
  return tidy(() => {
    const d = xAdv.sub(x);
    const factor = rdiv(eps, l2Norm(d).maximum(1e-30)).minimum(1);
    return x.add(d.mul(factor)).clamp(lo, hi);
  });
}

/** c / t elementwise. */
export function rdiv(c: number, t: Tensor): Tensor {
  return tidy(() => constant(c, "float32", backendObject(t.backend)).div(t));
}

/** Checks a batch of inputs and labels against each other. */
export function checkBatch(op: string, x: Tensor, y?: Tensor): void {
  if (x.dtype !== "float32" || x.rank < 2) {
    throw new Error(
      `${op}: inputs must be float32 [N, ...], got ${fmt(x.shape)} ${x.dtype}`,
    );
  }
  if (!y) return;
  if (y.dtype !== "int32") {
    throw new Error(`${op}: labels must be int32, got ${y.dtype}`);
  }
  if (y.rank !== 1 || y.shape[0] !== x.shape[0]) {
    throw new Error(
      `${op}: labels ${fmt(y.shape)} do not match inputs ${fmt(x.shape)}`,
    );
  }
  if (x.backend !== y.backend) {
    throw new Error(
      `${op}: inputs live on ${x.backend}, labels on ${y.backend}`,
    );
  }
}

/** Checks that a number is finite and positive (or non-negative). */
export function checkPositive(
  op: string,
  name: string,
  v: number,
  allowZero = false,
): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(
      `${op}: ${name} must be ${
        allowZero ? "non-negative" : "positive"
      }, got ${v}`,
    );
  }
}

/** Checks a positive integer. */
export function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
  }
}

/** Maximal runs of consecutive indices: [start, length] pairs. */
function runsOf(idx: readonly number[], n: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0 || idx[i] >= n || (i > 0 && idx[i] <= idx[i - 1])) {
      throw new Error(
        `rows: indices must be increasing and below ${n}, got [${idx}]`,
      );
    }
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === idx[i]) last[1]++;
    else runs.push([idx[i], 1]);
  }
  return runs;
}

/**
 * Rows `idx` (increasing) of x, any rank and dtype: slices of the
 * consecutive runs, concatenated.
 */
export function selectRows(x: Tensor, idx: readonly number[]): Tensor {
  const runs = runsOf(idx, x.shape[0]);
  if (runs.length === 0) throw new Error("selectRows: no rows selected");
  return tidy(() => {
    const parts = runs.map(([s, l]) => x.narrow(0, s, l));
    return parts.length === 1 ? parts[0].clone() : concat(parts, 0);
  });
}

/**
 * `base` with rows `idx` (increasing) replaced by the rows of `sub`, in
 * order.
 */
export function scatterRows(
  base: Tensor,
  sub: Tensor,
  idx: readonly number[],
): Tensor {
  const n = base.shape[0];
  if (sub.shape[0] !== idx.length) {
    throw new Error(
      `scatterRows: ${sub.shape[0]} rows for ${idx.length} indices`,
    );
  }
  const runs = runsOf(idx, n);
  return tidy(() => {
    const parts: Tensor[] = [];
    let at = 0;
    let used = 0;
    for (const [s, l] of runs) {
      if (s > at) parts.push(base.narrow(0, at, s - at));
      parts.push(sub.narrow(0, used, l));
      used += l;
      at = s + l;
    }
    if (at < n) parts.push(base.narrow(0, at, n - at));
    return parts.length === 1 ? parts[0].clone() : concat(parts, 0);
  });
}

/**
 * An attack's random stream: device draws at explicit positions of a
 * seeded counter-based stream (the attack's own seed, or positions reserved
 * from the global stream), and a small host generator for scalar choices
 * such as Square's window positions.
 * @example
 * ```ts
 * import { init, Stream } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const a = new Stream(7), b = new Stream(7); // same seed, same draws
 * assert.deepEqual(await a.draw("normal", [3], "cpu").data(), await b.draw("normal", [3], "cpu").data());
 * assert.equal(a.hostInt(0, 10), b.hostInt(0, 10));
 * ```
 */
export class Stream {
  readonly #seed: number | undefined;
  #offset = 0;
  #host: number | undefined;

  /**
   * Creates the stream.
   * @param seed The attack's seed; undefined draws from the global stream.
   */
  constructor(seed?: number) {
    this.#seed = seed === undefined ? undefined : seed >>> 0;
  }

  /** Uniform [0, 1) or standard normal draws shaped `shape`. */
  draw(
    kind: "uniform" | "normal",
    shape: Shape,
    backend: Tensor["backend"],
  ): Tensor {
    const n = sizeOf(shape);
    if (this.#seed === undefined) {
      const r = takeRandom(n);
      return randomAt(kind, shape, r.seed, r.offset, backend);
    }
    const t = randomAt(kind, shape, this.#seed, this.#offset, backend);
    this.#offset += n;
    return t;
  }

  /** Uniform draws in [lo, hi). */
  uniform(shape: Shape, backend: Tensor["backend"], lo = 0, hi = 1): Tensor {
    return tidy(() => {
      const u = this.draw("uniform", shape, backend);
      return lo === 0 && hi === 1 ? u : u.mul(hi - lo).add(lo);
    });
  }

  /** Random signs: -1 or +1 with equal probability. */
  signs(shape: Shape, backend: Tensor["backend"]): Tensor {
    return tidy(() =>
      where(this.draw("uniform", shape, backend).lt(0.5), -1, 1)
    );
  }

  /** A host uniform [0, 1) draw (mulberry32). */
  hostUniform(): number {
    if (this.#host === undefined) {
      if (this.#seed === undefined) {
        const r = takeRandom(1);
        this.#host = (Math.imul(r.seed ^ 0x85ebca6b, 0x9e3779b1) ^ r.offset) >>>
          0;
      } else this.#host = (this.#seed ^ 0x6d2b79f5) >>> 0;
    }
    this.#host = (this.#host + 0x6d2b79f5) >>> 0;
    let t = this.#host;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A host integer uniform in [lo, hi) (lo when hi <= lo). */
  hostInt(lo: number, hi: number): number {
    return hi <= lo ? lo : lo + Math.floor(this.hostUniform() * (hi - lo));
  }
}
