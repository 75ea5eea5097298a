/**
 * Square Attack, L∞ (Andriushchenko et al. 2020), following AutoAttack's
 * `square.py`: gradient-free random search. Start from vertical stripes of
 * ±ε; each query adds a square window of ±2ε (one sign per channel, window
 * and signs shared by the batch) to the best point, projects onto the
 * ε-ball and the domain, and keeps it per example where the margin loss
 * fell or the example became misclassified. The window's area fraction p
 * starts at `pInit` and halves on AutoAttack's query schedule. Each example
 * stops at its first success.
 *
 * Only forward passes, without recording, are made; every query is counted
 * per example and the total never exceeds `nQueries` (the initial point
 * counts as one). Acceptance runs on the device; every `checkEvery` queries
 * one readback finds the examples still running, stops when none are, and
 * shrinks the batch to them.
 *
 * @module
 */

import { ones, tensor, zerosLike } from "../tensor/creation.ts";
import { keep, readAll, tidy } from "../tensor/engine.ts";
import { where } from "../tensor/functional.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  checkCount,
  checkPositive,
  forwardLogits,
  perExampleShape,
  projectLinf,
  scatterRows,
  selectRows,
  type Stream,
} from "./_util.ts";
import { AttackBase, type Crafted } from "./base.ts";
import { ceLoss, labelLogit, maxOtherLogit } from "./losses.ts";
import type { CommonOptions, PredictFn, Target } from "./types.ts";

/** Options of `Square` (AutoAttack's names, camelCase). */
export interface SquareOptions extends CommonOptions {
  /** L∞ radius (default 0.3). */
  eps?: number;
  /** Query budget per example and restart, initial point included (default 5000). */
  nQueries?: number;
  /** Initial fraction of the image a window covers (default 0.8). */
  pInit?: number;
  /** Restarts on the still-robust examples (default 1). */
  nRestarts?: number;
  /** Loss accepted on: "margin" (default) or "ce" (untargeted only). */
  loss?: "margin" | "ce";
  /**
   * Stretch the p schedule to `nQueries` as if it were 10000 (default
   * false, as AutoAttack's standard run).
   */
  rescaleSchedule?: boolean;
  /** Queries between checks for finished examples (default 100). */
  checkEvery?: number;
}

/**
 * AutoAttack's schedule of the window fraction.
 * @example
 * ```ts
 * import { squarePSelection } from "@cnnf/webgpu/attacks";
 * import assert from "node:assert/strict";
 * // The fraction of pixels Square changes shrinks as iterations go on.
 * assert.ok(squarePSelection(5000, 0.8, 10000, true) < squarePSelection(5, 0.8, 10000, true));
 * ```
 */
export function squarePSelection(
  it: number,
  pInit: number,
  nQueries: number,
  rescale: boolean,
): number {
  const i = rescale ? Math.floor((it / nQueries) * 10000) : it;
  const steps: [number, number][] = [
    [8000, 512],
    [6000, 256],
    [4000, 128],
    [2000, 64],
    [1000, 32],
    [500, 16],
    [200, 8],
    [50, 4],
    [10, 2],
  ];
  for (const [at, div] of steps) if (i > at) return pInit / div;
  return pInit;
}

interface Working {
  idx: number[];
  x: Tensor;
  y: Tensor;
  xBest: Tensor;
  marginMin: Tensor;
  lossMin: Tensor;
  queries: Tensor;
}

/**
 * Square Attack (L∞), gradient-free.
 * @example
 * ```ts
 * import { Square } from "@cnnf/webgpu/attacks";
 * import { init, rand, type Tensor, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu", seed: 0 });
 * const w = rand([16, 3]).sub(0.5);
 * const predict = (x: Tensor) => x.reshape([x.shape[0], 16]).matmul(w);
 * const sq = new Square(predict, { eps: 0.3, nQueries: 50 });
 * const x = rand([2, 1, 4, 4]);
 * const r = await sq.perturb(x, tensor([0, 1], [2], { dtype: "int32" }));
 * console.log(r.success, r.queries);
 * ```
 */
export class Square extends AttackBase {
  /** Report name. */
  readonly name: string = "Square";
  /** Radius. */
  readonly eps: number;
  /** Query budget per example and restart. */
  readonly nQueries: number;
  /** Initial window fraction. */
  readonly pInit: number;
  /** Restarts. */
  readonly nRestarts: number;
  /** Accepted loss. */
  readonly loss: "margin" | "ce";
  /** Whether the p schedule is stretched. */
  readonly rescaleSchedule: boolean;
  /** Queries between readbacks. */
  readonly checkEvery: number;

