/**
 * CNN-F model benchmarks: the Fashion-MNIST model's first pass, its run over
 * the feedback cycles (averaged logits), a full adversarial training step
 * (PGD-7 on the first pass + the CNN-F loss + backward + clipped SGD), and
 * the WRN-40-2 forward pass. CPU backend at batch 64 (WRN 32) as the
 * baseline; WebGPU at batch 8 on a software adapter (full sizes on a
 * hardware GPU). BENCH_BATCH overrides the batch of every case.
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno bench -A bench/cnnf_bench.ts
 * ```
 */

import { LinfPGD } from "../attacks/pgd.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { noGrad } from "../autograd/grad.ts";
import { CNNF } from "../cnnf/fmnist.ts";
import { cnnfAdvLoss } from "../cnnf/loss.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import { WideResNet } from "../cnnf/wrn.ts";
import { clipGradNorm, SGD } from "../nn/optim.ts";
import {
  type BackendName,
  init,
  rand,
  sync,
  type Tensor,
  tensor,
  tidy,
} from "../tensor/mod.ts";
import { BENCH_BACKENDS, envInt, SOFTWARE_ADAPTER } from "./_util.ts";

function batchFor(b: BackendName, cpu: number): number {
  const env = Deno.env.get("BENCH_BATCH");
  if (env) return envInt("BENCH_BATCH", cpu);
  return b === "webgpu" && SOFTWARE_ADAPTER ? 8 : cpu;
}

interface Case {
  group: string;
  make: () => CNNFBase;
  input: [number, number, number];
  cpuBatch: number;
  step: (m: CNNFBase, x: Tensor, y: Tensor) => Promise<void>;
}

async function forward(m: CNNFBase, x: Tensor): Promise<void> {
  const out = noGrad(() => m.runFirst(x));
  await sync();
  out.dispose();
  m.reset();
}

const CASES: Case[] = [
  {
    group: "Fashion-MNIST CNN-F first pass",
    make: () => new CNNF({ ind: 2, cycles: 1 }),
    input: [1, 28, 28],
    cpuBatch: 64,
    step: (m, x) => forward(m, x),
  },
  {
    group: "Fashion-MNIST CNN-F run cycles (average)",
    make: () => new CNNF({ ind: 2, cycles: 1 }),
    input: [1, 28, 28],
    cpuBatch: 64,
    step: async (m, x) => {
      const out = noGrad(() => m.runAverage(x));
      await sync();
      out.dispose();
      m.reset();
    },
  },
  {
    group: "Fashion-MNIST CNN-F adversarial training step (PGD-7)",
    make: () => new CNNF({ ind: 2, cycles: 1 }),
    input: [1, 28, 28],
    cpuBatch: 64,
    step: async (m, x, y) => {
      const opt = optimizers.get(m) ??
        new SGD(m.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
      optimizers.set(m, opt);
      const pgd = new LinfPGD(cnnfTarget(m, "first", { decision: "first" }), {
        eps: 0.2,
        epsIter: 0.071,
        nbIter: 7,
      });
      const { adv } = await pgd.perturb(x, y);
      const loss = tidy(() => {
        const r = cnnfAdvLoss(m, x, adv, y, { cleanParam: 0.1, mseParam: 0.1 });
        r.loss.backward();
        clipGradNorm(m.parameters(), 0.5);
        opt.step();
        opt.zeroGrad();
        return r.loss.detach();
      });
      m.reset();
      await loss.data();
      loss.dispose();
      adv.dispose();
    },
  },
  {
    group: "WRN-40-2 CNN-F first pass",
    make: () =>
      new WideResNet({ depth: 40, widenFactor: 2, ind: 5, cycles: 2 }),
    input: [3, 32, 32],
    cpuBatch: 32,
    step: (m, x) => forward(m, x),
  },
];

const optimizers = new Map<CNNFBase, SGD>();

for (const c of CASES) {
  for (const b of BENCH_BACKENDS) {
    await init({ backend: b, seed: 0 });
    const nb = batchFor(b, c.cpuBatch);
    const model = c.make();
    const x = tidy(() => rand([nb, ...c.input]).mul(2).sub(1));
    const y = tensor(Int32Array.from({ length: nb }, (_, i) => i % 10), [nb], {
      dtype: "int32",
    });
    await c.step(model, x, y); // warm-up
    const t0 = performance.now();
    await c.step(model, x, y);
    const ms = performance.now() - t0;
    console.error(
      `${c.group} [${b}, batch ${nb}]: ${ms.toFixed(0)} ms/iter, ${
        (nb / ms * 1000).toFixed(1)
      } img/s`,
    );
    Deno.bench({
      name: `${b} batch ${nb}`,
      group: c.group,
      baseline: b === "cpu",
      n: 3,
      warmup: 0,
      async fn() {
        await init({ backend: b });
        await c.step(model, x, y);
      },
    });
  }
}
