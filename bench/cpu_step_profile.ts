/**
 * Per-op profile of the CNN-F adversarial training step on the CPU backend
 * (WebAssembly, every core): wraps CpuBackend.run with a timer and prints
 * the ops ranked by total time, split by broadcast pattern, so the next
 * kernel to speed up is chosen by measurement.
 *
 * ```sh
 * deno run -A bench/cpu_step_profile.ts [batch=64] [top=30]
 * ```
 */

import { CpuBackend } from "../tensor/backend.ts";
import { init } from "../tensor/mod.ts";
import { OPS } from "../tensor/ops/table.ts";
import type { KernelArgs, OpDef } from "../tensor/ops/types.ts";
import { configureCpu } from "../tensor/wasm/mod.ts";
import { adversarialStep } from "./_cnnf_step.ts";

const nb = Number(Deno.args[0] ?? 64);
const top = Number(Deno.args[1] ?? 30);
await init({ backend: "cpu", seed: 0 });
configureCpu({ wasm: true, threads: navigator.hardwareConcurrency });
const step = adversarialStep(nb);

const names = new Map<unknown, string>(
  Object.entries(OPS).map(([k, v]) => [v, k]),
);
const stats = new Map<string, { ms: number; n: number; elems: number }>();
let on = false;
// Untyped on purpose: the wrapper forwards whatever op it is given.
const run0 = CpuBackend.prototype.run as (
  op: OpDef<unknown>,
  ins: unknown[],
  out: unknown,
  args: KernelArgs<unknown>,
) => void;
CpuBackend.prototype.run = function (
  op: OpDef<unknown>,
  ins: unknown[],
  out: unknown,
  args: KernelArgs<unknown>,
): void {
  if (!on) return run0.call(this, op, ins, out, args);
  const t0 = performance.now();
  run0.call(this, op, ins, out, args);
  const dt = performance.now() - t0;
  const n = args.outShape.reduce((a, b) => a * b, 1);
  const pattern = args.inShapes.map((s) => `[${s.join(",")}]`).join(" ");
  const key = `${names.get(op) ?? "?"} ${pattern} -> [${args.outShape}]`;
  const s = stats.get(key) ?? { ms: 0, n: 0, elems: 0 };
  s.ms += dt;
  s.n++;
  s.elems += n;
  stats.set(key, s);
};

await step();
on = true;
const t0 = performance.now();
await step();
const wall = performance.now() - t0;
on = false;
const byOp = new Map<string, number>();
let total = 0;
for (const [k, s] of stats) {
  const op = k.split(" ")[0];
  byOp.set(op, (byOp.get(op) ?? 0) + s.ms);
  total += s.ms;
}
console.log(
  `B${nb}: step ${(wall / 1000).toFixed(2)} s, in kernels ${
    (total / 1000).toFixed(2)
  } s`,
);
console.log("by op:");
for (const [op, ms] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`  ${(ms / 1000).toFixed(3)} s  ${op}`);
}
console.log("by op and shapes:");
for (
  const [k, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)
) {
  console.log(
    `  ${(s.ms / 1000).toFixed(3)} s  x${s.n}  ${
      (s.ms * 1e6 / s.elems).toFixed(2)
    } ns/el  ${k}`,
  );
}
