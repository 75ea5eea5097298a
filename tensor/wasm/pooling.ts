/**
 * Arg-pooling through the WebAssembly kernel of `pooling_kernel.ts`: which
 * poolings it takes, and the driver that copies planes into the arena in
 * bounded chunks, runs one unit per plane and copies the indices out.
 *
 * @module
 */

import { POOL_ARGS } from "./pooling_kernel.ts";
import { KERNEL, type WasmRuntime } from "./runtime.ts";

/** Whether `poolArgWasm` takes this pooling (2 x 2, stride 2, no padding). */
export function poolArgWasmFits(
  kernel: readonly number[],
  stride: readonly number[],
  padding: readonly number[],
  wo: number,
): boolean {
  return kernel[0] === 2 && kernel[1] === 2 && stride[0] === 2 &&
    stride[1] === 2 && padding[0] === 0 && padding[1] === 0 && wo >= 4;
}

/** Most input floats copied into the arena at once (16 MiB; tests lower it). */
export const poolTuning = { chunkFloats: 1 << 22 };

/**
 * Arg-pools `planes` planes of h x w from `x` into the flat indices `out`
 * (planes x ho x wo), in chunks of whole planes.
 */
export function poolArgWasm(
  rt: WasmRuntime,
  x: Float32Array,
  out: Int32Array,
  planes: number,
  h: number,
  w: number,
  ho: number,
  wo: number,
  mode: "max" | "min",
): void {
  const per = Math.max(
    1,
    Math.min(planes, Math.floor(poolTuning.chunkFloats / (h * w))),
  );
  rt.reset();
  const xin = rt.alloc(per * h * w);
  const oin = rt.alloc(per * ho * wo);
  for (let p0 = 0; p0 < planes; p0 += per) {
    const n = Math.min(per, planes - p0);
    rt.f32.set(x.subarray(p0 * h * w, (p0 + n) * h * w), xin);
    rt.launchWith(KERNEL.poolArg2x2, n, POOL_ARGS, {
      x: xin * 4,
      out: oin * 4,
      h,
      w,
      ho,
      wo,
      neg: mode === "min" ? 1 : 0,
    });
    out.set(rt.i32.subarray(oin, oin + n * ho * wo), p0 * ho * wo);
  }
}
