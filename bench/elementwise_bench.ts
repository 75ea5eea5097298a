/** Elementwise kernels: contiguous binary, unary and broadcast binary. */

import { randn } from "../tensor/mod.ts";
import { benchCase, envInt } from "./_util.ts";

const n = envInt("BENCH_ELEMENTS", 1 << 20);
const batch = envInt("BENCH_BATCH", 64);

await benchCase(
  `add ${n} elements`,
  { bytes: 3 * 4 * n },
  () => [randn([n]), randn([n])],
  ([a, b]) => a.add(b),
);
await benchCase(
  `relu ${n} elements`,
  { bytes: 2 * 4 * n },
  () => [randn([n])],
  ([a]) => a.relu(),
);
await benchCase(
  `broadcast add [${batch},32,28,28] + [1,32,1,1]`,
  { bytes: 2 * 4 * batch * 32 * 28 * 28 },
  () => [randn([batch, 32, 28, 28]), randn([1, 32, 1, 1])],
  ([a, b]) => a.add(b),
);
