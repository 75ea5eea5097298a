/**
 * Data-movement kernels that feed and drain the GEMM, emitted with the
 * builder: im2col (patch rows, one unit per row), col2im (a scatter-add
 * owned per image channel, so units never write the same float and the sum
 * order is fixed) and row-block packing (one unit per block of MR or NR
 * rows). All addresses are bytes; a per-patch-row table written by the
 * caller holds (channel offset, ih0, iw0, lo, hi), where output columns
 * [lo, hi) are the ones whose tap lands inside the image.
 *
 * @module
 */

import { Code, type FuncDef, I32, V128 } from "./builder.ts";

/** Parameter block of `im2col`. */
export const IM2COL_ARGS = [
  "x",
  "dst",
  "ldBytes",
  "nc",
  "imgFloats",
  "hx",
  "wx",
  "hy",
  "wy",
  "sh",
  "sw",
  "table",
] as const;

/** Parameter block of `col2im`. */
export const COL2IM_ARGS = [
  "col",
  "ldBytes",
  "out",
  "cx",
  "hx",
  "wx",
  "hy",
  "wy",
  "sh",
  "sw",
  "taps",
  "table",
  "rows3",
] as const;

/** Parameter block of `transpose`. */
export const TRANSPOSE_ARGS = [
  "src",
  "ldBytes",
  "dst",
  "rows",
  "cols",
  "groups",
] as const;

/** Parameter block of `packRows`. */
export const PACK_ARGS = [
  "src",
  "ldBytes",
  "rows",
  "cols",
  "dst",
  "h",
] as const;

/** Reads the i32 parameter block at local ARGS into named locals. */
export function params<N extends string>(
  f: Code,
  names: readonly N[],
): Record<N, number> {
  return Object.fromEntries(names.map((name, i) => {
    const l = f.local(I32);
    f.get(1).loadI32(i * 4).set(l);
    return [name, l];
  })) as Record<N, number>;
}

/** Locals from the table row of patch row `r` (5 i32 per row). */
function tableRow(f: Code, table: number, r: () => void) {
  const [chan, ih0, iw0, lo, hi] = [0, 1, 2, 3, 4].map((i) => {
    const l = f.local(I32);
    f.get(table);
    r();
    f.i32(20).mul().add().loadI32(i * 4).set(l);
    return l;
  });
  return { chan, ih0, iw0, lo, hi };
}

/**
 * im2col: unit r writes patch row r for every image of the chunk. Runs are
 * copied and zeroed with v128 loads and stores plus a scalar tail: the
 * rows are short (tens of floats), where memory.copy and memory.fill cost
 * a call each (measured: this im2col takes about half the time).
 */
export function im2colKernel(): FuncDef {
  const f = new Code(2);
  const p = params(f, IM2COL_ARGS);
  const t = tableRow(f, p.table, () => f.get(0));
  const [n, oh, ih, o, xb, src, ow] = Array.from(
    { length: 7 },
    () => f.local(I32),
  );
  const rowBytes = f.local(I32);
  // dst[ow] = 0 for ow in [from, to), scalar (the pads are a float or two).
  const zeros = (from: () => void, to: () => void) =>
    f.loop(ow, from, to, 1, () => {
      f.get(o).get(ow).i32(4).mul().add().f32(0).storeF32();
    });
  f.get(p.wy).i32(4).mul().set(rowBytes);
  f.get(p.dst).get(0).get(p.ldBytes).mul().add().set(o);
  f.loop(n, () => f.i32(0), () => f.get(p.nc), 1, () => {
    f.get(p.x).get(n).get(p.imgFloats).mul().get(t.chan).add().i32(4).mul();
    f.add().set(xb);
    f.loop(oh, () => f.i32(0), () => f.get(p.hy), 1, () => {
      f.get(oh).get(p.sh).mul().get(t.ih0).add().tee(ih);
      f.get(p.hx).geu(); // ih < 0 or ih >= hx (unsigned)
      f.ifElse(
        () => {
          f.loop(ow, () => f.i32(0), () => f.get(p.wy).i32(3).sub(), 4, () => {
            f.get(o).get(ow).i32(4).mul().add().vconst(0).store();
          });
          zeros(() => f.get(ow), () => f.get(p.wy));
        },
        () => {
          zeros(() => f.i32(0), () => f.get(t.lo));
          // src = xb + (ih * wx + iw0) * 4
          f.get(xb).get(ih).get(p.wx).mul().get(t.iw0).add().i32(4).mul();
          f.add().set(src);
          f.get(p.sw).i32(1).eq();
          f.ifElse(
            () => {
              const at = (base: number) =>
                f.get(base).get(ow).i32(4).mul().add();
              f.loop(
                ow,
                () => f.get(t.lo),
                () => f.get(t.hi).i32(3).sub(),
                4,
                () => {
                  at(o);
                  at(src).load();
                  f.store();
                },
              );
              f.loop(ow, () => f.get(ow), () => f.get(t.hi), 1, () => {
                at(o);
                at(src).loadF32();
                f.storeF32();
              });
            },
            () => {
              f.loop(ow, () => f.get(t.lo), () => f.get(t.hi), 1, () => {
                f.get(o).get(ow).i32(4).mul().add();
                f.get(src).get(ow).get(p.sw).mul().i32(4).mul().add();
                f.loadF32().storeF32();
              });
            },
          );
          zeros(() => f.get(t.hi), () => f.get(p.wy));
        },
      );
      f.incBy(o, rowBytes);
    });
  });
  return { name: "im2col", params: [I32, I32], results: [], code: f };
}

