/**
 * Long runs keep memory flat: conv2d forward and backward calls and CNN-F
 * training steps (the CNN-F loss, gradient clipping and SGD with momentum
 * and weight decay, as `train/loop.ts` runs them) leave the process's
 * resident memory and the buffer pool where warm-up left them. Before the
 * fix every conv dispatch on lavapipe leaked ~0.8 MiB of native memory
 * (uniform values baked into a shader variant per dispatch), and uploads
 * grew the pool's free list by a buffer per step. The loops run in a
 * process of their own (`_memory_run.ts`), since resident memory is per
 * process and other test files run alongside.
 *
 * The pool's cap, least-recently-released eviction and upload ordering are
 * tested on the device, its out-of-memory handling on a stand-in device.
 */

import assert from "node:assert/strict";
import { BufferPool, GpuAllocationError, GpuRuntime } from "../../gpu/mod.ts";
import type { WebGpuBackend } from "../../tensor/backend.ts";
import { backendObject } from "../../tensor/engine.ts";
import {
  init,
  type MemoryStats,
  memoryStats,
  ones,
  readAll,
  sync,
  tensor,
  zeros,
} from "../../tensor/mod.ts";
import { BACKENDS, testBackends } from "../_util.ts";

const ignore = !BACKENDS.includes("webgpu");
const MiB = 2 ** 20;
/** Most resident-memory growth allowed after warm-up. */
const RSS_SLACK = 32 * MiB;

/** Resident memory and memory counters at one point of a loop. */
interface Snapshot {
  rss: number;
  mem: MemoryStats;
  /** The CPU worker pool's counters (null: no pool). */
  pool: { ready: number; workerUnits: number } | null;
  /** Bytes of the CPU backend's WebAssembly memory (0: not used). */
  wasmBytes: number;
}

/** Asserts RSS within the slack and the pool exactly where it was. */
function assertFlat(label: string, before: Snapshot, after: Snapshot): void {
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

/** Runs `_memory_run.ts` in a fresh process; returns its figures. */
async function runLoop(
  kind: "conv" | "cnnf" | "adv",
  backend: string,
  warm: number,
  steps: number,
): Promise<{ before: Snapshot; after: Snapshot; losses: (number | null)[] }> {
  const script = new URL("./_memory_run.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // V8 grows its young generation (up to 3 x 16 MiB) under allocation
      // pressure and keeps the reservation: RSS that says nothing about
      // our buffers. A 4 MiB cap leaves the growth to what we allocate.
      "--v8-flags=--expose-gc,--max-semi-space-size=4",
      script,
      kind,
      backend,
      String(warm),
      String(steps),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert.equal(out.code, 0, text.decode(out.stderr));
  return JSON.parse(text.decode(out.stdout));
}

testBackends(
  "300 conv2d forward and backward calls keep RSS and pool bytes flat",
  async (b) => {
    const r = await runLoop("conv", b, 30, 300);
    assertFlat("conv2d", r.before, r.after);
    const read = r.losses.filter((v) => v !== null);
    assert.equal(read.length, 33, "every 10th call read back");
    assert.ok(read.every(Number.isFinite), "finite outputs");
  },
);

testBackends(
  "200 CNN-F training steps at batch 4 keep RSS and pool bytes flat",
  async (b) => {
    const r = await runLoop("cnnf", b, 100, 200);
    assertFlat("CNN-F training", r.before, r.after);
    const losses = r.losses as number[];
    assert.ok(losses.every(Number.isFinite), "every loss is finite");
    const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
    assert.ok(
      mean(losses.slice(-20)) < mean(losses.slice(0, 20)),
      "the loss fell: the steps trained",
    );
  },
);

Deno.test(
  "[cpu] 300 adversarial training steps on the worker pool keep RSS, the WebAssembly memory and the pool flat",
  async () => {
    const r = await runLoop("adv", "cpu", 30, 300);
    assertFlat("adversarial training on the pool", r.before, r.after);
    assert.ok(r.before.pool, "the CPU backend has a worker pool");
    assert.ok(r.after.pool, "the worker pool is still up");
    assert.equal(r.after.pool.ready, 1, "one worker beside this thread");
    const units = r.after.pool.workerUnits - r.before.pool.workerUnits;
    assert.ok(units >= 300, `the workers ran ${units} units in 300 steps`);
    assert.equal(
      r.after.wasmBytes,
      r.before.wasmBytes,
      "the WebAssembly memory did not grow after warm-up",
    );
    const losses = r.losses as number[];
    assert.ok(losses.every(Number.isFinite), "every loss is finite");
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
    // Inputs of an op whose output is over the limit.
    const side = Math.ceil(Math.sqrt(n));
    const col = ones([side, 1]);
    const row = ones([1, side]);
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
    assert.throws(
      () => col.matmul(row),
      /^GpuAllocationError: matmul: cannot allocate .* over the device's/,
    );
    assert.deepEqual(memoryStats(), before, "nothing counted for the refusal");
    col.dispose();
    row.dispose();
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
