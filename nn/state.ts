/**
 * Moving state dicts between device tensors and host tensors (the form
 * safetensors files hold), with one readback for the whole dict.
 *
 * @module
 */

import { readAll } from "../tensor/engine.ts";
import { tensor } from "../tensor/creation.ts";
import type { BackendName } from "../tensor/backend.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { HostTensor } from "./safetensors.ts";

/**
 * Reads tensors back to host form (one synchronisation).
 * @example
 * ```ts
 * import { Linear, toHost } from "@cnnf/webgpu/nn";
 * import assert from "node:assert/strict";
 * const host = await toHost(new Linear(3, 2).stateDict()); // one readback
 * assert.deepEqual(host.weight.shape, [2, 3]);
 * assert.equal(host.bias.dtype, "F32");
 * ```
 */
export async function toHost(
  dict: Record<string, Tensor>,
): Promise<Record<string, HostTensor>> {
  const names = Object.keys(dict);
  const data = await readAll(names.map((k) => dict[k]));
  return Object.fromEntries(names.map((k, i) => {
    const t = dict[k];
    const d = data[i];
    return [k, {
      dtype: t.dtype === "int32" ? "I32" : "F32",
      shape: [...t.shape],
      data: t.dtype === "int32" ? Int32Array.from(d) : Float32Array.from(d),
    } as HostTensor];
  }));
}

/**
 * Uploads host tensors to a backend (default: the current one).
 * @example
 * ```ts
 * import { fromHost, Linear } from "@cnnf/webgpu/nn";
 * import assert from "node:assert/strict";
 * const fc = new Linear(2, 1);
 * const dict = fromHost({
 *   weight: { dtype: "F32", shape: [1, 2], data: Float32Array.of(1, 1) },
 *   bias: { dtype: "F32", shape: [1], data: Float32Array.of(0) },
 * });
 * fc.loadStateDict(dict);
 * assert.deepEqual([...await fc.weight.data()], [1, 1]);
 * ```
 */
export function fromHost(
  dict: Record<string, HostTensor>,
  backend?: BackendName,
): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(dict).map(([k, h]) => [
      k,
      tensor(h.data, h.shape, {
        dtype: h.dtype === "F32" ? "float32" : "int32",
        backend,
      }),
    ]),
  );
}
