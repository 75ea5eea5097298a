/**
 * Bench helpers: which backends to bench, adapter report, and a throughput
 * probe that prints GB/s or GFLOP/s for each case before `Deno.bench` times
 * it. GPU work is always awaited (`sync()`), never just enqueued.
 */

import {
  type BackendName,
  init,
  probeWebGpu,
  sync,
  type Tensor,
  tidy,
} from "../tensor/mod.ts";

const probe = await probeWebGpu();
/** Backends benched: cpu (the baseline) and webgpu when an adapter exists. */
export const BENCH_BACKENDS: BackendName[] = probe.available
  ? ["cpu", "webgpu"]
  : ["cpu"];
/** Whether the adapter is a software fallback (sizes are reduced then). */
export const SOFTWARE_ADAPTER: boolean = probe.fallback;
console.error(
  `bench: adapter ${
    probe.available
      ? `${probe.description}${probe.fallback ? " (software fallback)" : ""}`
      : "none (CPU only)"
  }`,
);

/** An integer from the environment, or a default. */
export function envInt(name: string, dflt: number): number {
  const v = Deno.env.get(name);
  return v ? Number.parseInt(v, 10) : dflt;
}

/**
 * Registers a bench case per backend in `group`: `setup` makes the inputs
 * (kept across iterations), `run` the measured work; `work` is the bytes
 * moved or FLOPs done per run, for the printed rate.
 */
export async function benchCase(
  group: string,
  work: { bytes?: number; flops?: number },
  setup: () => Tensor[],
  run: (inputs: Tensor[]) => Tensor | Tensor[],
  backends: BackendName[] = BENCH_BACKENDS,
): Promise<void> {
  for (const b of backends) {
    await init({ backend: b, seed: 0 });
    const inputs = setup();
    const once = async () => {
      const out = tidy(() => run(inputs));
      // CPU kernels finish synchronously; waiting on an idle GPU queue
      // would add ~11 ms to every CPU case.
      if (b === "webgpu") await sync();
      (Array.isArray(out) ? out : [out]).forEach((t) => t.dispose());
    };
    await once(); // warm-up: pipeline compilation
    const reps = 3;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await once();
    const sec = (performance.now() - t0) / 1000 / reps;
    const rate = work.flops
      ? `${(work.flops / sec / 1e9).toFixed(2)} GFLOP/s`
      : `${((work.bytes ?? 0) / sec / 1e9).toFixed(2)} GB/s`;
    console.error(`${group} [${b}]: ${(sec * 1000).toFixed(2)} ms, ${rate}`);
    Deno.bench({
      name: `${b}`,
      group,
      baseline: b === "cpu",
      n: 10,
      warmup: 1,
      async fn() {
        await init({ backend: b });
        await once();
      },
    });
  }
}

/** Deterministic values in [-1, 1). */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}
