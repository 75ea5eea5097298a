/**
 * Convolution primitives: conv2d, conv_transpose2d (which is exactly the
 * input-gradient of conv2d, the fact CNN-F's feedback relies on) and the
 * weight gradient. Each one's gradients are the other two.
 *
 * @module
 */

import { checkNonNegInt, checkPosInt, fmt, type Shape } from "../shape.ts";
import { conv2dT, conv2dWeightGradT, convTranspose2dT } from "../tensor.ts";
import type { OpDef, TensorInfo } from "./types.ts";
import {
  conv2dCpu,
  conv2dGpu,
  convTranspose2dCpu,
  convTranspose2dGpu,
  convWeightGradCpu,
  convWeightGradGpu,
} from "./conv_kernels.ts";

/** Geometry shared by the convolution primitives. */
export interface ConvAttrs {
  /** Stride [h, w]. */
  stride: readonly [number, number];
  /** Zero padding [h, w]. */
  padding: readonly [number, number];
  /** Dilation [h, w]. */
  dilation: readonly [number, number];
}

/** Attributes of `convTranspose2d`. */
export interface ConvTransposeAttrs extends ConvAttrs {
  /** Extra rows/columns added to the output's far side [h, w]. */
  outputPadding: readonly [number, number];
}

/** Attributes of `conv2dWeightGrad`. */
export interface ConvWeightGradAttrs extends ConvAttrs {
  /** Kernel size [h, w] of the weight being differentiated. */
  kernel: readonly [number, number];
}

function checkGeom(op: string, a: ConvAttrs): void {
  for (let i = 0; i < 2; i++) {
    checkPosInt(op, "stride", a.stride[i]);
    checkNonNegInt(op, "padding", a.padding[i]);
    checkPosInt(op, "dilation", a.dilation[i]);
  }
}

function check4d(op: string, what: string, t: TensorInfo): void {
  if (t.shape.length !== 4) {
    throw new Error(`${op}: ${what} must be 4-D, got ${fmt(t.shape)}`);
  }
  if (t.dtype !== "float32") {
    throw new Error(`${op}: ${what} must be float32, got ${t.dtype}`);
  }
}

/** Output size of a convolution along one axis. */
export function convOutSize(
  size: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}

/** Output size of a transposed convolution along one axis. */
export function convTransposeOutSize(
  size: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
  outPad: number,
): number {
  return (size - 1) * stride - 2 * pad + dil * (k - 1) + outPad + 1;
}

function inferConv(inputs: TensorInfo[], a: ConvAttrs) {
  const op = "conv2d";
  if (inputs.length !== 2) throw new Error(`${op}: expected input and weight`);
  const [x, w] = inputs;
  check4d(op, "input", x);
  check4d(op, "weight", w);
  checkGeom(op, a);
  if (x.shape[1] !== w.shape[1]) {
    throw new Error(
      `${op}: input ${fmt(x.shape)} has ${x.shape[1]} channels but weight ${
        fmt(w.shape)
      } expects ${w.shape[1]}`,
    );
  }
  const ho = convOutSize(
    x.shape[2],
    w.shape[2],
    a.stride[0],
    a.padding[0],
    a.dilation[0],
  );
  const wo = convOutSize(
    x.shape[3],
    w.shape[3],
    a.stride[1],
    a.padding[1],
    a.dilation[1],
  );
  if (ho < 1 || wo < 1) {
    throw new Error(
      `${op}: input ${fmt(x.shape)} is too small for kernel ${
        fmt(w.shape.slice(2))
      } with padding ${fmt(a.padding)} and dilation ${fmt(a.dilation)}`,
    );
  }
  return {
    shape: [x.shape[0], w.shape[0], ho, wo] as Shape,
    dtype: "float32" as const,
  };
}

function inferConvT(inputs: TensorInfo[], a: ConvTransposeAttrs) {
  const op = "convTranspose2d";
  if (inputs.length !== 2) throw new Error(`${op}: expected input and weight`);
  const [y, w] = inputs;
  check4d(op, "input", y);
  check4d(op, "weight", w);
  checkGeom(op, a);
  for (let i = 0; i < 2; i++) {
    checkNonNegInt(op, "outputPadding", a.outputPadding[i]);
    if (
      a.outputPadding[i] >= a.stride[i] && a.outputPadding[i] >= a.dilation[i]
    ) {
      throw new Error(
        `${op}: outputPadding [${
          a.outputPadding.join(", ")
        }] must be smaller than stride [${a.stride.join(", ")}] or dilation [${
          a.dilation.join(", ")
        }]`,
      );
    }
  }
  if (y.shape[1] !== w.shape[0]) {
    throw new Error(
      `${op}: input ${fmt(y.shape)} has ${y.shape[1]} channels but weight ${
        fmt(w.shape)
      } expects ${w.shape[0]}`,
    );
  }
  const ho = convTransposeOutSize(
    y.shape[2],
    w.shape[2],
    a.stride[0],
    a.padding[0],
    a.dilation[0],
    a.outputPadding[0],
  );
  const wo = convTransposeOutSize(
    y.shape[3],
    w.shape[3],
    a.stride[1],
    a.padding[1],
    a.dilation[1],
    a.outputPadding[1],
  );
  if (ho < 1 || wo < 1) {
    throw new Error(`${op}: output would be empty for input ${fmt(y.shape)}`);
  }
  return {
    shape: [y.shape[0], w.shape[1], ho, wo] as Shape,
    dtype: "float32" as const,
  };
}

