/** Helpers shared by the CNN-F parity tests: fixture loading, deterministic weights. */

import { decodeSafetensors, type HostTensor } from "../../nn/mod.ts";
import type { Module } from "../../nn/mod.ts";
import { type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import { randomData } from "../_util.ts";

const dir = new URL("../fixtures/", import.meta.url);

/** Reads a fixture file. */
export function fixture(
  name: string,
): { tensors: Record<string, HostTensor>; metadata: Record<string, string> } {
  const path = new URL(name, dir);
  return decodeSafetensors(Deno.readFileSync(path), path.pathname);
}

/** A fixture tensor on the default backend. */
export function fx(f: Record<string, HostTensor>, key: string): Tensor {
  const h = f[key];
  if (!h) throw new Error(`fixture key ${key} missing`);
  return tensor(h.data, h.shape, {
    dtype: h.dtype === "F32" ? "float32" : "int32",
  });
}

/** Same weights as tools/make_fixtures.py init_deterministic. */
export function initDeterministic(model: Module, seed: number): void {
  tidy(() => {
    model.namedParameters().forEach(([name, p], i) => {
      const n = p.size;
      let bound: number;
      if (name.endsWith("bias")) bound = 0.1;
      else if (p.rank === 4) {
        bound = Math.sqrt(3) *
          Math.sqrt(2 / (p.shape[2] * p.shape[3] * p.shape[0]));
      } else bound = 1 / Math.sqrt(p.shape[1]);
      p.assign(tensor(randomData(n, seed + i, -bound, bound), p.shape));
    });
  });
}

/** Indices sampled by make_fixtures.py sample_indices. */
export function sampleIndices(n: number, k = 64): number[] {
  return n > k
    ? Array.from({ length: k }, (_, j) => Math.floor((j * n) / k))
    : [...Array(n).keys()];
}

/** Asserts max|a - e| <= rel * max(max|e|, 1e-6). */
export function assertRelClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  what: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  }
  let scale = 1e-6;
  let err = 0;
  let at = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    const e = Math.abs(actual[i] - expected[i]);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  if (!(err <= rel * scale)) {
    throw new Error(
      `${what}: relative error ${
        (err / scale).toExponential(2)
      } > ${rel} at ${at} (${actual[at]} vs ${expected[at]})`,
    );
  }
}
