/**
 * The Fashion-MNIST CNN-F adversarial training step (PGD-7 on the first
 * pass + the CNN-F loss + backward + clipped SGD, as in cnnf_bench.ts) on
 * the CPU backend three ways in one process: the plain-JavaScript kernels,
 * WebAssembly on one thread, and WebAssembly on every core. Prints wall and
 * process CPU time per step (CPU time is the steadier figure on a shared
 * machine). A script, not a `deno bench` file: the JavaScript step takes
 * tens of seconds.
 *
 * ```sh
 * deno run -A bench/cpu_step.ts [batch=64] [modes=js,wasm1,wasmN]
 * ```
 */

import process from "node:process";
import { init } from "../tensor/mod.ts";
import { configureCpu } from "../tensor/wasm/mod.ts";
import { adversarialStep } from "./_cnnf_step.ts";

const nb = Number(Deno.args[0] ?? 64);
const modes = (Deno.args[1] ?? "js,wasm1,wasmN").split(",");
const cores = navigator.hardwareConcurrency;
await init({ backend: "cpu", seed: 0 });
const step = adversarialStep(nb);

for (const m of modes) {
  const threads = m === "wasmN" ? cores : 1;
  configureCpu({ wasm: m !== "js", threads });
  await step(); // warm-up (and workers started)
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await step();
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  console.log(
    `${m === "js" ? "js" : `wasm ${threads} thread${threads > 1 ? "s" : ""}`}` +
      ` B${nb}: ${(wall / 1000).toFixed(2)} s wall, ` +
      `${((c.user + c.system) / 1e6).toFixed(2)} s cpu per step`,
  );
}
