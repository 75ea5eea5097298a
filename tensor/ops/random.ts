/**
 * The random primitive: uniform [0, 1) or standard normal (Box-Muller) from
 * the counter-based hash, identical on CPU and GPU for a seed and offset.
 *
 * @module
 */

import { mixHash, randomSource, streamKeys } from "../../gpu/shaders/random.ts";
import { grid1d, packUniforms } from "../../gpu/shaders/common.ts";
import { checkNonNegInt, MAX_RANK, type Shape, sizeOf } from "../shape.ts";
import type { OpDef } from "./types.ts";

/** Attributes of `random`. */
export interface RandomAttrs {
  /** Distribution. */
  kind: "uniform" | "normal";
  /** Output shape. */
  shape: Shape;
  /** Seed of the stream. */
  seed: number;
  /** Counter of the stream's first element. */
  offset: number;
}

const unit = (h: number) => (h >>> 8) * (1 / 16777216);

/** The random primitive, keyed by op name. */
export const randomOps = {
  random: {
    infer(inputs, a) {
      if (inputs.length) throw new Error("random: takes no inputs");
      if (a.shape.length > MAX_RANK) {
        throw new Error(`random: rank ${a.shape.length} exceeds ${MAX_RANK}`);
      }
      a.shape.forEach((d) => checkNonNegInt("random", "dimension", d));
      return { shape: a.shape, dtype: "float32" };
    },
    cpu(_ins, out, args) {
      const { seed, offset, kind } = args.attrs;
      const [k0, k1] = streamKeys(seed, offset);
      const lo = offset >>> 0;
      const u1 = new Float32Array(1);
      for (let i = 0; i < out.length; i++) {
        const ctr = (lo + i) >>> 0;
        if (kind === "uniform") out[i] = unit(mixHash(ctr, k0));
        else {
          u1[0] = 1 - unit(mixHash(ctr, k0));
          const u2 = Math.fround(unit(mixHash(ctr, k1)));
          out[i] = Math.sqrt(-2 * Math.log(u1[0])) *
            Math.cos(Math.fround(6.283185307179586 * u2));
        }
      }
    },
    gpu(args) {
      const { seed, offset, kind } = args.attrs;
      const [k0, k1] = streamKeys(seed, offset);
      const n = sizeOf(args.outShape);
      return [{
        kernel: { key: `random:${kind}`, source: () => randomSource(kind) },
        uniforms: packUniforms([n, offset >>> 0, k0, k1]),
        workgroups: grid1d(n),
      }];
    },
  } as OpDef<RandomAttrs>,
};
