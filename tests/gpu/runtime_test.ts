import assert from "node:assert/strict";
import {
  bucketSize,
  GpuKernelError,
  GpuRuntime,
  ShaderCompileError,
} from "../../gpu/mod.ts";
import { BACKENDS } from "../_util.ts";

const ignore = !BACKENDS.includes("webgpu");

Deno.test("bucketSize() rounds up to powers of two from 256", () => {
  assert.equal(bucketSize(1), 256);
  assert.equal(bucketSize(256), 256);
  assert.equal(bucketSize(257), 512);
  assert.equal(bucketSize(5000), 8192);
});

Deno.test({
  name: "[webgpu] a WGSL compile error raises ShaderCompileError with the line",
  ignore,
  fn: async () => {
    const rt = await GpuRuntime.create();
    const out = rt.pool.acquire(16);
    rt.dispatch({
      kernel: {
        key: "broken",
        source: () =>
          `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() {
  o[0] = undefined_thing;
}`,
      },
      buffers: [out],
      workgroups: [1, 1, 1],
    });
    await assert.rejects(
      () => rt.sync(),
      (e: unknown) => {
        assert.ok(e instanceof ShaderCompileError);
        assert.match(e.message, /kernel 'broken'/);
        assert.match(e.message, /undefined_thing/);
        return true;
      },
    );
    rt.destroy();
  },
});

Deno.test({
  name: "[webgpu] a bad binding raises GpuKernelError naming the kernel",
  ignore,
  fn: async () => {
    const rt = await GpuRuntime.create();
    const src = rt.pool.acquire(16);
    // The shader needs two bindings; only one is given.
    rt.dispatch({
      kernel: {
        key: "copy-two",
        source: () =>
          `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() { o[0] = a[0]; }`,
      },
      buffers: [src],
      workgroups: [1, 1, 1],
    });
    await assert.rejects(() => rt.sync(), (e: unknown) => {
      assert.ok(e instanceof GpuKernelError);
      assert.match(e.message, /copy-two/);
      return true;
    });
    rt.destroy();
  },
});

Deno.test({
  name: "[webgpu] dispatches are batched and read back in one map",
  ignore,
  fn: async () => {
    const rt = await GpuRuntime.create({ batchSize: 4 });
    const bufs = [1, 2, 3].map((v) => rt.upload(Float32Array.of(v, v + 1)));
    const kernel = {
      key: "double",
      source: () =>
        `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(2) fn main(@builtin(local_invocation_index) i: u32) {
  o[i] = o[i] * 2.0;
}`,
    };
    for (let k = 0; k < 6; k++) {
      rt.dispatch({ kernel, buffers: [bufs[k % 3]], workgroups: [1, 1, 1] });
    }
    assert.equal(rt.stats().submits, 1, "a full batch of 4 was submitted");
    const out = await rt.readMany(bufs.map((b) => ({ buffer: b, bytes: 8 })));
    assert.deepEqual(out.map((b) => [...new Float32Array(b)]), [
      [4, 8],
      [8, 12],
      [12, 16],
    ]);
    assert.equal(rt.stats().submits, 3, "flush + one copy submit");
    bufs.forEach((b) => rt.pool.release(b));
    assert.equal(rt.pool.stats().liveBuffers, 0);
    assert.throws(() => rt.pool.release(bufs[0]), /double free/);
    rt.destroy();
  },
});