  /**
   * Creates the attack.
   * @param target A target or a prediction function (only forward passes).
   * @param options eps (0.3), nQueries (5000), pInit (0.8), nRestarts (1),
   *   loss ("margin"), rescaleSchedule (false), checkEvery (100), clip
   *   range, targeted, seed (0).
   */
  constructor(target: Target | PredictFn, options: SquareOptions = {}) {
    super(target, { seed: 0, ...options });
    this.eps = options.eps ?? 0.3;
    this.nQueries = options.nQueries ?? 5000;
    this.pInit = options.pInit ?? 0.8;
    this.nRestarts = options.nRestarts ?? 1;
    this.loss = options.loss ?? "margin";
    this.rescaleSchedule = options.rescaleSchedule ?? false;
    this.checkEvery = options.checkEvery ?? 100;
    checkPositive("Square", "eps", this.eps, true);
    checkCount("Square", "nQueries", this.nQueries);
    checkPositive("Square", "pInit", this.pInit);
    checkCount("Square", "nRestarts", this.nRestarts);
    checkCount("Square", "checkEvery", this.checkEvery);
    if (this.loss !== "margin" && this.loss !== "ce") {
      throw new Error(
        `Square: loss must be "margin" or "ce", got ${this.loss}`,
      );
    }
  }

