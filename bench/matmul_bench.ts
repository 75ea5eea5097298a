/**
 * Matmul benchmarks: square products of 256, 512 and 1024 on the CPU backend
 * (the baseline) and on WebGPU when an adapter exists, GPU work awaited
 * inside the measured region; `benchCase` prints each case's GFLOP/s.
 *
 * On a software adapter (lavapipe) the 1024 product runs on the CPU only
 * unless BENCH_LARGE=1.
 *
 * ```sh
 * XDG_RUNTIME_DIR=/tmp deno bench -A bench/matmul_bench.ts
 * ```
 */

import { tensor } from "../tensor/mod.ts";
import {
  BENCH_BACKENDS,
  benchCase,
  envInt,
  SOFTWARE_ADAPTER,
  values,
} from "./_util.ts";

const large = envInt("BENCH_LARGE", 0) === 1;

for (const size of [256, 512, 1024]) {
  let backends = BENCH_BACKENDS;
  if (size === 1024 && SOFTWARE_ADAPTER && !large) {
    console.error(
      "matmul bench: 1024 runs on the CPU only on a software adapter " +
        "(set BENCH_LARGE=1 to include WebGPU)",
    );
    backends = ["cpu"];
  }
  await benchCase(
    `matmul ${size}x${size}x${size}`,
    { flops: 2 * size ** 3 },
    () => [
      tensor(values(size * size, 1), [size, size]),
      tensor(values(size * size, 2), [size, size]),
    ],
    ([a, b]) => a.matmul(b),
    backends,
  );
}
