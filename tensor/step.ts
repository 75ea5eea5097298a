/**
 * `step`: the training-step scope. It runs a synchronous function inside
 * `tidy`, reads the scalars it returns back to the host in one
 * synchronisation, and frees them, so nothing the step made outlives it and
 * a loop of steps cannot leak even when the caller keeps no tensor.
 *
 * @module
 */

import { readAll, tidy } from "./engine.ts";
import { fmt } from "./shape.ts";
import { Tensor } from "./tensor.ts";

/** What a step function may return: one scalar or named scalars. */
export type StepOutput = Tensor | Record<string, Tensor>;

/** The host values of a step's output: a number, or numbers by name. */
export type StepResult<T extends StepOutput> = T extends Tensor ? number
  : { [K in keyof T]: number };

/**
 * Runs one training step: `fn` builds the loss, calls `backward()` and the
 * optimizer, and returns the scalars to report (a tensor or an object of
 * tensors). Every tensor made inside is freed when it returns; the scalars
 * are read back with one synchronisation and freed too.
 * @param fn A synchronous function (an async one is refused, as by `tidy`).
 * @returns The returned scalars as numbers.
 * @example A loop of training steps with flat memory
 * ```ts
 * import {
 *   crossEntropy, init, Linear, memoryStats, optim, randn, step, tensor,
 * } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const model = new Linear(4, 3);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
 * const x = randn([8, 4]);
 * const y = tensor([0, 1, 2, 0, 1, 2, 0, 1], [8], { dtype: "int32" });
 * const live: number[] = [];
 * for (let i = 0; i < 5; i++) {
 *   const loss = await step(() => {
 *     const l = crossEntropy(model.forward(x), y);
 *     l.backward();
 *     opt.step();
 *     opt.zeroGrad();
 *     return l;
 *   });
 *   assert.ok(Number.isFinite(loss));
 *   live.push(memoryStats().liveBuffers);
 * }
 * assert.equal(live[4], live[1]);
 * ```
 */
export async function step<T extends StepOutput>(
  fn: () => T,
): Promise<StepResult<T>> {
  const out = tidy(fn);
  const single = !isRecord(out);
  const names = single ? [] : Object.keys(out);
  const tensors = single ? [out as Tensor] : names.map((k) => out[k]);
  try {
    for (const [i, t] of tensors.entries()) {
      if (t.size !== 1) {
        throw new Error(
          `step: ${single ? "the result" : `result '${names[i]}'`} has shape ${
            fmt(t.shape)
          }; return scalars (read bigger tensors inside with keep())`,
        );
      }
    }
    const values = await readAll(tensors);
    if (single) return values[0][0] as StepResult<T>;
    return Object.fromEntries(
      names.map((k, i) => [k, values[i][0]]),
    ) as StepResult<T>;
  } finally {
    tensors.forEach((t) => t.dispose());
  }
}

function isRecord(v: StepOutput): v is Record<string, Tensor> {
  return !(v instanceof Tensor);
}