/**
 * col2im: unit u = (image, channel) adds the patch rows of that channel
 * (taps = kh * kw of them) onto its plane of the zeroed output.
 */
export function col2imKernel(): FuncDef {
  const f = new Code(2);
  const p = params(f, COL2IM_ARGS);
  const [n, c, ob, rr, r, sb, oh, ih, d, s, ow, end4] = Array.from(
    { length: 12 },
    () => f.local(I32),
  );
  f.get(0).get(p.cx).divu().set(n);
  f.get(0).get(p.cx).remu().set(c);
  f.get(p.out).get(0).get(p.hx).mul().get(p.wx).mul().i32(4).mul().add();
  f.set(ob);
  f.get(p.rows3).ifElse(() => rows3(f, p, n, c, ob), () => {
    f.loop(rr, () => f.i32(0), () => f.get(p.taps), 1, () => {
      f.get(c).get(p.taps).mul().get(rr).add().set(r);
      const t = tableRow(f, p.table, () => f.get(r));
      // Source row: col + r * ld + n * hy * wy * 4.
      f.get(p.col).get(r).get(p.ldBytes).mul().add();
      f.get(n).get(p.hy).mul().get(p.wy).mul().i32(4).mul().add().set(sb);
      f.loop(oh, () => f.i32(0), () => f.get(p.hy), 1, () => {
        f.get(oh).get(p.sh).mul().get(t.ih0).add().tee(ih);
        f.get(p.hx).geu().eqz();
        f.ifElse(() => {
          f.get(ob).get(ih).get(p.wx).mul().get(t.iw0).add().i32(4).mul().add();
          f.set(d);
          f.get(sb).get(oh).get(p.wy).mul().i32(4).mul().add().set(s);
          f.get(t.lo).set(ow);
          f.get(p.sw).i32(1).eq();
          f.ifElse(() => {
            // Four at a time while a whole vector fits, then the tail.
            f.get(t.hi).i32(3).sub().set(end4);
            f.loop(ow, () => f.get(ow), () => f.get(end4), 4, () => {
              f.get(d).get(ow).i32(4).mul().add();
              f.get(d).get(ow).i32(4).mul().add().load();
              f.get(s).get(ow).i32(4).mul().add().load();
              f.vadd().store();
            });
          });
          f.loop(ow, () => f.get(ow), () => f.get(t.hi), 1, () => {
            f.get(d).get(ow).get(p.sw).mul().i32(4).mul().add();
            f.get(d).get(ow).get(p.sw).mul().i32(4).mul().add().loadF32();
            f.get(s).get(ow).i32(4).mul().add().loadF32();
            f.fadd().storeF32();
          });
        });
      });
    });
  });
  return { name: "col2im", params: [I32, I32], results: [], code: f };
}

/**
 * col2im for kernels three taps wide at stride and dilation 1 (rows3):
 * the three taps of a kernel row land on the same output row shifted by
 * one, so each output vector is loaded and stored once for all three
 * (summed in tap order, as the general path does) instead of three times.
 */
