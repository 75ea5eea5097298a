/**
 * Pooling primitives. Max/min pooling is split into a non-differentiable
 * index op (`poolArg`, flat index within the input plane, first index on
 * ties as PyTorch) and a differentiable gather (`poolGather`) whose adjoint
 * is max-unpooling (`unpool`), so AdaPool's argmax and argmin routes share
 * the kernels. Average pooling has its own backward primitive.
 *
 * @module
 */

import { checkNonNegInt, checkPosInt, fmt, type Shape } from "../shape.ts";
import { avgPool2dGradT, avgPool2dT, poolGatherT, unpoolT } from "../tensor.ts";
import type { OpDef, TensorInfo } from "./types.ts";
import {
  avgPoolCpu,
  avgPoolGpu,
  avgPoolGradCpu,
  avgPoolGradGpu,
  poolArgCpu,
  poolArgGpu,
  poolGatherCpu,
  poolGatherGpu,
  unpoolCpu,
  unpoolGpu,
} from "./pool_kernels.ts";

/** Window geometry of a pooling op. */
export interface PoolAttrs {
  /** Window size [h, w]. */
  kernel: readonly [number, number];
  /** Stride [h, w]. */
  stride: readonly [number, number];
  /** Implicit padding [h, w] (never selected by max/min; zeros for avg). */
  padding: readonly [number, number];
}

/** Attributes of `poolArg`. */
export interface PoolArgAttrs extends PoolAttrs {
  /** Select the maximum or the minimum of each window. */
  mode: "max" | "min";
}

/** Attributes of `unpool`. */
export interface UnpoolAttrs extends PoolAttrs {
  /** Spatial size [h, w] of the unpooled output. */
  outSize: readonly [number, number];
}

/** Attributes of `avgPool2d`. */
export interface AvgPoolAttrs extends PoolAttrs {
  /** Count padded zeros in the divisor (PyTorch's default: true). */
  countIncludePad: boolean;
}

/** Attributes of `avgPool2dGrad`. */
export interface AvgPoolGradAttrs extends AvgPoolAttrs {
  /** Spatial size [h, w] of the pooled input. */
  inSize: readonly [number, number];
}

/** Output size of a pooling window along one axis. */
export function poolOutSize(
  size: number,
  k: number,
  s: number,
  p: number,
): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

function checkPool(op: string, x: TensorInfo, a: PoolAttrs): [number, number] {
  if (x.shape.length !== 4) {
    throw new Error(
      `${op}: input must be 4-D [N, C, H, W], got ${fmt(x.shape)}`,
    );
  }
  for (let i = 0; i < 2; i++) {
    checkPosInt(op, "kernel", a.kernel[i]);
    checkPosInt(op, "stride", a.stride[i]);
    checkNonNegInt(op, "padding", a.padding[i]);
    if (2 * a.padding[i] > a.kernel[i]) {
      throw new Error(
        `${op}: padding ${fmt(a.padding)} must be at most half the kernel ${
          fmt(a.kernel)
        }`,
      );
    }
  }
  const ho = poolOutSize(x.shape[2], a.kernel[0], a.stride[0], a.padding[0]);
  const wo = poolOutSize(x.shape[3], a.kernel[1], a.stride[1], a.padding[1]);
  if (ho < 1 || wo < 1) {
    throw new Error(
      `${op}: input ${fmt(x.shape)} is smaller than kernel ${fmt(a.kernel)}`,
    );
  }
  return [ho, wo];
}

function needFloat(op: string, t: TensorInfo, what = "input"): void {
  if (t.dtype !== "float32") {
    throw new Error(`${op}: ${what} must be float32, got ${t.dtype}`);
  }
}

function needIndices(op: string, v: TensorInfo, idx: TensorInfo): void {
  if (idx.dtype !== "int32") {
    throw new Error(`${op}: indices must be int32, got ${idx.dtype}`);
  }
  if (idx.shape.length !== 4 || idx.shape.some((d, i) => d !== v.shape[i])) {
    throw new Error(
      `${op}: indices ${fmt(idx.shape)} do not match values ${fmt(v.shape)}`,
    );
  }
}

