/**
 * The WebAssembly GEMM micro-kernel, emitted with the builder: C tiles of
 * MR x 8 kept in v128 locals (MR rows x two f32x4), fed by A packed in
 * strips of MR rows and B packed in panels of 8 columns, K walked in blocks
 * of `kc` (at most KC, chosen by the caller so the blocks come out even) so
 * a strip block stays in L1 while the panels of a unit stream through L2.
 *
 * Every kernel of the runtime has the signature `(unit, args)`: `args` is
 * the byte address of its i32 parameter block, `unit` picks a share of the
 * work. Here a unit is a rectangle of strips x panels; each C tile is summed
 * over all of K in one fixed order by whichever thread owns the unit, so the
 * bits do not depend on the thread count or on how units are grouped.
 *
 * @module
 */

import { Code, type FuncDef, I32, V128 } from "./builder.ts";

/**
 * Rows of a micro-tile (A strip height): 6 x 8 keeps 12 accumulators, two
 * B vectors and one splat in the 16 vector registers of x64 (measured ~5%
 * faster than 4 x 8 on the convolutions, ~10% on matmul 1024).
 */
export const MR = 6;
/** Columns of a micro-tile (B panel width). */
export const NR = 8;
/** Longest K block (a 6 x 384 strip block is 9 KiB, its panel 12 KiB). */
export const KC = 384;

/** Parameter block of `gemm`, as i32 words (byte addresses are absolute). */
export const GEMM_ARGS = [
  "ap",
  "aStep",
  "aStrip",
  "bp",
  "bStep",
  "bPanel",
  "c",
  "k",
  "strips",
  "panels",
  "stripsPerUnit",
  "panelsPerUnit",
  "ldcBytes",
  "accumulate",
  "unitsAcross",
  "kc",
] as const;

/**
 * The GEMM kernel for mr x nr tiles (nr a multiple of 4; the runtime uses
 * MR x NR, other sizes serve benchmarks). With `fma` the update is f32x4.relaxed_madd (one
 * rounding where the CPU fuses), else f32x4.mul then add.
 */
export function gemmKernel(fma: boolean, mr = MR, nr = NR): FuncDef {
  const nv = nr / 4;
  const f = new Code(2);
  const [U, ARGS] = [0, 1];
  const p: Record<(typeof GEMM_ARGS)[number], number> = Object.fromEntries(
    GEMM_ARGS.map((name, i) => {
      const l = f.local(I32);
      f.get(ARGS).loadI32(i * 4).set(l);
      return [name, l];
    }),
  ) as never;
  const [s0, s1, p0, p1, k0, kc, s, q, a, b, aEnd, cp] = Array.from(
    { length: 12 },
    () => f.local(I32),
  );
  const acc = Array.from({ length: mr * nv }, () => f.local(V128));
  const bv = Array.from({ length: nv }, () => f.local(V128));
  const av = f.local(V128);
  // min(x, y) of two emitted i32 expressions via select.
  const min = (x: () => void, y: () => void) => {
    x();
    y();
    x();
    y();
    f.lt().select();
  };
  // Unit -> strip range [s0, s1) x panel range [p0, p1).
  f.get(U).get(p.unitsAcross).divu().get(p.stripsPerUnit).mul().set(s0);
  min(() => f.get(s0).get(p.stripsPerUnit).add(), () => f.get(p.strips));
  f.set(s1);
  f.get(U).get(p.unitsAcross).remu().get(p.panelsPerUnit).mul().set(p0);
  min(() => f.get(p0).get(p.panelsPerUnit).add(), () => f.get(p.panels));
  f.set(p1);
  f.loop(k0, () => f.i32(0), () => f.get(p.k), 0, () => {
    min(() => f.get(p.kc), () => f.get(p.k).get(k0).sub());
    f.set(kc);
    f.loop(s, () => f.get(s0), () => f.get(s1), 1, () => {
      f.loop(q, () => f.get(p0), () => f.get(p1), 1, () => {
        // C tile address: c + s * MR * ldc + q * NR * 4.
        f.get(p.c).get(s).i32(mr).mul().get(p.ldcBytes).mul().add();
        f.get(q).i32(nr * 4).mul().add().set(cp);
        // Zero on the first K block unless accumulating, else load C.
        f.get(k0).eqz().get(p.accumulate).eqz().op(0x71); // i32.and
        f.ifElse(
          () => {
            for (const v of acc) f.vconst(0).set(v);
          },
          () => {
            for (let r = 0; r < mr; r++) {
              for (let h = 0; h < nv; h++) {
                f.get(cp).get(p.ldcBytes).i32(r).mul().add().load(h * 16);
                f.set(acc[r * nv + h]);
              }
            }
          },
        );
        // a = ap + s * aStrip + k0 * aStep, likewise b for panel q.
        f.get(p.ap).get(s).get(p.aStrip).mul().add();
        f.get(k0).get(p.aStep).mul().add().set(a);
        f.get(p.bp).get(q).get(p.bPanel).mul().add();
        f.get(k0).get(p.bStep).mul().add().set(b);
        f.get(a).get(kc).get(p.aStep).mul().add().set(aEnd);
        f.loop(a, () => f.get(a), () => f.get(aEnd), 0, () => {
          for (let h = 0; h < nv; h++) f.get(b).load(h * 16).set(bv[h]);
          for (let r = 0; r < mr; r++) {
            f.get(a).loadSplat(r * 4).set(av);
            for (let h = 0; h < nv; h++) {
              const c = acc[r * nv + h];
              f.get(av).get(bv[h]);
              if (fma) f.get(c).vmadd();
              else f.vmul().get(c).vadd();
              f.set(c);
            }
          }
          f.incBy(b, p.bStep);
          f.incBy(a, p.aStep);
        });
        for (let r = 0; r < mr; r++) {
          for (let h = 0; h < nv; h++) {
            f.get(cp).get(p.ldcBytes).i32(r).mul().add();
            f.get(acc[r * nv + h]).store(h * 16);
          }
        }
      });
    });
    f.incBy(k0, kc);
  });
  return { name: "gemm", params: [I32, I32], results: [], code: f };
}
