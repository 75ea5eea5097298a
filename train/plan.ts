/**
 * The plan of a whole run, so progress can tell what follows the current
 * phase: each model's training (epochs × steps) and each evaluation column
 * (examples), with a rough relative cost per unit. Costs count passes of
 * one image through one feed-forward network (a backward pass counts two),
 * so the whole-run ETA can be projected from the rate measured so far; the
 * measured rate corrects whatever the estimate gets wrong about the machine.
 *
 * @module
 */

import type { TrainConfig } from "./config.ts";

/** One phase of a run. */
export interface PlanPhase {
  /** Key progress events name (`train cnn`, `eval cnnf pgd-e2e`, ...). */
  key: string;
  /** Units in the phase (optimizer steps, or test examples). */
  units: number;
  /** Unit name. */
  unit: string;
  /** Relative cost of one unit (single-image feed-forward passes). */
  cost: number;
  /** Units already done before this invocation (a resumed run). */
  done: number;
}

/** Single-image passes of one forward of a model (feedback cycles cost two each). */
function forwardCost(cfg: TrainConfig, kind: string): number {
  return kind === "cnn" ? 1 : 1 + 2 * cfg.maxCycles;
}

/** Per-example cost of an evaluation column on a model of `kind`. */
export function columnCost(
  cfg: TrainConfig,
  kind: string,
  col: string,
): number {
  const f = forwardCost(cfg, kind);
  const grad = 3;
  const steps = Math.max(cfg.nbIter, 1);
  switch (col) {
    case "clean":
      return f;
    case "pgd-first":
      return steps * grad + f;
    case "pgd-e2e":
    case "pgd-e2e-avg":
      return steps * grad * f + f;
    case "spsa-first":
      return steps * cfg.spsaSamples * 2 + f;
    case "spsa-e2e":
      return steps * cfg.spsaSamples * 2 * f + f;
    case "transfer":
      return steps * grad + f;
    case "fgsm":
      return grad * f + f;
    case "apgd-ce":
    case "apgd-t":
      return Math.max(steps, 10) * grad * f + f;
    case "square":
      return 1000 * f;
    case "autoattack":
      return (200 * grad + 5000) * f;
    default:
      return f;
  }
}

/** Columns a model's row really runs (a plain CNN copies its e2e columns). */
export function rowColumns(cfg: TrainConfig, kind: string): string[] {
  return cfg.evalAttacks.filter((c) =>
    !(kind === "cnn" && ["pgd-e2e", "pgd-e2e-avg", "spsa-e2e"].includes(c)) &&
    !(c === "transfer" && (kind === "cnn" || !cfg.models.includes("cnn"))) &&
    !(c === "pgd-e2e-avg" && cfg.testRule !== "average")
  );
}

/**
 * The phases of `cli.ts train` with this configuration.
 * @param cfg The configuration.
 * @param counts Training and test examples after subsetting.
 * @param stepsDone Optimizer steps already in each model's checkpoint.
 * @example
 * ```ts
 * // Internal to the CLI (not exported), hence the relative import.
 * import { planRun } from "./plan.ts";
 * import { PRESETS } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const phases = planRun(PRESETS.quick, { train: 3200, test: 200 });
 * assert.equal(phases[0].key, "train cnn");
 * assert.equal(phases[0].units, 100);
 * ```
 */