function rows3(
  f: Code,
  p: Record<(typeof COL2IM_ARGS)[number], number>,
  n: number,
  c: number,
  ob: number,
): void {
  const L = () => f.local(I32);
  const [i, oh, ih, d, iw, cLo, cHi, e] = Array.from({ length: 8 }, L);
  const sb = [L(), L(), L()];
  const sj = [L(), L(), L()];
  const a = [L(), L(), L()];
  const b = [L(), L(), L()];
  // Pushes min or max of two locals.
  const pick = (x: number, y: number, less: boolean) => {
    f.get(x).get(y).get(x).get(y).lt();
    if (!less) f.eqz();
    f.select();
  };
  f.loop(i, () => f.i32(0), () => f.get(p.taps).i32(3).divu(), 1, () => {
    const t = [0, 1, 2].map((j) => {
      const row = tableRow(
        f,
        p.table,
        () => f.get(c).get(p.taps).mul().get(i).i32(3).mul().add().i32(j).add(),
      );
      // Source row of tap j: col + r * ld + n * hy * wy * 4.
      f.get(c).get(p.taps).mul().get(i).i32(3).mul().add().i32(j).add();
      f.get(p.ldBytes).mul().get(p.col).add();
      f.get(n).get(p.hy).mul().get(p.wy).mul().i32(4).mul().add().set(sb[j]);
      // Its output columns [a, b) = [lo, hi) + iw0.
      f.get(row.lo).get(row.iw0).add().set(a[j]);
      f.get(row.hi).get(row.iw0).add().set(b[j]);
      return row;
    });
    // The columns every tap reaches: [cLo, cHi), cHi >= cLo.
    pick(a[0], a[1], false);
    f.set(cLo);
    pick(cLo, a[2], false);
    f.set(cLo);
    pick(b[0], b[1], true);
    f.set(cHi);
    pick(cHi, b[2], true);
    f.set(cHi);
    pick(cHi, cLo, false);
    f.set(cHi);
    f.loop(oh, () => f.i32(0), () => f.get(p.hy), 1, () => {
      f.get(oh).get(p.sh).mul().get(t[0].ih0).add().tee(ih);
      f.get(p.hx).geu().eqz();
      f.ifElse(() => {
        f.get(ob).get(ih).get(p.wx).mul().i32(4).mul().add().set(d);
        // Tap j's value for output column iw sits at sj + iw * 4.
        for (let j = 0; j < 3; j++) {
          f.get(sb[j]).get(oh).get(p.wy).mul().get(t[j].iw0).sub();
          f.i32(4).mul().add().set(sj[j]);
        }
        const at = (base: number) => f.get(base).get(iw).i32(4).mul().add();
        f.get(cHi).i32(3).sub().set(e);
        f.loop(iw, () => f.get(cLo), () => f.get(e), 4, () => {
          at(d);
          at(d).load();
          for (let j = 0; j < 3; j++) at(sj[j]).load().vadd();
          f.store();
        });
        f.loop(iw, () => f.get(iw), () => f.get(cHi), 1, () => {
          at(d);
          at(d).loadF32();
          for (let j = 0; j < 3; j++) at(sj[j]).loadF32().fadd();
          f.storeF32();
        });
        // The edges, tap by tap: [a, min(cLo, b)) and [max(cHi, a), b).
        for (let j = 0; j < 3; j++) {
          const add = () => {
            at(d);
            at(d).loadF32();
            at(sj[j]).loadF32().fadd();
            f.storeF32();
          };
          pick(cLo, b[j], true);
          f.set(e);
          f.loop(iw, () => f.get(a[j]), () => f.get(e), 1, add);
          pick(cHi, a[j], false);
          f.set(iw);
          f.loop(iw, () => f.get(iw), () => f.get(b[j]), 1, add);
        }
      });
    });
  });
}

/** 32-bit lane picks of the 4 x 4 transpose (unpack low/high 32 and 64). */
const LO32 = [0, 4, 1, 5];
const HI32 = [2, 6, 3, 7];
const LO64 = [0, 1, 4, 5];
const HI64 = [2, 3, 6, 7];

