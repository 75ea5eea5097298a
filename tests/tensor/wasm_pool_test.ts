/**
 * Tests of the worker pool behind the WebAssembly kernels: 300 training
 * steps on two threads keep live tensors, the shared memory's size and the
 * workers flat, results match the single-thread run bit for bit, a
 * script that used the pool exits by itself, and a worker script that
 * cannot load (as in a bundle) leaves a working single-thread runtime.
 */

import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  conv2d,
  convTranspose2d,
  crossEntropy,
  init,
  manualSeed,
  memoryStats,
  randn,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";
import { configureCpu, wasmRuntime } from "../../tensor/wasm/mod.ts";
import { probeFeatures, WasmRuntime } from "../../tensor/wasm/runtime.ts";
import { gemmWasm } from "../../tensor/wasm/gemm.ts";
import { gemmCpu } from "../../tensor/ops/matmul_kernels.ts";
import { assertClose, randomData } from "../_util.ts";

/** One SGD step of a small conv net with a feedback-like transpose. */
function step(params: Tensor[], x: Tensor, y: Tensor): Tensor {
  return tidy(() => {
    const [w1, w2, fc] = params;
    const h1 = conv2d(x, w1, { padding: 1 }).relu();
    const back = convTranspose2d(h1, w1, { padding: 1 });
    const h2 = conv2d(back.add(x), w1, { padding: 1 }).relu();
    const h3 = conv2d(h2, w2, { padding: 1, stride: 2 }).relu();
    const logits = h3.flatten(1).matmul(fc);
    const loss = crossEntropy(logits, y);
    loss.backward();
    for (const p of params) {
      p.assign(p.sub(p.grad!.mul(0.05)));
      p.grad!.dispose();
      p.grad = null;
    }
    return loss.detach();
  });
}

/** Trains for `steps` steps on `threads` threads; returns losses and stats. */
async function train(threads: number, steps: number) {
  await init({ backend: "cpu", threads });
  manualSeed(0);
  const params = [
    randn([16, 3, 3, 3]).mul(0.2),
    randn([16, 16, 3, 3]).mul(0.1),
    randn([16 * 8 * 8, 4]).mul(0.05),
  ];
  params.forEach((p) => (p.requiresGrad = true));
  const x = randn([8, 3, 16, 16]);
  const y = tensor([0, 1, 2, 3, 0, 1, 2, 3], [8], { dtype: "int32" });
  const rt = wasmRuntime()!;
  const losses: number[] = [];
  let before = memoryStats("cpu");
  let bytes = 0;
  for (let i = 0; i < steps; i++) {
    const loss = step(params, x, y);
    losses.push(await loss.item());
    loss.dispose();
    if (i === 9) {
      before = memoryStats("cpu");
      bytes = rt.memory.buffer.byteLength;
    }
  }
  const after = memoryStats("cpu");
  const weights = await Promise.all(params.map((p) => p.data()));
  params.forEach((p) => p.dispose());
  x.dispose();
  y.dispose();
  return { losses, before, after, bytes, rt, weights };
}

Deno.test("300 training steps on the worker pool keep memory flat and match one thread bit for bit", async () => {
  // Start the two-thread pool and wait for its worker (the first start
  // type-checks worker.ts under `deno test`).
  configureCpu({ threads: 2 });
  const rt = wasmRuntime()!;
  for (let i = 0; i < 6000 && rt.poolStats()!.ready < 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const units0 = rt.poolStats()!.workerUnits;
  const two = await train(2, 300);
  assert.ok(rt.poolStats()!.workerUnits > units0, "the worker took units");
  assert.equal(two.after.liveBuffers, two.before.liveBuffers, "live tensors");
  assert.equal(two.after.liveBytes, two.before.liveBytes, "live bytes");
  assert.equal(
    two.rt.memory.buffer.byteLength,
    two.bytes,
    "shared memory did not grow after warm-up",
  );
  assert.ok(rt.poolStats()!.ready <= 1, "no extra workers were started");
  assert.ok(two.losses[299] < two.losses[0], "the loss fell");
  const one = await train(1, 30);
  assert.deepEqual(one.losses, two.losses.slice(0, 30));
  configureCpu({ threads: 1 });
});

Deno.test("a script that used the pool exits by itself", async () => {
  const script = `
    import { init, randn } from "${
    new URL("../../tensor/mod.ts", import.meta.url).href
  }";
    import { wasmRuntime } from "${
    new URL("../../tensor/wasm/mod.ts", import.meta.url).href
  }";
    await init({ backend: "cpu", threads: 2 });
    const rt = wasmRuntime();
    while (rt.poolStats().ready < 1) await new Promise((r) => setTimeout(r, 5));
    const units = rt.poolStats().workerUnits;
    for (let i = 0; i < 20; i++) await randn([200, 300]).matmul(randn([300, 200])).data();
    console.log(rt.poolStats().workerUnits > units ? "pool used" : "pool idle");
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, script);
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", file],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(text, "pool used");
    assert.ok(performance.now() - t0 < 50_000, "exited without hanging");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a worker script that fails to start leaves the runtime on one thread, still correct", async () => {
  const rt = new WasmRuntime(
    probeFeatures(),
    new URL("data:text/javascript,throw new Error('no worker here')"),
  );
  rt.setThreads(3);
  const [m, n, k] = [70, 90, 300];
  const a = randomData(m * k, 1);
  const b = randomData(k * n, 2);
  const expected = new Float32Array(m * n);
  gemmCpu(m, n, k, a, 0, false, b, 0, false, expected, 0);
  for (let i = 0; i < 400 && rt.poolStats() !== null; i++) {
    const c = new Float32Array(m * n);
    gemmWasm(rt, m, n, k, a, 0, false, b, 0, false, c, 0);
    assertClose(c, expected, { atol: 1e-4 });
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(rt.poolStats(), null, "the pool gave up");
  assert.equal(rt.threads, 1);
  const c = new Float32Array(m * n);
  gemmWasm(rt, m, n, k, a, 0, false, b, 0, false, c, 0);
  assertClose(c, expected, { atol: 1e-4 });
});

Deno.test("init rejects a thread count that is not a positive integer", async () => {
  for (const threads of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(
      () => init({ backend: "cpu", threads }),
      /init: threads must be a positive integer, got/,
    );
  }
});