export function planRun(
  cfg: TrainConfig,
  counts: { train: number; test: number },
  stepsDone: Record<string, number> = {},
): PlanPhase[] {
  const order = [...cfg.models].sort((a, b) =>
    a === "cnn" ? -1 : b === "cnn" ? 1 : 0
  );
  const perEpoch = Math.floor(counts.train / cfg.batchSize);
  const phases: PlanPhase[] = [];
  for (const kind of order) {
    const f = forwardCost(cfg, kind);
    // A step: forward and backward on a batch, PGD on the first pass when
    // adversarial, and its share of the epoch's clean test pass.
    const step = cfg.batchSize *
        (3 * f + (cfg.adversarial ? Math.max(cfg.nbIter, 1) * 3 + 3 * f : 0)) +
      (perEpoch ? counts.test * f / perEpoch : 0);
    phases.push({
      key: `train ${kind}`,
      units: cfg.epochs * perEpoch,
      unit: "step",
      cost: step,
      done: Math.min(stepsDone[kind] ?? 0, cfg.epochs * perEpoch),
    });
  }
  for (const kind of cfg.models) {
    for (const col of rowColumns(cfg, kind)) {
      const slow = col.startsWith("spsa") || col === "square" ||
        col === "autoattack";
      const n = slow && cfg.spsaLimit
        ? Math.min(cfg.spsaLimit, counts.test)
        : counts.test;
      phases.push({
        key: `eval ${kind} ${col}`,
        units: n,
        unit: "img",
        cost: columnCost(cfg, kind, col),
        done: 0,
      });
    }
  }
  return phases;
}

/** The plan in a few lines, for the start of a run. */
export function describePlan(phases: PlanPhase[], cfg: TrainConfig): string[] {
  const train = phases.filter((p) => p.key.startsWith("train "));
  const evals = phases.filter((p) => p.key.startsWith("eval "));
  const perEpoch = train.length ? train[0].units / cfg.epochs : 0;
  const lines = [
    `plan: ${phases.length} phases; training ${
      train.map((p) =>
        `${p.key.slice(6)} ${cfg.epochs} epoch(s) × ${perEpoch} steps${
          p.done ? ` (${p.done} done)` : ""
        }`
      ).join(", then ")
    }`,
  ];
  const byModel = new Map<string, string[]>();
  for (const p of evals) {
    const [, kind, col] = p.key.split(" ");
    byModel.set(kind, [...(byModel.get(kind) ?? []), `${col} ×${p.units}`]);
  }
  for (const [kind, cols] of byModel) {
    lines.push(`plan: evaluate ${kind}: ${cols.join(", ")}`);
  }
  return lines;
}

/**
 * Tracks progress through a plan and projects the whole run's remaining
 * time from the work rate measured in this invocation.
 */
export class RunClock {
  #phases: PlanPhase[];
  #done = new Map<string, number>();
  #t0: number | null = null;
  #work0 = 0;
  #now: () => number;

  /**
   * Starts tracking a plan (phases' `done` count as finished work).
   * @param phases The plan.
   * @param now Clock in seconds (injectable for tests).
   */
  constructor(
    phases: PlanPhase[],
    now: () => number = () => performance.now() / 1000,
  ) {
    this.#phases = phases;
    this.#now = now;
    for (const p of phases) this.#done.set(p.key, p.done);
  }

  /** Marks the start of measured work (the first unit begins now). */
  start(): void {
    if (this.#t0 !== null) return;
    this.#t0 = this.#now();
    this.#work0 = this.work();
  }

  /** Records that `done` units of phase `key` are finished. */
  advance(key: string, done: number): void {
    if (!this.#done.has(key)) return;
    this.#done.set(key, done);
    if (this.#t0 === null) {
      this.#t0 = this.#now();
      this.#work0 = this.work();
    }
  }

  /** Work done so far (in cost units). */
  work(): number {
    return this.#phases.reduce(
      (s, p) => s + Math.min(this.#done.get(p.key) ?? 0, p.units) * p.cost,
      0,
    );
  }

  /** Total work of the run. */
  total(): number {
    return this.#phases.reduce((s, p) => s + p.units * p.cost, 0);
  }

  /** Seconds left for the whole run (NaN until a rate is measured). */
  eta(): number {
    if (this.#t0 === null) return NaN;
    const el = this.#now() - this.#t0;
    const w = this.work() - this.#work0;
    if (el <= 0 || w <= 0) return NaN;
    return (this.total() - this.work()) / (w / el);
  }
}
