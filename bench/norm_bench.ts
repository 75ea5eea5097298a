/**
 * CNN-F's instance norm on the CPU backend: the fused primitives
 * (`insNorm`, `insNormBiasRelu` and their one-pass backward) against the
 * composed formulas they replaced (the baseline), forward and backward on a
 * [B, 32, 28, 28] feature map as in the Fashion-MNIST model's blocks.
 *
 * ```sh
 * deno bench -A bench/norm_bench.ts   # BENCH_BATCH=64 by default
 * ```
 */

import { valueAndGrad } from "../autograd/mod.ts";
import { init, randn, type Tensor, tidy } from "../tensor/mod.ts";
import { insNormBiasReluT, insNormT } from "../tensor/tensor.ts";
import { envInt } from "./_util.ts";

const batch = envInt("BENCH_BATCH", 64);
const shape = [batch, 32, 28, 28];
const EPS = 1e-8;
await init({ backend: "cpu", seed: 0 });
const x = randn(shape);
const w = randn(shape);
const b = randn([1, 32, 1, 1]).mul(0.1);

const composed = (t: Tensor) =>
  t.div(t.square().mean([2, 3], true).add(EPS).sqrt());
type Block = (t: Tensor, bias: Tensor) => Tensor;
const cases: [string, Block, Block][] = [
  ["insNorm", (t) => composed(t), (t) => insNormT(t, { eps: EPS })],
  [
    "insNorm, bias, ReLU",
    (t, bias) => {
      const xb = composed(t).add(bias);
      return xb.mul(xb.gt(0));
    },
    (t, bias) => {
      const y = insNormBiasReluT(t, bias, { eps: EPS });
      y.gt(0).dispose(); // the AdaReLU mask, as normBiasReLU makes it
      return y;
    },
  ],
];

for (const [name, ref, fused] of cases) {
  for (const backward of [false, true]) {
    const group = `${name} ${
      backward ? "forward+input gradient" : "forward"
    } [${shape}]`;
    for (const [label, f] of [["composed", ref], ["fused", fused]] as const) {
      const run = () =>
        tidy(() => {
          if (!backward) return f(x, b);
          const { value, grads } = valueAndGrad((t: Tensor) =>
            f(t, b).mul(w).sum()
          )(x);
          value.dispose();
          return grads[0];
        }).dispose();
      run(); // warm-up
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) run();
      const ms = (performance.now() - t0) / 3;
      console.error(`${group} ${label}: ${ms.toFixed(1)} ms`);
      Deno.bench({
        name: label,
        group,
        baseline: label === "composed",
        n: 10,
        warmup: 1,
        fn: run,
      });
    }
  }
}
