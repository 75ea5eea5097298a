/**
 * CNN-F's instance norm as one primitive with a fused backward: per
 * [N, C] plane of H x W values, y = x / s with s = sqrt(mean(x²) + eps).
 * Composed of square, mean, add, sqrt and div, the forward and the tape's
 * adjoints took about a dozen passes over the feature map and five saved
 * tensors; fused, each direction reads a plane twice (sums, then output)
 * and the tape keeps only x.
 *
 * Backward, with n = H·W and A = Σ g·x over the plane (ds/dx = x / (n s)):
 * dx = g / s − x·A / (n s³). The rule is symmetric in the sense that
 * `insNormGrad(·, x)` is its own adjoint in g (the Jacobian is symmetric);
 * backward rules run unrecorded, so `insNormGrad` needs no rule of its own.
 *
 * `insNormBiasRelu` fuses the next two layers of CNN-F's blocks on a first
 * pass (no feedback signal yet): max(insNorm(x) + bias, 0) per channel, the
 * AdaReLU's mask being output > 0. Its input gradient is `insNormGrad` with
 * the output as a gate (g counts where it is positive), so an attack's
 * backward, which needs no bias gradient, makes one pass for the three.
 *
 * CPU kernels accumulate in double and also run in float64 mode (gradient
 * checks), so they never round to float32 on the way.
 *
 * @module
 */

import {
  insNormGradSource,
  insNormSource,
  NORM_MAX_PLANE,
  NORM_WG,
  normUniforms,
} from "../../gpu/shaders/norm.ts";
import { grid2d } from "../../gpu/shaders/common.ts";
import { fmt, type Shape, type TypedArray } from "../shape.ts";
import { insNormGradT } from "../tensor.ts";
import type { GpuPlan, KernelArgs, OpDef, TensorInfo } from "./types.ts";

/** Largest H·W plane the fused kernels take (see `NORM_MAX_PLANE`). */
export const INS_NORM_MAX_PLANE: number = NORM_MAX_PLANE;

/** Attributes of `insNorm` and `insNormGrad`. */
export interface InsNormAttrs {
  /** Added to the mean square before the square root (CNN-F: 1e-8). */
  eps: number;
}

function check(op: string, x: TensorInfo, what = "input"): void {
  if (x.shape.length !== 4) {
    throw new Error(`${op}: ${what} must be [N, C, H, W], got ${fmt(x.shape)}`);
  }
  if (x.dtype !== "float32") {
    throw new Error(`${op}: ${what} must be float32, got ${x.dtype}`);
  }
  const hw = x.shape[2] * x.shape[3];
  if (hw > NORM_MAX_PLANE) {
    throw new Error(
      `${op}: plane of ${hw} values in ${
        fmt(x.shape)
      } exceeds the kernel limit of ${NORM_MAX_PLANE}`,
    );
  }
}

/** Planes and plane size of an [N, C, H, W] shape. */
const planesOf = (s: Shape): [number, number] => [s[0] * s[1], s[2] * s[3]];

/**
 * CPU forward: sum of squares per plane, then the scaled plane; with a bias
 * (one value per channel), max(x / s + bias, 0) instead.
 */
function forwardCpu(
  x: TypedArray,
  bias: TypedArray | null,
  out: TypedArray,
  args: KernelArgs<InsNormAttrs>,
): void {
  const [planes, hw] = planesOf(args.inShapes[0]);
  const channels = args.inShapes[0][1];
  const eps = args.attrs.eps;
  for (let p = 0, b = 0; p < planes; p++, b += hw) {
    const e = b + hw;
    // Two accumulators halve the add chain's latency.
    let s0 = 0, s1 = 0, i = b;
    for (; i + 1 < e; i += 2) {
      const u = x[i], v = x[i + 1];
      s0 += u * u;
      s1 += v * v;
    }
    if (i < e) s0 += x[i] * x[i];
    const inv = 1 / Math.sqrt((s0 + s1) / hw + eps);
    if (bias) {
      const c = bias[p % channels];
      // max(v, 0) without a branch (a random sign mispredicts half the
      // time: several times slower); exact for every v but -inf, which
      // only an infinite bias gives.
      for (let j = b; j < e; j++) {
        const v = x[j] * inv + c;
        out[j] = (v + Math.abs(v)) * 0.5;
      }
    } else for (let j = b; j < e; j++) out[j] = x[j] * inv;
  }
}

/**
 * Gate of the gated backward: 1 where y > 0, else 0 (also for NaN and -0),
 * without a branch (a random sign mispredicts half the time, several times
 * slower). Read as int32 bits b, y > 0 exactly when 0 < b <= 0x7f800000
 * (+inf), which two sign bits of integer differences say; float64 arrays
 * (gradient checks) use Number().
 */
