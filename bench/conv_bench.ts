/**
 * Convolution benchmarks at CNN-F's shapes (3x3, padding 1: 1->16 and
 * 32->32 channels at 28x28, 32->64 at 14x14): conv2d, its input gradient
 * (convTranspose2d) and its weight gradient, on the CPU backend (the
 * baseline) and on WebGPU when an adapter exists, GPU work awaited inside
 * the measured region; `benchCase` prints each case's GFLOP/s.
 *
 * The batch is BENCH_BATCH: default 64, or 8 on a software adapter such as
 * lavapipe, in which case the CPU also runs alone at 64.
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp BENCH_BATCH=16 deno bench -A bench/conv_bench.ts
 * ```
 */

import {
  type BackendName,
  conv2d,
  convTranspose2d,
  type Tensor,
  tensor,
} from "../tensor/mod.ts";
import { conv2dWeightGradT } from "../tensor/tensor.ts";
import {
  BENCH_BACKENDS,
  benchCase,
  envInt,
  SOFTWARE_ADAPTER,
  values,
} from "./_util.ts";

/** [in channels, out channels, size] of the CNN-F layers. */
const LAYERS: [number, number, number][] = [
  [1, 16, 28],
  [32, 32, 28],
  [32, 64, 14],
];
const geom = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] } as const;

const OPS: [string, (x: Tensor, w: Tensor, gy: Tensor) => Tensor][] = [
  ["conv2d", (x, w) => conv2d(x, w, geom)],
  ["input grad", (_x, w, gy) => convTranspose2d(gy, w, geom)],
  [
    "weight grad",
    (x, _w, gy) => conv2dWeightGradT(x, gy, { ...geom, kernel: [3, 3] }),
  ],
];

/** Registers every layer and op at batch `nb` on `backends`. */
async function register(nb: number, backends: BackendName[]): Promise<void> {
  for (const [ci, co, s] of LAYERS) {
    for (const [op, run] of OPS) {
      await benchCase(
        `${op} ${ci}->${co} ${s}x${s} batch ${nb}`,
        { flops: 2 * nb * co * ci * 9 * s * s },
        () => [
          tensor(values(nb * ci * s * s, 1), [nb, ci, s, s]),
          tensor(values(co * ci * 9, 2), [co, ci, 3, 3]),
          tensor(values(nb * co * s * s, 3), [nb, co, s, s]),
        ],
        ([x, w, gy]) => run(x, w, gy),
        backends,
      );
    }
  }
}

const batch = envInt("BENCH_BATCH", SOFTWARE_ADAPTER ? 8 : 64);
if (!Number.isInteger(batch) || batch < 1) {
  throw new Error("conv bench: BENCH_BATCH must be a positive integer");
}
await register(batch, BENCH_BACKENDS);
if (batch !== 64 && !Deno.env.get("BENCH_BATCH")) await register(64, ["cpu"]);