function inferWGrad(inputs: TensorInfo[], a: ConvWeightGradAttrs) {
  const op = "conv2dWeightGrad";
  const [x, gy] = inputs;
  check4d(op, "input", x);
  check4d(op, "output gradient", gy);
  checkGeom(op, a);
  const ho = convOutSize(
    x.shape[2],
    a.kernel[0],
    a.stride[0],
    a.padding[0],
    a.dilation[0],
  );
  const wo = convOutSize(
    x.shape[3],
    a.kernel[1],
    a.stride[1],
    a.padding[1],
    a.dilation[1],
  );
  if (gy.shape[0] !== x.shape[0] || gy.shape[2] !== ho || gy.shape[3] !== wo) {
    throw new Error(
      `${op}: output gradient ${fmt(gy.shape)} does not match input ${
        fmt(x.shape)
      }`,
    );
  }
  return {
    shape: [gy.shape[1], x.shape[1], a.kernel[0], a.kernel[1]] as Shape,
    dtype: "float32" as const,
  };
}

/** outputPadding that makes a transposed conv restore `size`. */
export function restoringOutputPadding(
  size: number,
  outSize: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
): number {
  return size - convTransposeOutSize(outSize, k, stride, pad, dil, 0);
}

const geom = (a: ConvAttrs): ConvAttrs => ({
  stride: a.stride,
  padding: a.padding,
  dilation: a.dilation,
});

/** The convolution primitives, keyed by op name. */
export const convOps = {
  conv2d: {
    infer: inferConv,
    cpu: conv2dCpu,
    gpu: conv2dGpu,
    saveInputs: true,
    grad: (g, c) => {
      const [x, w] = [c.inputs[0]!, c.inputs[1]!];
      const xs = c.inShapes[0];
      const ks = c.inShapes[1];
      const a = c.attrs;
      const outputPadding = [0, 1].map((i) =>
        restoringOutputPadding(
          xs[2 + i],
          g.shape[2 + i],
          ks[2 + i],
          a.stride[i],
          a.padding[i],
          a.dilation[i],
        )
      ) as [number, number];
      return [
        c.needs[0]
          ? convTranspose2dT(g, w, { ...geom(a), outputPadding })
          : null,
        c.needs[1]
          ? conv2dWeightGradT(x, g, { ...geom(a), kernel: [ks[2], ks[3]] })
          : null,
      ];
    },
  } as OpDef<ConvAttrs>,
  convTranspose2d: {
    infer: inferConvT,
    cpu: convTranspose2dCpu,
    gpu: convTranspose2dGpu,
    saveInputs: true,
    grad: (g, c) => {
      const [y, w] = [c.inputs[0]!, c.inputs[1]!];
      const ks = c.inShapes[1];
      const a = c.attrs;
      return [
        c.needs[0] ? conv2dT(g, w, geom(a)) : null,
        c.needs[1]
          ? conv2dWeightGradT(g, y, { ...geom(a), kernel: [ks[2], ks[3]] })
          : null,
      ];
    },
  } as OpDef<ConvTransposeAttrs>,
  conv2dWeightGrad: {
    infer: inferWGrad,
    cpu: convWeightGradCpu,
    gpu: convWeightGradGpu,
    saveInputs: true,
    grad: (g, c) => {
      const [x, gy] = [c.inputs[0]!, c.inputs[1]!];
      const xs = c.inShapes[0];
      const a = c.attrs;
      const outputPadding = [0, 1].map((i) =>
        restoringOutputPadding(
          xs[2 + i],
          gy.shape[2 + i],
          a.kernel[i],
          a.stride[i],
          a.padding[i],
          a.dilation[i],
        )
      ) as [number, number];
      return [
        c.needs[0]
          ? convTranspose2dT(gy, g, { ...geom(a), outputPadding })
          : null,
        c.needs[1] ? conv2dT(x, g, geom(a)) : null,
      ];
    },
  } as OpDef<ConvWeightGradAttrs>,
};
