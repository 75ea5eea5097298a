/**
 * Functional autodiff: `grad` and `valueAndGrad` differentiate a function of
 * several tensors with respect to chosen arguments (attacks need the gradient
 * with respect to the input, without touching parameter gradients), and
 * `noGrad` runs code without recording.
 *
 * @module
 */

import { isGradEnabled, keep, setGradEnabled, tidy } from "../tensor/engine.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { computeGrads } from "./backward.ts";

/**
 * Runs `fn` without recording on the tape. If `fn` returns a promise, grad
 * mode is restored when it settles.
 * @example
 * ```ts
 * import { noGrad, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = tensor([1, 2], [2], { requiresGrad: true });
 * const y = noGrad(() => w.mul(3)); // not recorded
 * assert.equal(y.node, null);
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = setGradEnabled(false);
  let r: T;
  try {
    r = fn();
  } catch (e) {
    setGradEnabled(prev);
    throw e;
  }
  if (r instanceof Promise) {
    return r.finally(() => setGradEnabled(prev)) as T;
  }
  setGradEnabled(prev);
  return r;
}

/**
 * Whether the tape is recording.
 * @example
 * ```ts
 * import { gradEnabled, noGrad } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.equal(gradEnabled(), true);
 * assert.equal(noGrad(() => gradEnabled()), false);
 * ```
 */
export function gradEnabled(): boolean {
  return isGradEnabled();
}

/**
 * Returns a function computing `f(...args)` and the gradients of that scalar
 * with respect to the arguments listed in `argnums` (default: all). Only the
 * returned tensors survive; `.grad` of parameters is left untouched.
 * @example
 * ```ts
 * import { tensor, valueAndGrad } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const f = valueAndGrad((x, y) => x.mul(y).sum(), [0]);
 * const { value, grads } = f(tensor([1, 2]), tensor([3, 4]));
 * assert.equal(await value.item(), 11);
 * assert.deepEqual([...await grads[0].data()], [3, 4]);
 * ```
 */
export function valueAndGrad(
  f: (...args: Tensor[]) => Tensor,
  argnums?: number[],
): (...args: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...args) => {
    const which = argnums ?? args.map((_, i) => i);
    return tidy(() => {
      const prev = setGradEnabled(true);
      try {
        const leaves = args.map((a, i) => {
          if (!which.includes(i)) return a;
          const d = a.detach();
          d.requiresGrad = true;
          return d;
        });
        const value = f(...leaves);
        if (value.size !== 1) {
          throw new Error(
            `valueAndGrad: function must return one element, got ${
              fmt(value.shape)
            }`,
          );
        }
        const grads = computeGrads(value, {
          inputs: which.map((i) => leaves[i]),
        });
        const v = keep(value.detach());
        return { value: v, grads };
      } finally {
        setGradEnabled(prev);
      }
    });
  };
}

/**
 * Like `valueAndGrad`, returning only the gradients.
 * @example
 * ```ts
 * import { grad, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * // d/dx sum(x³) = 3x²
 * const [g] = grad((x) => x.mul(x).mul(x).sum())(tensor([1, 2]));
 * assert.deepEqual([...await g.data()], [3, 12]);
 * ```
 */
export function grad(
  f: (...args: Tensor[]) => Tensor,
  argnums?: number[],
): (...args: Tensor[]) => Tensor[] {
  const vg = valueAndGrad(f, argnums);
  return (...args) => {
    const { value, grads } = vg(...args);
    value.dispose();
    return grads;
  };
}
