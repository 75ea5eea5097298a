/**
 * `randint`: uniform integers from the global seeded stream, so a draw is
 * the same on every backend for a seed (data order, random targets).
 *
 * @module
 */

import { rand } from "./creation.ts";
import { tidy } from "./engine.ts";
import type { Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Options of `randint`. */
export interface RandintOptions {
  /** Backend (default: the one chosen by `init`). */
  backend?: "cpu" | "webgpu";
}

/**
 * int32 draws uniform over [low, high), like `torch.randint(low, high,
 * shape)`.
 * @param low Smallest value (inclusive).
 * @param high Bound (exclusive); must exceed `low`.
 * @param shape Shape of the result.
 * @example Random class labels
 * ```ts
 * import { init, randint } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 1 });
 * const y = randint(0, 10, [8]);
 * assert.equal(y.dtype, "int32");
 * assert.ok([...await y.data()].every((v) => v >= 0 && v < 10));
 * ```
 */
export function randint(
  low: number,
  high: number,
  shape: Shape,
  options: RandintOptions = {},
): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new Error(
      `randint: need integers low < high, got low=${low} high=${high}`,
    );
  }
  const span = high - low;
  return tidy(() => {
    // Casting truncates, which floors the non-negative u·span; float32
    // rounding can lift u·span to span itself, so clamp it back first.
    const k = rand(shape, options).mul(span).clamp(0, span - 1).cast("int32");
    // Integer ops are few (labels and indices): shift by low in float32,
    // where integers below 2^24 are exact.
    return low === 0 ? k : k.cast("float32").add(low).cast("int32");
  });
}
