/**
 * Long runs keep memory flat: conv2d forward and backward calls and CNN-F
 * training steps (the CNN-F loss, gradient clipping and SGD with momentum
 * and weight decay, as `train/loop.ts` runs them) leave the process's
 * resident memory and the buffer pool where warm-up left them. Before the
 * fix every conv dispatch on lavapipe leaked ~0.8 MiB of native memory
 * (uniform values baked into a shader variant per dispatch), and uploads
 * grew the pool's free list by a buffer per step. A tiny CNN-F (1x12x12
 * images) runs the same kernels as the Fashion-MNIST model, fast enough for
 * lavapipe.
 *
 * The pool's cap, least-recently-released eviction and upload ordering are
 * tested on the device, its out-of-memory handling on a stand-in device.
 */

import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  CNNFBase,
  cnnfCleanLoss,
  FbConv2d,
  FbFlatten,
  FbLinear,
  type FeedbackResult,
  type ForwardResult,
  insNorm,
} from "../../cnnf/mod.ts";
import { BufferPool, GpuAllocationError, GpuRuntime } from "../../gpu/mod.ts";
import { clipGradNorm, SGD } from "../../nn/optim.ts";
import { backendObject } from "../../tensor/engine.ts";
import {
  conv2d,
  init,
  type MemoryStats,
  memoryStats,
  ones,
  randn,
  readAll,
  sync,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../tensor/mod.ts";
import type { WebGpuBackend } from "../../tensor/backend.ts";
import { BACKENDS, testBackends } from "../_util.ts";

const ignore = !BACKENDS.includes("webgpu");
const MiB = 2 ** 20;
/** Most resident-memory growth allowed after warm-up. */
const RSS_SLACK = 32 * MiB;

/** Resident memory, after a collection where the runtime allows one. */
function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Deno.memoryUsage().rss;
}

/** Asserts RSS within the slack and the pool exactly where it was. */
function assertFlat(
  label: string,
  before: { rss: number; mem: MemoryStats },
  after: { rss: number; mem: MemoryStats },
): void {
  const grew = after.rss - before.rss;
  assert.ok(
    grew < RSS_SLACK,
    `${label}: RSS grew ${(grew / MiB).toFixed(1)} MiB (${
      (before.rss / MiB).toFixed(0)
    } -> ${(after.rss / MiB).toFixed(0)} MiB)`,
  );
  for (
    const k of [
      "liveBuffers",
      "liveBytes",
      "freeBuffers",
      "freeBytes",
      "totalBytes",
    ] as const
  ) {
    assert.equal(after.mem[k], before.mem[k], `${label}: ${k}`);
  }
}

const snapshot = () => ({ rss: rss(), mem: memoryStats() });

testBackends(
  "300 conv2d forward and backward calls keep RSS and pool bytes flat",
  async () => {
    // 2 x 24 x 24 images: the GEMM tiles that leaked on lavapipe (64 wide).
    const x = randn([2, 3, 24, 24]);
    const w = randn([8, 3, 3, 3]);
    x.requiresGrad = true;
    w.requiresGrad = true;
    const call = () =>
      tidy(() => {
        const y = conv2d(x, w, { padding: 1 });
        y.square().sum().backward();
        const out = [y.sum(), x.grad!.sum(), w.grad!.sum()];
        x.grad!.dispose();
        w.grad!.dispose();
        x.grad = null;
        w.grad = null;
        return out;
      });
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const out = call();
        // A readback every 10 calls, as a training loop reads its loss.
        if (i % 10 === 9) await readAll(out);
        out.forEach((t) => t.dispose());
      }
      await sync();
    };
    await run(30);
    const before = snapshot();
    await run(300);
    assertFlat("conv2d", before, snapshot());
    x.dispose();
    w.dispose();
  },
);

/** A two-conv CNN-F on 1x12x12 images (ind 0: it reconstructs the image). */
class TinyCNNF extends CNNFBase {
  readonly conv1 = new FbConv2d(1, 4, 3, { padding: 1 });
  readonly ins1_bias = new Bias([1, 4, 1, 1]);
  readonly conv2 = new FbConv2d(4, 8, 3, { padding: 1 });
  readonly ins2_bias = new Bias([1, 8, 1, 1]);
  readonly fc1 = new FbLinear(8 * 6 * 6, 16);
  readonly fc1_bias = new Bias([1, 16]);
  readonly fc2 = new FbLinear(16, 4);
  readonly fc2_bias = new Bias([1, 4]);
  readonly relus = [new AdaReLU(0.1), new AdaReLU(0.1), new AdaReLU(0.1)];
  readonly pool = new AdaPool(2);
  readonly #flatten = new FbFlatten();

