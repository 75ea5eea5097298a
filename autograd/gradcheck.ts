/**
 * Finite-difference gradient checking: compares the tape's gradients with
 * central differences computed in float64 on the CPU backend.
 *
 * @module
 */

import { fromData, tidy, withFloat64 } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { valueAndGrad } from "./grad.ts";

/** Options of `gradcheck`. */
export interface GradcheckOptions {
  /** Step of the central difference. */
  eps?: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Relative tolerance. */
  rtol?: number;
}

/** Result of `gradcheck`: the worst mismatch found. */
export interface GradcheckResult {
  /** Whether every entry was within tolerance. */
  ok: boolean;
  /** Largest |analytic - numeric|. */
  maxAbsError: number;
  /** Where it occurred: input index and flat element index. */
  worst: { input: number; index: number; analytic: number; numeric: number };
}

/**
 * Checks the gradients of scalar function `f` at `inputs` (float32 arrays
 * with shapes) against central differences, all in float64 on the CPU.
 * @example
 * ```ts
 * import { gradcheck } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const r = gradcheck((x) => x.tanh().sum(), [{ data: [0.1, -0.4], shape: [2] }]);
 * assert.ok(r.ok, `max error ${r.maxAbsError}`);
 * ```
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: { data: ArrayLike<number>; shape: readonly number[] }[],
  options: GradcheckOptions = {},
): GradcheckResult {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-4;
  return withFloat64(() => {
    const values = inputs.map((x) => Float64Array.from(x.data));
    const make = () =>
      values.map((v, i) =>
        fromData(v as unknown as Float32Array, inputs[i].shape, "cpu")
      );
    const evalAt = (): number =>
      tidy(() => {
        const out = f(...make());
        return (out.storage.handle as Float64Array)[0];
      });
    const analytic = tidy(() => {
      const { value, grads } = valueAndGrad(f)(...make());
      value.dispose();
      return grads.map((g) =>
        Float64Array.from(g.storage.handle as Float64Array)
      );
    });
    const result: GradcheckResult = {
      ok: true,
      maxAbsError: 0,
      worst: { input: -1, index: -1, analytic: 0, numeric: 0 },
    };
    values.forEach((v, i) => {
      for (let j = 0; j < v.length; j++) {
        const x0 = v[j];
        v[j] = x0 + eps;
        const fp = evalAt();
        v[j] = x0 - eps;
        const fm = evalAt();
        v[j] = x0;
        const num = (fp - fm) / (2 * eps);
        const ana = analytic[i][j];
        const err = Math.abs(ana - num);
        if (err > atol + rtol * Math.abs(num)) result.ok = false;
        if (err >= result.maxAbsError) {
          result.maxAbsError = err;
          result.worst = { input: i, index: j, analytic: ana, numeric: num };
        }
      }
    });
    return result;
  });
}
