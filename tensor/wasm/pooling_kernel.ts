/**
 * Arg-pooling on the WebAssembly runtime for the common window: 2 x 2,
 * stride 2, no padding (CNN-F's AdaPool and every max-pool of its models).
 * Four pooled columns at a time: two vector loads per input row hold eight
 * columns, shuffles split them into the four windows' left and right taps,
 * and lane-wise compares with `v128.bitselect` keep the winner and its
 * index without a branch. The taps are visited in the JavaScript kernel's
 * order (top-left, top-right, bottom-left, bottom-right) with the same
 * strict comparison, so NaN, ±0 and ties pick the same index; `min` mode
 * negates the values first, as the reference does.
 *
 * A unit is one plane. A row's last vector overlaps the previous one when
 * the pooled width is not a multiple of four (it rewrites equal values),
 * so planes need a pooled width of at least four.
 *
 * @module
 */

import { Code, type FuncDef, I32, V128 } from "./builder.ts";
import { params } from "./layout_kernels.ts";

/** Parameter block of `poolArg2x2`. */
export const POOL_ARGS = ["x", "out", "h", "w", "ho", "wo", "neg"] as const;

/** Shuffle lanes: even and odd 32-bit lanes of two vectors. */
const EVEN = [0, 2, 4, 6];
const ODD = [1, 3, 5, 7];

/** The kernel; see the module notes. */
export function poolArg2x2Kernel(): FuncDef {
  const f = new Code(2);
  const p = params(f, POOL_ARGS);
  const [xb, ob, oh, ow, owv, r0, base, wBytes] = Array.from(
    { length: 8 },
    () => f.local(I32),
  );
  const [va, vb, best, idx, m, lanes, tl] = Array.from(
    { length: 7 },
    () => f.local(V128),
  );
  const taps = Array.from({ length: 4 }, () => f.local(V128));
  // i32x4 (0, 2, 4, 6): the pooled columns' left taps, relative.
  f.iconst4([0, 2, 4, 6]).set(lanes);
  f.get(p.w).i32(4).mul().set(wBytes);
  // xb = x + u * h * w * 4; ob = out + u * ho * wo * 4
  f.get(p.x).get(0).get(p.h).mul().get(wBytes).mul().add().set(xb);
  f.get(p.out).get(0).get(p.ho).mul().get(p.wo).mul().i32(4).mul().add();
  f.set(ob);
  f.loop(oh, () => f.i32(0), () => f.get(p.ho), 1, () => {
    // Row 2 oh of the plane: byte address and flat index.
    f.get(oh).i32(2).mul().get(p.w).mul().set(base);
    f.get(xb).get(base).i32(4).mul().add().set(r0);
    f.loop(ow, () => f.i32(0), () => f.get(p.wo), 4, () => {
      // owv = min(ow, wo - 4): the last vector overlaps the one before.
      f.get(ow).get(p.wo).i32(4).sub().get(ow).get(p.wo).i32(4).sub().lt();
      f.select().set(owv);
      for (let row = 0; row < 2; row++) {
        f.get(r0).get(owv).i32(8).mul().add();
        if (row) f.get(wBytes).add();
        f.load(0).set(va);
        f.get(r0).get(owv).i32(8).mul().add();
        if (row) f.get(wBytes).add();
        f.load(16).set(vb);
        f.get(va).get(vb).shuffle32(EVEN).set(taps[row * 2]);
        f.get(va).get(vb).shuffle32(ODD).set(taps[row * 2 + 1]);
      }
      f.get(p.neg).ifElse(() => {
        for (const t of taps) f.get(t).vneg().set(t);
      });
      // Index of each window's top-left tap: base + 2 owv + (0, 2, 4, 6).
      f.get(base).get(owv).i32(2).mul().add().isplat().get(lanes).iadd4();
      f.tee(tl).set(idx);
      f.get(taps[0]).set(best);
      const offsets = [() => f.i32(1), () => f.get(p.w), () => {
        f.get(p.w).i32(1).add();
      }];
      for (let t = 1; t < 4; t++) {
        // Strictly greater, false on NaN: the first best stays.
        f.get(taps[t]).get(best).vgt().set(m);
        f.get(taps[t]).get(best).get(m).bitselect().set(best);
        // The candidate index: top-left index + this tap's offset.
        f.get(tl);
        offsets[t - 1]();
        f.isplat().iadd4().get(idx).get(m).bitselect().set(idx);
      }
      f.get(ob).get(oh).get(p.wo).mul().get(owv).add().i32(4).mul().add();
      f.get(idx).store(0);
    });
  });
  return { name: "poolArg2x2", params: [I32, I32], results: [], code: f };
}