  constructor() {
    super({ cycles: 1, resParam: 0.1, ind: 0 });
  }
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r1.forward(
        this.ins1_bias.forward(insNorm(this.conv1.forward(x))),
      );
      h = r2.forward(this.ins2_bias.forward(insNorm(this.conv2.forward(h))));
      const block1 = h;
      h = this.#flatten.forward(this.pool.forward(h));
      h = r3.forward(this.fc1_bias.forward(this.fc1.forward(h)));
      const logits = this.fc2_bias.forward(this.fc2.forward(h));
      return options.first ?? true
        ? { logits, feature: x, blocks: [block1] }
        : { logits };
    });
  }
  feedback(logits: Tensor): FeedbackResult {
    const [r1, r2, r3] = this.relus;
    return tidy(() => {
      let h = r3.feedback(this.fc2.feedback(logits));
      h = insNorm(this.#flatten.feedback(this.fc1.feedback(h)));
      h = r2.feedback(this.pool.feedback(h));
      const block1 = h;
      h = r1.feedback(insNorm(this.conv2.feedback(h)));
      return { recon: this.conv1.feedback(h), blocks: [block1] };
    });
  }
  latentLayers(): (AdaReLU | AdaPool)[] {
    return [...this.relus, this.pool];
  }
}

testBackends(
  "200 CNN-F training steps at batch 4 keep RSS and pool bytes flat",
  async () => {
    const model = new TinyCNNF();
    const opt = new SGD(model.parameters(), {
      lr: 0.05,
      momentum: 0.9,
      weightDecay: 5e-4,
    });
    // Fresh batches every step, uploaded as the data loader does.
    let seed = 7;
    const batch = () => {
      const data = new Float32Array(4 * 144).map(() => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed / 2 ** 31 - 1;
      });
      return {
        x: tensor(data, [4, 1, 12, 12]),
        y: tensor([0, 1, 2, 3], [4], { dtype: "int32" }),
      };
    };
    const losses: number[] = [];
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { x, y } = batch();
        model.train();
        const stats = tidy(() => {
          const r = cnnfCleanLoss(model, x, y, { mseParam: 0.1 });
          r.loss.backward();
          clipGradNorm(model.parameters(), 0.5);
          opt.step();
          opt.zeroGrad();
          return [r.loss.detach()];
        });
        model.reset();
        const [loss] = await readAll(stats);
        losses.push(loss[0]);
        for (const t of [...stats, x, y]) t.dispose();
      }
    };
    await run(20);
    const before = snapshot();
    await run(200);
    assertFlat("CNN-F training", before, snapshot());
    assert.ok(losses.every(Number.isFinite), "every loss is finite");
    opt.dispose();
    model.parameters().forEach((p) => p.dispose());
  },
);

