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
import { LinfPGD } from "../attacks/pgd.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { CNNF } from "../cnnf/fmnist.ts";
import { cnnfAdvLoss } from "../cnnf/loss.ts";
import { clipGradNorm, SGD } from "../nn/optim.ts";
import { init, rand, tensor, tidy } from "../tensor/mod.ts";
import { configureCpu } from "../tensor/wasm/mod.ts";

const nb = Number(Deno.args[0] ?? 64);
const modes = (Deno.args[1] ?? "js,wasm1,wasmN").split(",");
const cores = navigator.hardwareConcurrency;
await init({ backend: "cpu", seed: 0 });
const model = new CNNF({ ind: 2, cycles: 1 });
const x = tidy(() => rand([nb, 1, 28, 28]));
const y = tensor(Int32Array.from({ length: nb }, (_, i) => i % 10), [nb], {
  dtype: "int32",
});
const opt = new SGD(model.parameters(), {
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
});

async function step(): Promise<void> {
  const pgd = new LinfPGD(cnnfTarget(model, "first", { decision: "first" }), {
    eps: 0.2,
    epsIter: 0.071,
    nbIter: 7,
  });
  const { adv } = await pgd.perturb(x, y);
  const loss = tidy(() => {
    const r = cnnfAdvLoss(model, x, adv, y, { cleanParam: 0.1, mseParam: 0.1 });
    r.loss.backward();
    clipGradNorm(model.parameters(), 0.5);
    opt.step();
    opt.zeroGrad();
    return r.loss.detach();
  });
  model.reset();
  await loss.data();
  loss.dispose();
  adv.dispose();
}

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
