/**
 * Reproduces issue 11's WebGPU memory growth: `steps` conv2d calls on
 * 16x1x28x28 images, each read back and disposed, printing the process's
 * resident memory and the pool's counters every 50 steps. Before kernel
 * parameters were bound as read-only storage, lavapipe compiled a shader
 * variant per dispatch and RSS grew ~0.8 MiB per call.
 *
 *   deno run -A tools/gpu_memory_repro.ts [steps=300]
 */

import { conv2d, init, memoryStats, randn } from "../mod.ts";

const steps = Number(Deno.args[0] ?? 300);
await init({ backend: "webgpu" });
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const t0 = performance.now();
let first = 0;
for (let i = 0; i < steps; i++) {
  const x = randn([16, 1, 28, 28]);
  const w = randn([8, 1, 3, 3]);
  const y = conv2d(x, w, { padding: 1 });
  await y.data();
  for (const t of [x, w, y]) t.dispose();
  const rss = Deno.memoryUsage().rss;
  if (i === 0) first = rss;
  if (i % 50 === 0 || i === steps - 1) {
    const s = memoryStats();
    console.log(
      `step ${i}: RSS ${mib(rss)} MiB; live ${s.liveBuffers} (${
        mib(s.liveBytes)
      } MiB), free ${s.freeBuffers} (${mib(s.freeBytes)} MiB), device total ${
        mib(s.totalBytes)
      } MiB; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
}
console.log(
  `RSS ${mib(first)} -> ${mib(Deno.memoryUsage().rss)} MiB over ${steps} calls`,
);