Deno.test({
  name:
    "[webgpu] an allocation over the device limit fails at once, naming the op, size and limit, and the next op runs",
  ignore,
  fn: async () => {
    await init({ backend: "webgpu" });
    const pool = (backendObject("webgpu") as WebGpuBackend).runtime.pool;
    const limit = pool.limit();
    const n = Math.floor(limit.bytes / 4) + 1;
    const before = memoryStats();
    const t0 = performance.now();
    assert.throws(
      () => zeros([n]),
      (e: unknown) => {
        assert.ok(e instanceof GpuAllocationError, String(e));
        assert.equal(e.op, "zeros");
        assert.equal(e.bytes, n * 4);
        assert.equal(e.limitName, limit.name);
        assert.match(
          e.message,
          new RegExp(
            `^zeros: cannot allocate .* \\(${
              n * 4
            } bytes\\) on WebGPU: over the device's ${limit.name} of .* \\(${limit.bytes} bytes\\)$`,
          ),
        );
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 1000, "refused before any work");
    // An op whose output is over the limit, from small inputs.
    const side = Math.ceil(Math.sqrt(n));
    const col = ones([side, 1]);
    const row = ones([1, side]);
    assert.throws(
      () => col.matmul(row),
      /^GpuAllocationError: matmul: cannot allocate .* over the device's/,
    );
    col.dispose();
    row.dispose();
    assert.deepEqual(memoryStats(), before, "nothing counted for the refusal");
    const next = ones([3]).add(ones([3]));
    assert.deepEqual([...await next.data()], [2, 2, 2]);
    next.dispose();
    await sync();
  },
});

Deno.test({
  name:
    "[webgpu] the pool keeps at most its cap free, evicting the least recently released",
  ignore,
  fn: async () => {
    const rt = await GpuRuntime.create({ maxFreeBytes: 4096 });
    try {
      const p = rt.pool;
      const [a, b, c, d] = [1024, 1024, 2048, 1024].map((s) => p.acquire(s));
      for (const buf of [a, b, c, d]) p.release(buf);
      // 5120 bytes released; the oldest (a) went to stay within 4096.
      let s = p.stats();
      assert.equal(s.freeBytes, 4096);
      assert.equal(s.freeBuffers, 3);
      assert.equal(s.evictions, 1);
      assert.equal(p.acquire(1000), d, "most recently released first");
      assert.equal(p.acquire(1000), b);
      const fresh = p.acquire(1000);
      assert.ok(fresh !== a, "the evicted buffer is not handed out again");
      p.maxFreeBytes = 0;
      s = p.stats();
      assert.equal(s.freeBytes, 0, "lowering the cap evicts at once");
      assert.equal(s.liveBuffers, 3);
      assert.throws(() => (p.maxFreeBytes = -1), /maxFreeBytes must be/);
    } finally {
      rt.destroy();
    }
  },
});

testBackends(
  "uploads reuse free buffers without overwriting data pending work reads",
  async (b) => {
    const data = (k: number) => new Float32Array(1000).map((_, i) => i + k);
    // Pending work reads `a` after its buffer is freed; a new upload of the
    // same size must not land in it before that work runs.
    const a = tensor(data(0));
    const sumA = a.sum();
    a.dispose();
    const c = tensor(data(1));
    const [s, cv] = await readAll([sumA, c]);
    assert.equal(s[0], 499500);
    assert.equal(cv[999], 1000);
    sumA.dispose();
    c.dispose();
    // One upload per step of a size nothing else uses: the free list
    // stays put instead of growing by one buffer per step.
    const free0 = memoryStats().freeBuffers;
    for (let i = 0; i < 20; i++) {
      const x = tensor(data(i));
      const sum = x.sum();
      assert.equal((await sum.data())[0], 499500 + 1000 * i);
      x.dispose();
      sum.dispose();
    }
    const grew = memoryStats().freeBuffers - free0;
    assert.ok(grew <= (b === "webgpu" ? 2 : 0), `free list grew by ${grew}`);
  },
  { leakCheck: true },
);

/** A stand-in device whose `failing`-th createBuffer runs out of memory. */
function fakeDevice(failing: number) {
  let created = 0;
  const destroyed: unknown[] = [];
  const scopes: (GPUError | null)[] = [];
  const device = {
    limits: { maxBufferSize: 2 ** 20, maxStorageBufferBindingSize: 2 ** 20 },
    queue: { writeBuffer() {} },
    pushErrorScope() {
      scopes.push(null);
    },
    popErrorScope() {
      return Promise.resolve(scopes.pop() ?? null);
    },
    createBuffer(d: GPUBufferDescriptor) {
      if (++created === failing) {
        // Out of memory is reported to the outer ("out-of-memory") scope.
        scopes[scopes.length - 2] = { message: "Out of memory" } as GPUError;
      }
      const buffer = {
        size: d.size,
        destroy: () => destroyed.push(buffer),
        getMappedRange: () => new ArrayBuffer(d.size),
        unmap() {},
      };
      return buffer;
    },
  };
  return { device: device as unknown as GPUDevice, destroyed };
}

Deno.test("an out-of-memory buffer is reported with op and size and never reused", async () => {
  const { device, destroyed } = fakeDevice(2);
  const reports: Promise<Error | null>[] = [];
  const pool = new BufferPool(device, { report: (p) => reports.push(p) });
  const ok = pool.acquire(1000, "relu");
  const bad = pool.acquire(1000, "conv2d");
  const errors = await Promise.all(reports);
  assert.equal(errors[0], null);
  assert.match(
    String(errors[1]),
    /^Error: conv2d: WebGPU could not allocate 1 KiB \(1024 bytes\): Out of memory$/,
  );
  pool.release(bad);
  pool.release(ok);
  assert.deepEqual(destroyed, [bad], "the failed buffer is destroyed");
  assert.equal(pool.stats().freeBuffers, 1);
  assert.equal(pool.acquire(1000), ok, "only the good buffer is reused");
  assert.throws(
    () => pool.acquire(2 ** 20 + 1, "matmul"),
    /^GpuAllocationError: matmul: cannot allocate 1 MiB \(1048577 bytes\) on WebGPU: over the device's maxBufferSize of 1 MiB \(1048576 bytes\)$/,
  );
  assert.equal(pool.stats().liveBuffers, 1, "a refused request is not live");
});
