/**
 * Learning-rate schedules (poly, cosine, step) that set an optimizer's `lr`
 * each time `step()` is called: once per batch or once per epoch, as the
 * caller chooses.
 *
 * @module
 */

import type { Optimizer } from "./optim.ts";

/** Schedule kinds. */
export type ScheduleKind = "poly" | "cosine" | "step" | "constant";

/** Options of `LRScheduler`. */
export interface ScheduleOptions {
  /** Kind of schedule. */
  kind: ScheduleKind;
  /** Total steps (poly, cosine). */
  totalSteps?: number;
  /** Exponent of poly (default 0.9, the CNN-F reference's). */
  power?: number;
  /** Floor of cosine (default 0). */
  minLr?: number;
  /** Steps between decays (step). */
  stepSize?: number;
  /** Decay factor (step, default 0.1). */
  gamma?: number;
}

/**
 * Drives an optimizer's learning rate from a step counter.
 * @example
 * ```ts
 * import { Linear, LRScheduler, optim } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const opt = new optim.SGD(new Linear(2, 2).parameters(), { lr: 0.1 });
 * const sched = new LRScheduler(opt, { kind: "cosine", totalSteps: 100 });
 * for (let i = 0; i < 50; i++) sched.step(); // after each opt.step()
 * assert.ok(Math.abs(opt.lr - 0.05) < 1e-9);
 * ```
 */
export class LRScheduler {
  /** Base learning rate. */
  readonly baseLr: number;
  /** Schedule settings. */
  readonly options: ScheduleOptions;
  /** Steps taken so far. */
  stepCount = 0;
  #opt: Optimizer;

  /**
   * Creates the schedule; the optimizer's current lr is the base.
   * @param opt The optimizer to drive.
   * @param options Schedule settings.
   */
  constructor(opt: Optimizer, options: ScheduleOptions) {
    const needsTotal = options.kind === "poly" || options.kind === "cosine";
    if (needsTotal && !(options.totalSteps! > 0)) {
      throw new Error(`LRScheduler: ${options.kind} needs totalSteps > 0`);
    }
    if (options.kind === "step" && !(options.stepSize! > 0)) {
      throw new Error("LRScheduler: step needs stepSize > 0");
    }
    this.#opt = opt;
    this.baseLr = opt.lr;
    this.options = options;
  }

  /** Learning rate after `t` steps. */
  lrAt(t: number): number {
    const o = this.options;
    const base = this.baseLr;
    switch (o.kind) {
      case "poly":
        return base * Math.max(0, 1 - t / o.totalSteps!) ** (o.power ?? 0.9);
      case "cosine": {
        const min = o.minLr ?? 0;
        const tt = Math.min(t, o.totalSteps!);
        return min +
          (base - min) * (1 + Math.cos(Math.PI * tt / o.totalSteps!)) / 2;
      }
      case "step":
        return base * (o.gamma ?? 0.1) ** Math.floor(t / o.stepSize!);
      default:
        return base;
    }
  }

  /** Advances one step and updates the optimizer's lr. */
  step(): void {
    this.stepCount++;
    this.#opt.lr = this.lrAt(this.stepCount);
  }

  /** Restores a step count (and the matching lr). */
  setStep(t: number): void {
    this.stepCount = t;
    this.#opt.lr = this.lrAt(t);
  }
}