/**
 * packRows: unit b packs rows [b h, b h + h) of a row-major matrix into
 * one block of `h`-wide columns (dst[(b cols + q) h + l] = M[b h + l, q]),
 * zero past the last row: A strips (h = MR) and B panels (h = NR) of a
 * transposed operand. For a full block with h = 6 or 8 the rows are read
 * four columns at a time and transposed in registers (4 x 4 shuffles, a
 * 64-bit lane store for rows 4-5 of h = 6): the scalar copy it replaces
 * took a quarter of the weight gradient's time.
 */
export function packRowsKernel(): FuncDef {
  const f = new Code(2);
  const p = params(f, PACK_ARGS);
  const [l, row, d, s, q, step] = Array.from(
    { length: 6 },
    () => f.local(I32),
  );
  const rowPtr = Array.from({ length: 8 }, () => f.local(I32));
  const v = Array.from({ length: 8 }, () => f.local(V128));
  const [t0, t1, t2, t3] = Array.from({ length: 4 }, () => f.local(V128));
  // Transposes columns [q, q + 4) of a full block of H rows.
  const fast = (H: number) => {
    for (let r = 0; r < H; r++) {
      f.get(p.src).get(0).i32(H).mul().i32(r).add().get(p.ldBytes).mul();
      f.add().set(rowPtr[r]);
    }
    // d = dst + b * cols * H * 4
    f.get(p.dst).get(0).get(p.cols).mul().i32(H * 4).mul().add().set(d);
    f.loop(q, () => f.i32(0), () => f.get(p.cols).i32(3).sub(), 4, () => {
      for (let r = 0; r < H; r++) {
        f.get(rowPtr[r]).get(q).i32(4).mul().add().load().set(v[r]);
      }
      // dq = d + q * H * 4; column q + c, rows g..g+3 at (c H + g) * 4.
      f.get(d).get(q).i32(H * 4).mul().add().set(s);
      for (let g = 0; g + 4 <= H; g += 4) {
        f.get(v[g]).get(v[g + 1]).shuffle32(LO32).set(t0);
        f.get(v[g]).get(v[g + 1]).shuffle32(HI32).set(t1);
        f.get(v[g + 2]).get(v[g + 3]).shuffle32(LO32).set(t2);
        f.get(v[g + 2]).get(v[g + 3]).shuffle32(HI32).set(t3);
        const out = (c: number, x: number, y: number, lanes: number[]) =>
          f.get(s).get(x).get(y).shuffle32(lanes).store((c * H + g) * 4);
        out(0, t0, t2, LO64);
        out(1, t0, t2, HI64);
        out(2, t1, t3, LO64);
        out(3, t1, t3, HI64);
      }
      if (H % 4 === 2) {
        const g = H - 2;
        f.get(v[g]).get(v[g + 1]).shuffle32(LO32).set(t0);
        f.get(v[g]).get(v[g + 1]).shuffle32(HI32).set(t1);
        f.get(s).get(t0).storeLane64(0, g * 4);
        f.get(s).get(t0).storeLane64(1, (H + g) * 4);
        f.get(s).get(t1).storeLane64(0, (2 * H + g) * 4);
        f.get(s).get(t1).storeLane64(1, (3 * H + g) * 4);
      }
    });
    // The last columns one at a time.
    f.loop(q, () => f.get(q), () => f.get(p.cols), 1, () => {
      for (let r = 0; r < H; r++) {
        f.get(d).get(q).i32(H * 4).mul().add();
        f.get(rowPtr[r]).get(q).i32(4).mul().add().loadF32();
        f.storeF32(r * 4);
      }
    });
  };
  const full = () => f.get(0).i32(1).add().get(p.h).mul().get(p.rows).le();
  full().get(p.h).i32(8).eq().and();
  f.ifElse(() => fast(8), () => {
    full().get(p.h).i32(6).eq().and();
    f.ifElse(() => fast(6), () => {
      f.get(p.h).i32(4).mul().set(step);
      f.loop(l, () => f.i32(0), () => f.get(p.h), 1, () => {
        f.get(0).get(p.h).mul().get(l).add().set(row);
        // d = dst + ((b * cols) * h + l) * 4
        f.get(p.dst).get(0).get(p.cols).mul().get(p.h).mul().get(l).add();
        f.i32(4).mul().add().set(d);
        f.get(row).get(p.rows).lt();
        f.ifElse(
          () => {
            f.get(p.src).get(row).get(p.ldBytes).mul().add().set(s);
            f.loop(q, () => f.i32(0), () => f.get(p.cols), 1, () => {
              f.get(d).get(s).loadF32().storeF32();
              f.incBy(d, step).inc(s, 4);
            });
          },
          () => {
            f.loop(q, () => f.i32(0), () => f.get(p.cols), 1, () => {
              f.get(d).f32(0).storeF32();
              f.incBy(d, step);
            });
          },
        );
      });
    });
  });
  return { name: "packRows", params: [I32, I32], results: [], code: f };
}

