/**
 * Benchmarks of the pooling kernels at CNN-F's shapes (32 channels 28x28 ->
 * 14x14 and 64 channels 14x14 -> 7x7, 2x2 windows): max pooling with
 * indices, max-unpooling (the gradient of max pooling), average pooling and
 * its gradient (the backward primitive alone). The CPU reference is the baseline; WebGPU runs when an
 * adapter exists, with its work awaited inside the measured region.
 *
 * The batch is `BENCH_BATCH` (default 64, or 8 when the only adapter is a
 * software fallback such as lavapipe). At exit it prints each case's memory
 * throughput in GB/s (bytes the kernels must read and write, per median
 * iteration).
 *
 * Run: `XDG_RUNTIME_DIR=/tmp deno bench -A bench/pool_bench.ts`
 */

import {
  avgPool2d,
  type BackendName,
  init,
  maxPool2dWithIndices,
  maxUnpool2d,
  probeWebGpu,
  sync,
  type Tensor,
  tensor,
} from "../tensor/mod.ts";
// The backward primitive is internal; the bench calls it directly.
import { avgPool2dGradT } from "../tensor/tensor.ts";

const probe = await probeWebGpu();
const backends: BackendName[] = probe.available ? ["cpu", "webgpu"] : ["cpu"];
if (probe.available) await init({ backend: "webgpu" });
await init({ backend: "cpu" });
const batch = Number(Deno.env.get("BENCH_BATCH") ?? (probe.fallback ? 8 : 64));

const times = new Map<string, { bytes: number; ms: number[] }>();

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

function make(shape: number[], backend: BackendName, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(random(n, seed), shape, { backend });
}

/** Registers one measured case; `run` returns the tensors it created. */
function bench(
  group: string,
  backend: BackendName,
  bytes: number,
  run: () => Tensor[],
): void {
  const name = `${group} [${backend}]`;
  times.set(name, { bytes, ms: [] });
  Deno.bench({
    name,
    group,
    baseline: backend === "cpu",
    async fn() {
      const t0 = performance.now();
      const outs = run();
      if (backend === "webgpu") await sync();
      times.get(name)!.ms.push(performance.now() - t0);
      outs.forEach((t) => t.dispose());
    },
  });
}

const shapes = [[batch, 32, 28, 28], [batch, 64, 14, 14]];
const pool = { kernelSize: 2 };
const avgGeom = {
  kernel: [2, 2],
  stride: [2, 2],
  padding: [0, 0],
  countIncludePad: true,
} as const;

for (const shape of shapes) {
  const [n, c, h, w] = shape;
  const inBytes = n * c * h * w * 4;
  const outBytes = inBytes / 4;
  const tag = `${n}x${c}x${h}x${w}`;
  for (const b of backends) {
    const x = make(shape, b, 1);
    const { output, indices } = maxPool2dWithIndices(x, pool);
    const z = make(output.shape as number[], b, 2);
    // poolArg reads x and writes indices; the gather reads indices and the
    // picked values and writes the output.
    bench(`max pool 2x2 + indices ${tag}`, b, inBytes + 4 * outBytes, () => {
      const r = maxPool2dWithIndices(x, pool);
      return [r.output, r.indices];
    });
    bench(
      `max unpool 2x2 (max pool gradient) ${tag}`,
      b,
      2 * outBytes + inBytes,
      () => [maxUnpool2d(z, indices, pool)],
    );
    bench(
      `avg pool 2x2 ${tag}`,
      b,
      inBytes + outBytes,
      () => [avgPool2d(x, pool)],
    );
    bench(
      `avg pool 2x2 gradient ${tag}`,
      b,
      outBytes + inBytes,
      () => [avgPool2dGradT(z, { ...avgGeom, inSize: [h, w] })],
    );
  }
}

globalThis.addEventListener("unload", () => {
  const rows = [...times].filter(([, t]) => t.bytes > 0 && t.ms.length > 0);
  console.log(`\npool kernels, batch ${batch} (${probe.description || "cpu"})`);
  for (const [name, t] of rows) {
    const ms = t.ms.toSorted((a, b) => a - b)[t.ms.length >> 1];
    const gbs = t.bytes / (ms * 1e6);
    console.log(
      `${name.padEnd(58)} ${ms.toFixed(3)} ms  ${gbs.toFixed(2)} GB/s`,
    );
  }
});