function gateOf(y: TypedArray): (i: number) => number {
  if (y instanceof Float32Array) {
    const bits = new Int32Array(y.buffer, y.byteOffset, y.length);
    return (i) => {
      const b = bits[i];
      return ((-b >>> 31) & ((b - 0x7f800001) >>> 31));
    };
  }
  return (i) => Number(y[i] > 0);
}

/**
 * CPU backward: Σx² and Σg·x per plane, then g·inv − x·k; with a third
 * input y, g counts only where y > 0 (the gated g is stashed in `out` by
 * the first pass and scaled in place by the second).
 */
function insNormGradCpu(
  ins: TypedArray[],
  out: TypedArray,
  args: KernelArgs<InsNormAttrs>,
): void {
  const [g, x, y] = ins;
  const [planes, hw] = planesOf(args.inShapes[0]);
  const eps = args.attrs.eps;
  const gate = y ? gateOf(y) : null;
  for (let p = 0, b = 0; p < planes; p++, b += hw) {
    const e = b + hw;
    let sq = 0, gx = 0;
    if (gate) {
      for (let i = b; i < e; i++) {
        const v = x[i];
        const gi = g[i] * gate(i);
        out[i] = gi;
        sq += v * v;
        gx += gi * v;
      }
    } else {
      for (let i = b; i < e; i++) {
        const v = x[i];
        sq += v * v;
        gx += g[i] * v;
      }
    }
    const inv = 1 / Math.sqrt(sq / hw + eps);
    const k = (gx / hw) * inv * inv * inv;
    const src = gate ? out : g;
    for (let j = b; j < e; j++) out[j] = src[j] * inv - x[j] * k;
  }
}

function plan(
  key: string,
  source: () => string,
  args: KernelArgs<InsNormAttrs>,
): GpuPlan[] {
  const [planes, hw] = planesOf(args.inShapes[0]);
  const channels = args.inShapes[0][1];
  return [{
    kernel: { key: `${key}:wg${NORM_WG}`, source },
    uniforms: normUniforms(planes, hw, args.attrs.eps, channels),
    workgroups: grid2d(planes),
  }];
}

/** The instance-norm primitives, keyed by op name. */
export const normOps = {
  insNorm: {
    infer(inputs) {
      check("insNorm", inputs[0]);
      return { shape: inputs[0].shape, dtype: "float32" };
    },
    cpu: (ins, out, args) => forwardCpu(ins[0], null, out, args),
    gpu: (args) => plan("norm:fwd", () => insNormSource(false), args),
    saveInputs: true,
    grad: (g, c) => [insNormGradT(g, c.inputs[0]!, c.attrs)],
  } as OpDef<InsNormAttrs>,
  insNormBiasRelu: {
    infer(inputs) {
      const [x, b] = inputs;
      const op = "insNormBiasRelu";
      check(op, x);
      const c = x.shape[1];
      if (
        b.dtype !== "float32" || b.shape.length !== 4 ||
        b.shape.some((d, i) => d !== (i === 1 ? c : 1))
      ) {
        throw new Error(
          `${op}: bias must be float32 [1, ${c}, 1, 1] for input ${
            fmt(x.shape)
          }, got ${b.dtype} ${fmt(b.shape)}`,
        );
      }
      return { shape: x.shape, dtype: "float32" };
    },
    cpu: (ins, out, args) => forwardCpu(ins[0], ins[1], out, args),
    gpu: (args) => plan("norm:fwd:biasrelu", () => insNormSource(true), args),
    saveInputs: [true, false],
    saveOutput: true,
    // The ReLU passes g where the output is positive. The input's gradient
    // gates g inside the backward kernel; the bias's (training only) needs
    // the gated g itself, which the engine sums over N, H, W.
    grad: (g, c) => {
      const [x, y] = [c.inputs[0]!, c.output!];
      if (!c.needs[1]) return [insNormGradT(g, x, c.attrs, y), null];
      const gp = g.mul(y.gt(0));
      return [c.needs[0] ? insNormGradT(gp, x, c.attrs) : null, gp];
    },
  } as OpDef<InsNormAttrs>,
  insNormGrad: {
    infer(inputs) {
      const [g, x, y] = inputs;
      check("insNormGrad", x);
      const others: [TensorInfo, string][] = [[g, "gradient"]];
      if (y) others.push([y, "gate"]);
      for (const [t, what] of others) {
        check("insNormGrad", t, what);
        if (t.shape.some((d, i) => d !== x.shape[i])) {
          throw new Error(
            `insNormGrad: ${what} ${fmt(t.shape)} does not match input ${
              fmt(x.shape)
            }`,
          );
        }
      }
      return { shape: x.shape, dtype: "float32" };
    },
    cpu: insNormGradCpu,
    gpu: (args) =>
      args.inShapes.length === 3
        ? plan("norm:grad:gated", () => insNormGradSource(true), args)
        : plan("norm:grad", () => insNormGradSource(false), args),
  } as OpDef<InsNormAttrs>,
};
