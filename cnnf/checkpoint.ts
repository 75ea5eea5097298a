/**
 * Reference-compatible state dicts for CNN-F models. The PyTorch reference
 * stores each tied weight under several names: `convX.conv.weight` with its
 * alias `convX.conv_t.weight`, and `fcX.weight` with `fcX.linear.weight` and
 * the transposed `fcX.linear_t.weight`. Saving writes every alias; loading
 * accepts any of them (and checks that the aliases present agree).
 *
 * The reference makes the transposed Linear weight a second parameter that
 * aliases the first's storage, so its SGD applies two updates per step; this
 * library keeps one tied parameter (the paper's model), so a reference
 * checkpoint loads exactly but training trajectories differ slightly.
 *
 * @module
 */

import type { HostTensor } from "../nn/safetensors.ts";
import type { Module } from "../nn/module.ts";
import { toHost } from "../nn/state.ts";
import { tensor } from "../tensor/creation.ts";
import type { Tensor } from "../tensor/tensor.ts";

function transpose2d(h: HostTensor): HostTensor {
  const [r, c] = h.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) out[j * r + i] = h.data[i * c + j];
  }
  return { dtype: h.dtype, shape: [c, r], data: out };
}

function isLinearWeight(name: string, h: HostTensor): boolean {
  return h.shape.length === 2 && name.endsWith(".weight") &&
    !name.endsWith(".conv.weight");
}

/**
 * The model's weights under every reference name (aliases included).
 * @example
 * ```ts
 * import { CNNF, init } from "@cnnf/webgpu";
 * import { referenceStateDict } from "@cnnf/webgpu/cnnf";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const sd = await referenceStateDict(new CNNF({ ind: 2, cycles: 1 }));
 * assert.ok("conv1.conv.weight" in sd && "conv1.conv_t.weight" in sd);
 * assert.deepEqual(sd["fc3.linear_t.weight"].shape, [128, 10]);
 * ```
 */
export async function referenceStateDict(
  model: Module,
): Promise<Record<string, HostTensor>> {
  const host = await toHost(model.stateDict());
  const out: Record<string, HostTensor> = {};
  for (const [k, h] of Object.entries(host)) {
    out[k] = h;
    if (k.endsWith(".conv.weight")) {
      out[k.replace(/\.conv\.weight$/, ".conv_t.weight")] = h;
    } else if (isLinearWeight(k, h)) {
      const base = k.slice(0, -".weight".length);
      out[`${base}.linear.weight`] = h;
      out[`${base}.linear_t.weight`] = transpose2d(h);
    }
  }
  return out;
}

function aliasesOf(
  k: string,
  shape: readonly number[],
): { name: string; transposed: boolean }[] {
  const list = [{ name: k, transposed: false }];
  if (k.endsWith(".conv.weight")) {
    list.push({
      name: k.replace(/\.conv\.weight$/, ".conv_t.weight"),
      transposed: false,
    });
  } else if (shape.length === 2 && k.endsWith(".weight")) {
    const base = k.slice(0, -".weight".length);
    list.push({ name: `${base}.linear.weight`, transposed: false }, {
      name: `${base}.linear_t.weight`,
      transposed: true,
    });
  }
  return list;
}

/**
 * Loads reference-named weights into a model. Every parameter must be found
 * under one of its names; unknown keys are an error when `strict`.
 * @param source File name for error messages.
 * @example
 * ```ts
 * import { CNNF, init } from "@cnnf/webgpu";
 * import { loadReferenceStateDict, referenceStateDict } from "@cnnf/webgpu/cnnf";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 0 });
 * const a = new CNNF({ ind: 2, cycles: 1 });
 * const b = new CNNF({ ind: 2, cycles: 1 });
 * loadReferenceStateDict(b, await referenceStateDict(a), { source: "a" });
 * assert.deepEqual(await b.fc3.weight.data(), await a.fc3.weight.data());
 * ```
 */
export function loadReferenceStateDict(
  model: Module,
  dict: Record<string, HostTensor>,
  options: { strict?: boolean; source?: string } = {},
): void {
  const src = options.source ?? "checkpoint";
  const strict = options.strict ?? true;
  const used = new Set<string>();
  const values: Record<string, Tensor> = {};
  const own = model.namedParameters();
  for (const [k, p] of own) {
    const names = aliasesOf(k, p.shape);
    names.forEach((a) => used.add(a.name));
    const found = names.filter((a) => a.name in dict);
    if (!found.length) throw new Error(`${src}: missing key ${k}`);
    let chosen: HostTensor | null = null;
    for (const a of found) {
      const h = a.transposed ? transpose2d(dict[a.name]) : dict[a.name];
      if (h.dtype !== "F32" || h.shape.join() !== p.shape.join()) {
        throw new Error(
          `${src}: key ${a.name} has shape [${dict[a.name].shape.join(", ")}] ${
            dict[a.name].dtype
          }, expected ${
            a.transposed
              ? `[${[...p.shape].reverse().join(", ")}]`
              : `[${p.shape.join(", ")}]`
          } F32`,
        );
      }
      if (chosen && h.data.some((v, i) => v !== chosen!.data[i])) {
        throw new Error(
          `${src}: aliases of ${k} hold different values (${
            found.map((f) => f.name).join(", ")
          })`,
        );
      }
      chosen = h;
    }
    values[k] = tensor(chosen!.data, chosen!.shape, { backend: p.backend });
  }
  if (strict) {
    const extra = Object.keys(dict).filter((k) => !used.has(k));
    if (extra.length) {
      throw new Error(
        `${src}: unexpected key${extra.length > 1 ? "s" : ""} ${
          extra.join(", ")
        }`,
      );
    }
  }
  try {
    model.loadStateDict(values, { strict: false, source: src });
  } finally {
    Object.values(values).forEach((t) => t.dispose());
  }
}
