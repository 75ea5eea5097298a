/**
 * Shared test helpers: per-backend registration, closeness assertions,
 * deterministic random data, CPU-reference comparison and gradient checks.
 */

import assert from "node:assert/strict";
import { gradcheck, valueAndGrad } from "../autograd/mod.ts";
import {
  type BackendName,
  init,
  memoryStats,
  probeWebGpu,
  type Tensor,
  tensor,
  tidy,
} from "../tensor/mod.ts";

import { ensureRuntimeDir } from "../train/runtime_dir.ts";

// Without XDG_RUNTIME_DIR, every adapter request prints a Vulkan warning.
ensureRuntimeDir();
const probe = await probeWebGpu();
/** Backends every test runs on: cpu, plus webgpu when an adapter exists. */
export const BACKENDS: BackendName[] = probe.available
  ? ["cpu", "webgpu"]
  : ["cpu"];
if (!probe.available) {
  if (Deno.env.get("REQUIRE_WEBGPU")) {
    throw new Error("REQUIRE_WEBGPU is set but no WebGPU adapter is available");
  }
  console.warn("tests: no WebGPU adapter; WebGPU tests are skipped");
}

/**
 * Registers `[backend] name` for every backend. The body runs with that
 * backend as the default; live storage must not grow across the test.
 */
export function testBackends(
  name: string,
  fn: (backend: BackendName) => void | Promise<void>,
  options: { leakCheck?: boolean } = {},
): void {
  for (const b of BACKENDS) {
    Deno.test(`[${b}] ${name}`, async () => {
      await init({ backend: b, seed: 1234 });
      // Warm the constant cache etc. are allowed to grow; user tensors not.
      const before = memoryStats(b).liveBuffers;
      await fn(b);
      if (options.leakCheck) {
        const after = memoryStats(b).liveBuffers;
        if (after !== before) {
          throw new Error(`leak: ${after - before} storages still live`);
        }
      }
    });
  }
}

/** Deterministic pseudo-random floats in [lo, hi) (xorshift). */
export function randomData(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/** A float32 tensor of deterministic random values on the default backend. */
export function randomTensor(
  shape: number[],
  seed = 1,
  lo = -1,
  hi = 1,
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(randomData(n, seed, lo, hi), shape);
}

/** Tolerances for comparisons. */
export interface Tol {
  /** Absolute tolerance. */
  atol?: number;
  /** Relative tolerance. */
  rtol?: number;
}

/** Asserts that fn throws a one-line message matching re. */
export function oneLine(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.doesNotMatch(e.message, /\n/, "one line");
    assert.match(e.message, re);
    return true;
  });
}

/** Asserts |a - e| <= atol + rtol |e| elementwise, with a useful message. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol = {},
  what = "values",
): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-4;
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(e)) {
      throw new Error(`${what}[${i}]: ${a} vs expected ${e}`);
    }
    if (Number.isNaN(e) || a === e) continue;
    const err = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (err > worstErr || !Number.isFinite(err)) {
      worstErr = err;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}[${worst}]: ${actual[worst]} vs expected ${
        expected[worst]
      } (atol ${atol}, rtol ${rtol})`,
    );
  }
}

/**
 * Runs `build` on the CPU backend and on `backend`, and asserts the outputs
 * match. `build` must create its inputs itself (deterministically).
 */
export async function assertMatchesCpu(
  backend: BackendName,
  build: () => Tensor | Tensor[],
  tol: Tol = {},
): Promise<void> {
  const run = async (b: BackendName) => {
    await init({ backend: b });
    const outs = tidy(() => {
      const r = build();
      return Array.isArray(r) ? r : [r];
    });
    const data = await Promise.all(outs.map(async (t) => ({
      shape: t.shape,
      dtype: t.dtype,
      data: Array.from(await t.data()),
    })));
    outs.forEach((t) => t.dispose());
    return data;
  };
  const ref = await run("cpu");
  const got = await run(backend);
  ref.forEach((r, i) => {
    const g = got[i];
    if (r.shape.join() !== g.shape.join() || r.dtype !== g.dtype) {
      throw new Error(
        `output ${i}: ${backend} gave [${g.shape}] ${g.dtype}, cpu [${r.shape}] ${r.dtype}`,
      );
    }
    assertClose(g.data, r.data, tol, `output ${i} on ${backend}`);
  });
  await init({ backend });
}

/**
 * Checks a scalar function's gradients against float64 central differences
 * on the CPU, then checks `backend`'s float32 gradients against the CPU's.
 */
export async function assertGradients(
  backend: BackendName,
  f: (...xs: Tensor[]) => Tensor,
  inputs: { data: Float32Array; shape: number[] }[],
  tol: Tol = {},
): Promise<void> {
  const r = gradcheck(f, inputs, { atol: 1e-6, rtol: 1e-5 });
  if (!r.ok) {
    throw new Error(
      `gradcheck failed: input ${r.worst.input}[${r.worst.index}] analytic ${r.worst.analytic} vs numeric ${r.worst.numeric}`,
    );
  }
  await assertMatchesCpu(backend, () => {
    const xs = inputs.map((x) => tensor(x.data, x.shape));
    const { value, grads } = valueAndGrad(f)(...xs);
    return [value, ...grads];
  }, { atol: tol.atol ?? 1e-4, rtol: tol.rtol ?? 1e-3 });
}

/**
 * Asserts that each op's output is the same bits when the CPU backend hands
 * it a reused array full of NaN (the free pool is filled with NaN arrays of
 * the output's length first): the kernel writes every element.
 */
export async function assertWritesEveryElement(
  builds: readonly (readonly [string, () => Tensor])[],
): Promise<void> {
  for (const [name, build] of builds) {
    const fresh = tidy(build);
    const want = await fresh.data();
    const n = want.length;
    const junk = Array.from(
      { length: 8 },
      () => tensor(new Float32Array(n).fill(NaN), [n]),
    );
    junk.forEach((t) => t.dispose());
    const got = tidy(build);
    const data = await got.data();
    // Report the first difference only (a whole-array diff is huge).
    const bad = data.findIndex((v, i) => !Object.is(v, want[i]));
    assert.equal(bad, -1, `${name}[${bad}]: ${data[bad]} vs ${want[bad]}`);
    fresh.dispose();
    got.dispose();
  }
}
