/**
 * Parameter initialisation in place (PyTorch's `nn.init`), drawing from the
 * global seeded stream so runs are reproducible on every backend.
 *
 * @module
 */

import { rand, randn } from "../tensor/creation.ts";
import { noGrad } from "../autograd/grad.ts";
import { tidy } from "../tensor/engine.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

function draw(t: Tensor, kind: "uniform" | "normal"): Tensor {
  return kind === "uniform"
    ? rand(t.shape, { backend: t.backend })
    : randn(t.shape, { backend: t.backend });
}

/**
 * Fills `t` with U(a, b).
 * @example
 * ```ts
 * import { uniform_, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = uniform_(zeros([100]), -0.1, 0.1);
 * assert.ok((await w.data()).every((v) => v >= -0.1 && v < 0.1));
 * ```
 */
export function uniform_(t: Tensor, a: number, b: number): Tensor {
  noGrad(() =>
    tidy(() => {
      t.assign(draw(t, "uniform").mul(b - a).add(a));
    })
  );
  return t;
}

/**
 * Fills `t` with N(mean, std²).
 * @example
 * ```ts
 * import { normal_, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = normal_(zeros([1000]), 0, 0.01);
 * assert.ok(Math.abs(await w.mean().item()) < 0.002);
 * ```
 */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  noGrad(() =>
    tidy(() => {
      t.assign(draw(t, "normal").mul(std).add(mean));
    })
  );
  return t;
}

/**
 * Fills `t` with a constant.
 * @example
 * ```ts
 * import { constant_, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...await constant_(zeros([2]), 0.5).data()], [0.5, 0.5]);
 * ```
 */
export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() =>
    tidy(() => {
      t.assign(t.detach().mul(0).add(value));
    })
  );
  return t;
}

/**
 * fan_in and fan_out as PyTorch computes them (dim 1 and dim 0 times receptive field).
 * @example
 * ```ts
 * import { fans } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * assert.deepEqual(fans([16, 3, 5, 5]), { fanIn: 75, fanOut: 400 });
 * ```
 */
export function fans(
  shape: readonly number[],
): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(
      `init: fan in/out needs at least 2 dimensions, got ${fmt(shape)}`,
    );
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/**
 * Kaiming-uniform init; with the default a = sqrt(5) it is PyTorch's
 * default for Linear and Conv weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 * @example
 * ```ts
 * import { kaimingUniform_, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = kaimingUniform_(zeros([8, 16])); // fan_in 16: U(-1/4, 1/4)
 * assert.ok((await w.abs().max().item()) <= 0.25);
 * ```
 */
export function kaimingUniform_(t: Tensor, a: number = Math.sqrt(5)): Tensor {
  const { fanIn } = fans(t.shape);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn);
  return uniform_(t, -bound, bound);
}
