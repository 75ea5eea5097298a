import { conv2d, init, memoryStats, randn } from "../mod.ts";
const steps = Number(Deno.args[0] ?? 300);
await init({ backend: "webgpu" });
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const x = randn([16, 1, 28, 28]);
  const w = randn([8, 1, 3, 3]);
  const y = conv2d(x, w, { padding: 1 });
  await y.data();
  y.dispose();
  x.dispose();
  w.dispose();
  if (i % 50 === 0 || i === steps - 1) {
    const s = memoryStats();
    console.log(
      `step ${i} rss ${mib(Deno.memoryUsage().rss)} MiB live ${s.liveBuffers}/${
        mib(s.liveBytes)
      } free ${s.freeBuffers}/${mib(s.freeBytes)} t=${
        ((performance.now() - t0) / 1000).toFixed(1)
      }s`,
    );
  }
}
