/**
 * Benchmarks of the reference evaluation's attack: L∞ PGD-7 (ε 0.2, step
 * 0.071, random start) on the Fashion-MNIST CNN-F (ind 2, 1 cycle), through
 * the first pass (the baseline) and end to end through the cycle (last
 * logits; the averaged logits cost the same). Each measured run is a whole
 * `perturb` call, whose final readback of the success flags waits for all
 * device work.
 *
 * The batch is `BENCH_BATCH` (default 100, the reference's test batch, on
 * the CPU backend; 8 on WebGPU when the only adapter is a software
 * fallback such as lavapipe, else 100). `BENCH_N` sets the measured runs
 * (default 2); `BENCH_BACKEND` restricts it to "cpu" or "webgpu". Before
 * registering, each case runs once on a batch of 2 to compile pipelines and
 * warm the JIT.
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/attack_bench.ts`
 */

import { cnnfTarget, LinfPGD } from "../attacks/mod.ts";
import { CNNF } from "../cnnf/mod.ts";
import {
  type BackendName,
  init,
  probeWebGpu,
  rand,
  type Tensor,
  tensor,
  tidy,
} from "../tensor/mod.ts";

const probe = await probeWebGpu();
const backends: BackendName[] = probe.available ? ["cpu", "webgpu"] : ["cpu"];
const env = (k: string) => Deno.env.get(k);
const runs = Number(env("BENCH_N") ?? 2);
const only = env("BENCH_BACKEND");
console.error(
  `attack bench: adapter ${
    probe.available
      ? `${probe.description}${probe.fallback ? " (software fallback)" : ""}`
      : "none (CPU only)"
  }`,
);

function batchFor(b: BackendName): number {
  const v = env("BENCH_BATCH");
  if (v) return Number(v);
  return b === "webgpu" && probe.fallback ? 8 : 100;
}

const MODES = [
  ["first", "first pass (forward_adv)"],
  ["e2eLast", "end to end through the cycle (run_cycles_adv)"],
] as const;

for (const b of backends) {
  if (only && only !== b) continue;
  await init({ backend: b, seed: 0 });
  const model = new CNNF({ ind: 2, cycles: 1 });
  const n = batchFor(b);
  const make = (k: number): [Tensor, Tensor] => {
    const x = tidy(() => rand([k, 1, 28, 28]).mul(2).sub(1));
    const labels = Int32Array.from({ length: k }, (_, i) => (i * 7) % 10);
    return [x, tensor(labels, [k], { dtype: "int32" })];
  };
  const [x, y] = make(n);
  const [xw, yw] = make(2);
  const group = `PGD-7 on CNN-F (ind 2, 1 cycle), batch ${n} [${b}]`;
  for (const [mode, label] of MODES) {
    const pgd = new LinfPGD(cnnfTarget(model, mode), {
      eps: 0.2,
      epsIter: 0.071,
      nbIter: 7,
      seed: 0,
    });
    const once = async (xx: Tensor, yy: Tensor) => {
      const r = await pgd.perturb(xx, yy);
      r.adv.dispose();
    };
    await init({ backend: b });
    await once(xw, yw); // compiles pipelines, warms the JIT
    Deno.bench({
      name: `${mode}: ${label}`,
      group,
      baseline: mode === "first",
      n: runs,
      warmup: 0,
      async fn() {
        await init({ backend: b });
        await once(x, y);
      },
    });
  }
}