  /** Margin (≤ 0 once successful) and the loss minimised, both [N]. */
  #marginAndLoss(x: Tensor, y: Tensor): { margin: Tensor; loss: Tensor } {
    return tidy(() => {
      const z = forwardLogits(this.target, x);
      const own = labelLogit(z, y);
      const other = maxOtherLogit(z, y);
      if (this.targeted) {
        return { margin: other.sub(own), loss: ceLoss(z, y) };
      }
      const margin = own.sub(other);
      return {
        margin,
        loss: this.loss === "ce" ? ceLoss(z, y).neg() : margin,
      };
    });
  }

  /** 1 where the example is not a success, float32 [N]. */
  #robust(x: Tensor, y: Tensor): Tensor {
    return tidy(() => {
      const pred = forwardLogits(this.target, x).argmax(1);
      return this.targeted ? pred.ne(y) : pred.eq(y);
    });
  }

  /** One run; `start` marks the rows to attack (others spend nothing). */
  async #run(
    x: Tensor,
    y: Tensor,
    start: Tensor,
    rng: Stream,
  ): Promise<{ xBest: Tensor; queries: Tensor }> {
    const [n, c, h, w] = x.shape;
    const eps = this.eps;
    const nFeatures = x.size / n;
    const init = tidy(() => {
      const stripes = rng.signs([n, c, 1, w], x.backend).mul(eps);
      const xBest = x.add(stripes).clamp(this.clipMin, this.clipMax);
      const { margin, loss } = this.#marginAndLoss(xBest, y);
      return {
        xBest,
        marginMin: where(start, margin, -1),
        lossMin: loss,
        queries: start.clone(),
      };
    });
    let ws: Working = { idx: [...Array(n).keys()], x, y, ...init };
    // Full-size results of rows dropped from the working set.
    let doneX = tidy(() => x.clone());
    let doneQ = tidy(() => zerosLike(start));
    const owned = (t: Tensor) => t !== x && t !== y;
    const free = (s: Working, all: boolean) => {
      for (const t of [s.xBest, s.marginMin, s.lossMin, s.queries]) t.dispose();
      if (all) { for (const t of [s.x, s.y]) if (owned(t)) t.dispose(); }
    };
    try {
      for (let i = 0; i < this.nQueries - 1; i++) {
        if (i % this.checkEvery === 0) {
          const [m] = await readAll([ws.marginMin]);
          const keepRows: number[] = [];
          m.forEach((v, j) => v > 0 && keepRows.push(j));
          if (keepRows.length < ws.idx.length) {
            const next = this.#shrink(ws, keepRows, doneX, doneQ);
            doneX.dispose();
            doneQ.dispose();
            ({ doneX, doneQ } = next);
            free(ws, true);
            if (!next.ws) {
              ws = { ...ws, idx: [] };
              break;
            }
            ws = next.ws;
          }
        }
        ws = this.#step(ws, i, rng, h, w, c, nFeatures);
      }
      if (ws.idx.length === 0) return { xBest: doneX, queries: doneQ };
      const out = tidy(() => ({
        xBest: scatterRows(doneX, ws.xBest, ws.idx),
        queries: scatterRows(doneQ, ws.queries, ws.idx),
      }));
      doneX.dispose();
      doneQ.dispose();
      free(ws, true);
      return out;
    } catch (e) {
      doneX.dispose();
      doneQ.dispose();
      if (ws.idx.length) free(ws, true);
      throw e;
    }
  }

  /** Moves finished rows to the full-size results; keeps `rows` working. */
  #shrink(
    ws: Working,
    rows: number[],
    doneX: Tensor,
    doneQ: Tensor,
  ): { ws: Working | null; doneX: Tensor; doneQ: Tensor } {
    return tidy(() => {
      const dX = keep(scatterRows(doneX, ws.xBest, ws.idx));
      const dQ = keep(scatterRows(doneQ, ws.queries, ws.idx));
      if (rows.length === 0) return { ws: null, doneX: dX, doneQ: dQ };
      const pick = (t: Tensor) => keep(selectRows(t, rows));
      return {
        ws: {
          idx: rows.map((j) => ws.idx[j]),
          x: pick(ws.x),
          y: pick(ws.y),
          xBest: pick(ws.xBest),
          marginMin: pick(ws.marginMin),
          lossMin: pick(ws.lossMin),
          queries: pick(ws.queries),
        },
        doneX: dX,
        doneQ: dQ,
      };
    });
  }

  /** One query: a random window on every working example. */
  #step(
    ws: Working,
    i: number,
    rng: Stream,
    h: number,
    w: number,
    c: number,
    nFeatures: number,
  ): Working {
    const p = squarePSelection(
      i,
      this.pInit,
      this.nQueries,
      this.rescaleSchedule,
    );
    const s = Math.min(
      Math.max(Math.round(Math.sqrt((p * nFeatures) / c)), 1),
      h,
      w,
    );
    const vh = rng.hostInt(0, h - s);
    const vw = rng.hostInt(0, w - s);
    const window = new Float32Array(c * h * w);
    for (let ch = 0; ch < c; ch++) {
      const v = 2 * this.eps * (rng.hostUniform() < 0.5 ? -1 : 1);
      for (let r = vh; r < vh + s; r++) {
        window.fill(v, ch * h * w + r * w + vw, ch * h * w + r * w + vw + s);
      }
    }
    const next = tidy(() => {
      const pe = perExampleShape(ws.x);
      const delta = tensor(window, [1, c, h, w], { backend: ws.x.backend });
      const xNew = projectLinf(
        ws.xBest.add(delta),
        ws.x,
        this.eps,
        this.clipMin,
        this.clipMax,
      );
      const { margin, loss } = this.#marginAndLoss(xNew, ws.y);
      const active = ws.marginMin.gt(0);
      const better = loss.lt(ws.lossMin).mul(active);
      const accept = better.maximum(margin.le(0)).mul(active);
      return {
        idx: ws.idx,
        x: ws.x,
        y: ws.y,
        lossMin: where(better, loss, ws.lossMin),
        marginMin: where(accept, margin, ws.marginMin),
        xBest: where(accept.reshape(pe), xNew, ws.xBest),
        queries: ws.queries.add(active),
      };
    });
    for (const t of [ws.xBest, ws.marginMin, ws.lossMin, ws.queries]) {
      t.dispose();
    }
    return next;
  }

  /** nRestarts runs, each on the examples still robust. */
  protected async craft(x: Tensor, y: Tensor, rng: Stream): Promise<Crafted> {
    if (x.rank !== 4) {
      throw new Error(
        `Square: inputs must be images [N, C, H, W], got rank ${x.rank}`,
      );
    }
    const pe = perExampleShape(x);
    let robust = this.#robust(x, y);
    let adv = tidy(() => x.clone());
    let queries = tidy(() => zerosLike(robust));
    try {
      for (let r = 0; r < this.nRestarts; r++) {
        let rows: number[] | null = null;
        if (r > 0) {
          const [flags] = await readAll([robust]);
          rows = [];
          flags.forEach((v, i) => v && rows!.push(i));
          if (rows.length === 0) break;
        }
        const xs = rows ? selectRows(x, rows) : x;
        const ys = rows ? selectRows(y, rows) : y;
        const start = rows
          ? ones([rows.length], { backend: x.backend })
          : robust;
        try {
          const run = await this.#run(xs, ys, start, rng);
          const next = tidy(() => {
            const still = this.#robust(run.xBest, ys);
            const full = (t: Tensor, base: Tensor) =>
              rows ? scatterRows(base, t, rows) : t;
            const stillFull = full(still, robust);
            const fooled = robust.mul(stillFull.neg().add(1));
            return {
              adv: where(fooled.reshape(pe), full(run.xBest, adv), adv),
              robust: robust.mul(stillFull),
              queries: queries.add(full(run.queries, zerosLike(queries))),
            };
          });
          run.xBest.dispose();
          run.queries.dispose();
          for (const t of [adv, robust, queries]) t.dispose();
          ({ adv, robust, queries } = next);
        } finally {
          if (rows) {
            xs.dispose();
            ys.dispose();
            start.dispose();
          }
        }
      }
    } finally {
      robust.dispose();
    }
    return { adv, queries };
  }
}