/**
 * transpose: blocks of `rows` rows of a row-major matrix (row stride
 * ldBytes, first `cols` columns), block b at src + b rows ldBytes, each
 * written transposed as a [cols, rows] matrix at dst + b rows cols * 4.
 * Unit u = (block u / groups, columns 4 (u % groups) .. + 4): conv2d's
 * Cᵀ [(image, pixel), Co] back to [image, Co, pixel]. Four columns at a
 * time through 4 x 4 register transposes, the tails one float at a time.
 */
export function transposeKernel(): FuncDef {
  const f = new Code(2);
  const p = params(f, TRANSPOSE_ARGS);
  const [s, d, c0, q, i] = Array.from({ length: 5 }, () => f.local(I32));
  const dp = Array.from({ length: 4 }, () => f.local(I32));
  const v = Array.from({ length: 4 }, () => f.local(V128));
  const [t0, t1, t2, t3] = Array.from({ length: 4 }, () => f.local(V128));
  f.get(0).get(p.groups).remu().i32(4).mul().set(c0);
  // s = src + (u / groups) * rows * ldBytes + c0 * 4
  f.get(p.src).get(0).get(p.groups).divu().get(p.rows).mul().get(p.ldBytes);
  f.mul().add().get(c0).i32(4).mul().add().set(s);
  // d = dst + ((u / groups) * cols * rows + c0 * rows) * 4
  f.get(0).get(p.groups).divu().get(p.cols).mul().get(c0).add();
  f.get(p.rows).mul().i32(4).mul().get(p.dst).add().set(d);
  f.get(c0).i32(4).add().get(p.cols).le();
  f.ifElse(
    () => {
      for (let r = 0; r < 4; r++) {
        f.get(d).get(p.rows).i32(r * 4).mul().add().set(dp[r]);
      }
      f.loop(q, () => f.i32(0), () => f.get(p.rows).i32(3).sub(), 4, () => {
        for (let r = 0; r < 4; r++) {
          f.get(s).get(q).i32(r).add().get(p.ldBytes).mul().add().load();
          f.set(v[r]);
        }
        f.get(v[0]).get(v[1]).shuffle32(LO32).set(t0);
        f.get(v[0]).get(v[1]).shuffle32(HI32).set(t1);
        f.get(v[2]).get(v[3]).shuffle32(LO32).set(t2);
        f.get(v[2]).get(v[3]).shuffle32(HI32).set(t3);
        const out = (r: number, x: number, y: number, lanes: number[]) => {
          f.get(dp[r]).get(q).i32(4).mul().add();
          f.get(x).get(y).shuffle32(lanes).store();
        };
        out(0, t0, t2, LO64);
        out(1, t0, t2, HI64);
        out(2, t1, t3, LO64);
        out(3, t1, t3, HI64);
      });
      f.loop(q, () => f.get(q), () => f.get(p.rows), 1, () => {
        for (let r = 0; r < 4; r++) {
          f.get(dp[r]).get(q).i32(4).mul().add();
          f.get(s).get(q).get(p.ldBytes).mul().add().loadF32(r * 4);
          f.storeF32();
        }
      });
    },
    () => {
      // The last 1-3 columns.
      f.loop(i, () => f.get(c0), () => f.get(p.cols), 1, () => {
        f.loop(q, () => f.i32(0), () => f.get(p.rows), 1, () => {
          f.get(d).get(i).get(c0).sub().get(p.rows).mul().get(q).add();
          f.i32(4).mul().add();
          f.get(s).get(q).get(p.ldBytes).mul().add();
          f.get(i).get(c0).sub().i32(4).mul().add().loadF32();
          f.storeF32();
        });
      });
    },
  );
  return { name: "transpose", params: [I32, I32], results: [], code: f };
}
