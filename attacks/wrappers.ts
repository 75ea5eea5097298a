/**
 * Adaptive-attack wrappers (Athalye, Carlini & Wagner 2018):
 *
 * - `eot` (Expectation over Transformation): a target whose loss averages
 *   over `samples` random draws, so gradient attacks follow the mean
 *   gradient of a randomised model or preprocessing.
 * - `bpda` (Backward Pass Differentiable Approximation): a function whose
 *   forward value is a non-differentiable function's, exactly, and whose
 *   gradient is a differentiable surrogate's (the identity by default), as
 *   advertorch's `BPDAWrapper` with `forwardsub`.
 *
 * @module
 */

import { noGrad } from "../autograd/grad.ts";
import { tidy } from "../tensor/engine.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { asTarget, checkCount } from "./_util.ts";
import type { PredictFn, Target } from "./types.ts";

/** Options of `eot`. */
export interface EOTOptions {
  /** Random draws averaged per evaluation (e.g. 20, AutoAttack's "rand"). */
  samples: number;
  /**
   * A random transformation applied to the input before each draw (e.g.
   * noise from the seeded stream); omit it when the randomness is inside
   * the model.
   */
  transform?: (x: Tensor) => Tensor;
}

/**
 * Wraps a target so its loss is the mean over `samples` random draws: the
 * heads of every draw with weights divided by `samples`, and the mean of
 * the draws' tracking logits. The decision stays one draw, as deployed.
 * @example
 * ```ts
 * import { eot, LinfPGD } from "@cnnf/webgpu/attacks";
 * import { init, randn, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const w = tensor([[1, -1], [-1, 1]]);
 * const noisy = eot((x) => x.matmul(w), {
 *   samples: 8,
 *   transform: (x) => x.add(randn(x.shape).mul(0.1)),
 * });
 * const pgd = new LinfPGD(noisy, { eps: 0.1, nbIter: 5, epsIter: 0.05 });
 * const r = await pgd.perturb(tensor([[0.2, 0.1]]), tensor([0], [1], { dtype: "int32" }));
 * console.log(r.success);
 * ```
 */
export function eot(target: Target | PredictFn, options: EOTOptions): Target {
  const t = asTarget(target);
  const k = options.samples;
  checkCount("eot", "samples", k);
  const transform = options.transform ?? ((x: Tensor) => x);
  return {
    name: `eot(${t.name})`,
    module: t.module,
    run(x) {
      return tidy(() => {
        const heads: Tensor[] = [];
        const weights: number[] = [];
        let sum: Tensor | null = null;
        for (let i = 0; i < k; i++) {
          const out = t.run(transform(x));
          out.heads.forEach((h, j) => {
            heads.push(h);
            weights.push((out.weights?.[j] ?? 1) / k);
          });
          sum = sum ? sum.add(out.logits) : out.logits;
        }
        return { heads, weights, logits: k === 1 ? sum! : sum!.div(k) };
      });
    },
    decide(x) {
      return tidy(() => t.decide(transform(x)));
    },
  };
}

/** Options of `bpda`. */
export interface BPDAOptions {
  /**
   * Differentiable stand-in whose gradient is used (default: the identity,
   * which needs the function to preserve shape).
   */
  surrogate?: (x: Tensor) => Tensor;
}

/**
 * Makes a non-differentiable function usable by gradient attacks: the
 * forward value is `forward(x)` exactly (computed without recording) and
 * the gradient is the surrogate's. Compose it with the model:
 * `(x) => model(bpda(quantize)(x))`.
 * @param forward The function to pass through (e.g. a quantiser).
 * @param options surrogate (default identity).
 * @example
 * ```ts
 * import { bpda } from "@cnnf/webgpu/attacks";
 * import { grad, type Tensor, tensor } from "@cnnf/webgpu";
 * const quantize = (x: Tensor) => x.mul(4).sub(0.5).sign().add(1).div(2);
 * const q = bpda(quantize);
 * const [g] = grad((x) => q(x).sum())(tensor([0.1, 0.7]));
 * console.log(await g.data()); // [1, 1]: the identity's gradient
 * ```
 */
export function bpda(
  forward: (x: Tensor) => Tensor,
  options: BPDAOptions = {},
): (x: Tensor) => Tensor {
  const surrogate = options.surrogate ?? ((x: Tensor) => x);
  return (x) =>
    tidy(() => {
      const value = noGrad(() => forward(x.detach()));
      const sub = surrogate(x);
      if (sub.shape.join() !== value.shape.join()) {
        throw new Error(
          `bpda: surrogate gives ${fmt(sub.shape)}, forward ${
            fmt(value.shape)
          }`,
        );
      }
      // sub − sub is exactly 0, so the value is forward's to the bit.
      return value.add(sub.sub(sub.detach()));
    });
}