const geom = (a: PoolAttrs): PoolAttrs => ({
  kernel: a.kernel,
  stride: a.stride,
  padding: a.padding,
});

/** The pooling primitives, keyed by op name. */
export const poolOps = {
  poolArg: {
    infer(inputs, a) {
      const x = inputs[0];
      const op = a.mode === "min" ? "minPool2d" : "maxPool2d";
      needFloat(op, x);
      const [ho, wo] = checkPool(op, x, a);
      return {
        shape: [x.shape[0], x.shape[1], ho, wo] as Shape,
        dtype: "int32",
      };
    },
    cpu: poolArgCpu,
    gpu: poolArgGpu,
  } as OpDef<PoolArgAttrs>,
  poolGather: {
    infer(inputs, a) {
      const [x, idx] = inputs;
      needFloat("poolGather", x);
      const [ho, wo] = checkPool("poolGather", x, a);
      const shape: Shape = [x.shape[0], x.shape[1], ho, wo];
      needIndices("poolGather", { shape, dtype: "float32" }, idx);
      return { shape, dtype: "float32" };
    },
    cpu: poolGatherCpu,
    gpu: poolGatherGpu,
    saveInputs: [false, true],
    grad: (g, c) => [
      unpoolT(g, c.inputs[1]!, {
        ...geom(c.attrs),
        outSize: [c.inShapes[0][2], c.inShapes[0][3]],
      }),
      null,
    ],
  } as OpDef<PoolAttrs>,
  unpool: {
    infer(inputs, a) {
      const [z, idx] = inputs;
      needFloat("maxUnpool2d", z);
      const out: TensorInfo = {
        shape: [z.shape[0], z.shape[1], a.outSize[0], a.outSize[1]],
        dtype: "float32",
      };
      const [ho, wo] = checkPool("maxUnpool2d", out, a);
      if (z.shape.length !== 4 || z.shape[2] !== ho || z.shape[3] !== wo) {
        throw new Error(
          `maxUnpool2d: input ${fmt(z.shape)} does not pool from output size ${
            fmt(a.outSize)
          } with kernel ${fmt(a.kernel)} stride ${fmt(a.stride)}`,
        );
      }
      needIndices("maxUnpool2d", z, idx);
      return out;
    },
    cpu: unpoolCpu,
    gpu: unpoolGpu,
    saveInputs: [false, true],
    grad: (g, c) => [poolGatherT(g, c.inputs[1]!, geom(c.attrs)), null],
  } as OpDef<UnpoolAttrs>,
  avgPool2d: {
    infer(inputs, a) {
      const x = inputs[0];
      needFloat("avgPool2d", x);
      const [ho, wo] = checkPool("avgPool2d", x, a);
      return {
        shape: [x.shape[0], x.shape[1], ho, wo] as Shape,
        dtype: "float32",
      };
    },
    cpu: avgPoolCpu,
    gpu: avgPoolGpu,
    grad: (g, c) => [
      avgPool2dGradT(g, {
        ...c.attrs,
        inSize: [c.inShapes[0][2], c.inShapes[0][3]],
      }),
    ],
  } as OpDef<AvgPoolAttrs>,
  avgPool2dGrad: {
    infer(inputs, a) {
      const g = inputs[0];
      needFloat("avgPool2dGrad", g);
      const x: TensorInfo = {
        shape: [g.shape[0], g.shape[1], a.inSize[0], a.inSize[1]],
        dtype: "float32",
      };
      const [ho, wo] = checkPool("avgPool2dGrad", x, a);
      if (g.shape[2] !== ho || g.shape[3] !== wo) {
        throw new Error(
          `avgPool2dGrad: gradient ${fmt(g.shape)} does not match input size ${
            fmt(a.inSize)
          }`,
        );
      }
      return x;
    },
    cpu: avgPoolGradCpu,
    gpu: avgPoolGradGpu,
    grad: (g, c) => [avgPool2dT(g, c.attrs)],
  } as OpDef<AvgPoolGradAttrs>,
};
