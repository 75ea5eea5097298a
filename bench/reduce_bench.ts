/** Reductions: InsNorm-style spatial sums, a full sum, a row max. */

import { randn } from "../tensor/mod.ts";
import { benchCase, envInt } from "./_util.ts";

const batch = envInt("BENCH_BATCH", 64);
const n = batch * 32 * 28 * 28;

await benchCase(
  `sum over H,W of [${batch},32,28,28]`,
  { bytes: 4 * n },
  () => [randn([batch, 32, 28, 28])],
  ([x]) => x.sum([2, 3]),
);
await benchCase(
  `sum of all ${n} elements`,
  { bytes: 4 * n },
  () => [randn([n])],
  ([x]) => x.sum(),
);
await benchCase(
  "max over rows of [4096,256]",
  { bytes: 4 * 4096 * 256 },
  () => [randn([4096, 256])],
  ([x]) => x.max(1),
);
await benchCase(
  "argmax over rows of [4096,256]",
  { bytes: 4 * 4096 * 256 },
  () => [randn([4096, 256])],
  ([x]) => x.argmax(1),
);
