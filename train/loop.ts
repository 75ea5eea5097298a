/**
 * The training loop behind `cli.ts train`: standard or adversarial training
 * of a CNN-F (or its plain-CNN baseline) exactly as the reference's
 * `train.py` (PGD on the first pass, the CNN-F loss, gradient clipping, SGD
 * with momentum and weight decay, a per-step poly or cosine schedule), with
 * checkpoints every epoch and on request, and exact resumption.
 *
 * @module
 */

import { LinfPGD } from "../attacks/pgd.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { noGrad } from "../autograd/grad.ts";
import { CNNF } from "../cnnf/fmnist.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import { WideResNet } from "../cnnf/wrn.ts";
import { SGD } from "../nn/optim.ts";
import { LRScheduler } from "../nn/schedule.ts";
import { manualSeed, readAll, tidy } from "../tensor/engine.ts";
import { batches, type Dataset, numBatches } from "./data/dataset.ts";
import {
  loadCheckpoint,
  restoreCheckpoint,
  type RunPosition,
  saveCheckpoint,
} from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import type { ProgressEvent } from "./progress.ts";
import { trainStep } from "./step.ts";

/** Metrics of one epoch (one JSON line of metrics.jsonl). */
export interface EpochMetrics {
  /** "cnnf" or "cnn". */
  model: string;
  /** Epoch number, 1-based. */
  epoch: number;
  /** Mean training loss. */
  loss: number;
  /** Training accuracy on clean inputs. */
  trainAcc: number;
  /** Clean test accuracy with the decision rule. */
  testAcc: number;
  /** Optimizer steps so far. */
  steps: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** Wall seconds of the epoch's training part. */
  seconds: number;
  /** Training throughput. */
  imagesPerSec: number;
}

/** Callbacks of a training run (the library never prints). */
export interface TrainHooks {
  /** Progress within an epoch. */
  onProgress?: (e: ProgressEvent) => void;
  /** A line worth showing (checkpoint saved, resumed, ...). */
  onLog?: (line: string) => void;
  /** After each epoch. */
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /**
   * Polled after every step (the loop first yields to the event loop, so a
   * signal handler has run); true saves a checkpoint and stops.
   */
  shouldStop?: () => boolean;
}

/**
 * Lets timers and signal handlers run: a CPU step never awaits real I/O, so
 * without this a Ctrl-C would wait for the end of the epoch.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The outcome of `trainModel`. */
export interface TrainOutcome {
  /** The trained model. */
  model: CNNFBase;
  /** Every epoch's metrics, including those of resumed epochs. */
  history: EpochMetrics[];
  /** Whether all epochs ran (false when stopped early). */
  finished: boolean;
  /** Steps taken in this invocation. */
  steps: number;
  /** Mean seconds per step in this invocation. */
  secondsPerStep: number;
  /** Training loss and accuracy about 20 times per epoch (fractional epochs). */
  curve: TrainCurvePoint[];
}

/** A point of the within-epoch training curve. */
export interface TrainCurvePoint {
  /** Fractional epoch (1.0 = end of the first epoch). */
  epoch: number;
  /** Mean loss since the previous point. */
  loss: number;
  /** Training accuracy since the previous point. */
  trainAcc: number;
}

/**
 * Builds the model a configuration describes.
 * @example CNN-F and its feedforward twin from one preset
 * ```ts
 * import { init } from "@cnnf/webgpu";
 * import { buildModel, PRESETS } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const cnnf = buildModel(PRESETS.quick, "cnnf");
 * const cnn = buildModel(PRESETS.quick, "cnn");
 * assert.equal(cnnf.cycles, PRESETS.quick.maxCycles);
 * assert.equal(cnn.cycles, 0);
 * cnnf.dispose();
 * cnn.dispose();
 * ```
 */
export function buildModel(cfg: TrainConfig, kind: "cnnf" | "cnn"): CNNFBase {
  const cycles = kind === "cnn" ? 0 : cfg.maxCycles;
  if (cfg.dataset === "cifar10") {
    return new WideResNet({
      depth: cfg.depth,
      widenFactor: cfg.widenFactor,
      ind: kind === "cnn" ? 0 : cfg.ind,
      cycles,
      resParam: cfg.resParam,
    });
  }
  return new CNNF({
    ind: kind === "cnn" ? 0 : cfg.ind,
    cycles,
    resParam: kind === "cnn" ? 0 : cfg.resParam,
  });
}

/**
 * Path of a model's training checkpoint in the output folder.
 * @example
 * ```ts
 * import { checkpointPath, PRESETS } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const cfg = { ...PRESETS.quick, out: "runs/a" };
 * assert.equal(checkpointPath(cfg, "cnnf"), "runs/a/cnnf.ckpt.safetensors");
 * ```
 */
export function checkpointPath(cfg: TrainConfig, kind: string): string {
  return `${cfg.out}/${kind}.ckpt.safetensors`;
}

/**
 * Clean accuracy of a model with the configuration's decision rule.
 * @example An untrained plain CNN on two toy images
 * ```ts
 * import { init } from "@cnnf/webgpu";
 * import type { Dataset } from "@cnnf/webgpu/data";
 * import { buildModel, cleanAccuracy, PRESETS } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const toy = (n: number): Dataset => ({
 *   images: new Uint8Array(n * 784).map((_, i) => (i * 37) % 256),
 *   labels: new Uint8Array(n).map((_, i) => i % 10),
 *   n,
 *   shape: [1, 28, 28],
 *   classes: [..."0123456789"],
 *   source: "toy",
 * });
 * const cfg = { ...PRESETS.quick, testBatchSize: 2 };
 * const model = buildModel(cfg, "cnn");
 * const acc = await cleanAccuracy(model, toy(2), cfg);
 * assert.ok([0, 0.5, 1].includes(acc)); // a fraction of the 2 images
 * model.dispose();
 * ```
 */
export async function cleanAccuracy(
  model: CNNFBase,
  data: Dataset,
  cfg: TrainConfig,
  onProgress?: (e: ProgressEvent) => void,
): Promise<number> {
  model.eval();
  let correct = 0;
  const total = numBatches(data.n, cfg.testBatchSize);
  for (
    const { x, y, batch } of batches(data, { batchSize: cfg.testBatchSize })
  ) {
    const hit = noGrad(() =>
      tidy(() => {
        const logits = cfg.testRule === "last"
          ? model.runCycles(x)
          : model.runAverage(x);
        return logits.argmax(1).eq(y).sum();
      })
    );
    correct += (await hit.data())[0];
    for (const t of [hit, x, y]) t.dispose();
    await yieldToEventLoop();
    onProgress?.({
      label: `test pass ${model.cycles ? "cnnf" : "cnn"}`,
      done: batch + 1,
      total,
      unit: "batch",
    });
  }
  model.reset();
  return correct / data.n;
}

/**
 * Trains one model on `train`, evaluating clean accuracy on `test` after
 * every epoch. With `resume`, continues from the checkpoint in `cfg.out`.
 * @example One step, then a checkpoint to resume from
 * ```ts
 * import { init } from "@cnnf/webgpu";
 * import type { Dataset } from "@cnnf/webgpu/data";
 * import { checkpointPath, PRESETS, trainModel } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const toy = (n: number): Dataset => ({
 *   images: new Uint8Array(n * 784).map((_, i) => (i * 37) % 256),
 *   labels: new Uint8Array(n).map((_, i) => i % 10),
 *   n,
 *   shape: [1, 28, 28],
 *   classes: [..."0123456789"],
 *   source: "toy",
 * });
 * const out = await Deno.makeTempDir();
 * const cfg = { ...PRESETS.quick, out, batchSize: 2, maxSteps: 1 };
 * const r = await trainModel("cnn", cfg, { train: toy(4), test: toy(2) });
 * assert.equal(r.steps, 1);
 * assert.equal(r.finished, false); // stopped by maxSteps, resumable
 * assert.ok((await Deno.stat(checkpointPath(cfg, "cnn"))).isFile);
 * r.model.dispose();
 * await Deno.remove(out, { recursive: true });
 * ```
 */
export async function trainModel(
  kind: "cnnf" | "cnn",
  cfg: TrainConfig,
  data: { train: Dataset; test: Dataset },
  hooks: TrainHooks = {},
  options: { resume?: boolean } = {},
): Promise<TrainOutcome> {
  manualSeed(cfg.seed + (kind === "cnn" ? 1000 : 0));
  const model = buildModel(cfg, kind);
  const opt = new SGD(model.parameters(), {
    lr: cfg.lr,
    momentum: cfg.momentum,
    weightDecay: cfg.wd,
  });
  const perEpoch = numBatches(data.train.n, cfg.batchSize, true);
  if (perEpoch === 0) {
    throw new Error(
      `train: ${data.train.n} training examples are fewer than one batch of ${cfg.batchSize}`,
    );
  }
  const totalSteps = cfg.epochs * perEpoch;
  const sched = new LRScheduler(opt, {
    kind: cfg.schedule === "cos" ? "cosine" : "poly",
    totalSteps,
    power: cfg.power,
    minLr: cfg.lr * 1e-5,
  });
  let pos: RunPosition = { epoch: 0, batch: 0, step: 0 };
  let history: EpochMetrics[] = [];
  const curve: TrainCurvePoint[] = [];
  let win = { loss: 0, correct: 0, seen: 0 };
  // Sums of a partly trained epoch restored from a mid-epoch checkpoint.
  let partialState: {
    loss: number;
    correct: number;
    seen: number;
    seconds?: number;
  } | null = null;
  let stopAfterEpoch = false;
  const ckPath = checkpointPath(cfg, kind);
  if (options.resume) {
    const ck = await loadCheckpoint(ckPath);
    pos = restoreCheckpoint(ck, { model, optimizer: opt, scheduler: sched });
    history = ck.meta.history as EpochMetrics[];
    const extra = ck.meta.extra as {
      partial?: {
        loss: number;
        correct: number;
        seen: number;
        seconds?: number;
      };
      curve?: TrainCurvePoint[];
    } | undefined;
    if (extra?.partial) partialState = extra.partial;
    curve.push(...(extra?.curve ?? []));
    hooks.onLog?.(
      `${kind}: resumed from ${ckPath} at epoch ${
        pos.epoch + 1
      }, batch ${pos.batch}, step ${pos.step}`,
    );
  }
  // Frees the optimizer state and reports how the run ended.
  const outcome = (finished: boolean): TrainOutcome => {
    opt.dispose();
    return {
      model,
      history,
      finished,
      steps: stepsNow,
      secondsPerStep: busy / 1000 / Math.max(stepsNow, 1),
      curve,
    };
  };
  const save = async (extra: Record<string, unknown> = {}) => {
    extra = { ...extra, curve };
    await saveCheckpoint(ckPath, {
      model,
      optimizer: opt,
      scheduler: sched,
      position: pos,
      config: cfg,
      history,
      extra,
    });
  };
  // Success is judged on the first pass too: no wasted feedback cycles.
  const target = cnnfTarget(model, "first", { decision: "first" });
  const pgd = cfg.adversarial
    ? new LinfPGD(target, {
      eps: cfg.eps,
      epsIter: cfg.epsIter,
      nbIter: cfg.nbIter,
      clipMin: -1,
      clipMax: 1,
    })
    : null;
  let stepsNow = 0;
  let busy = 0;
  for (let epoch = pos.epoch; epoch < cfg.epochs; epoch++) {
    let { loss: lossSum, correct, seen } = epoch === pos.epoch && partialState
      ? partialState
      : { loss: 0, correct: 0, seen: 0 };
    // Training seconds of the epoch before a resume, so its img/s is true.
    const before = epoch === pos.epoch ? partialState?.seconds ?? 0 : 0;
    partialState = null;
    const t0 = performance.now();
    const label = `train ${kind} epoch ${epoch + 1}/${cfg.epochs}`;
    const start = epoch === pos.epoch ? pos.batch : 0;
    hooks.onProgress?.({
      label,
      done: start,
      total: perEpoch,
      unit: "batch",
      start: true,
    });
    for (
      const { x, y, batch } of batches(data.train, {
        batchSize: cfg.batchSize,
        shuffle: true,
        seed: cfg.seed,
        epoch,
        dropLast: true,
        augment: cfg.dataset === "cifar10",
        startBatch: start,
      })
    ) {
      const ts = performance.now();
      model.train();
      const adv = pgd ? (await pgd.perturb(x, y)).adv : null;
      const stats = trainStep(model, opt, x, y, adv, cfg, sched);
      const [lv, hv] = await readAll(stats);
      for (const t of [...stats, x, y]) t.dispose();
      adv?.dispose();
      const b = y.size;
      lossSum += lv[0] * b;
      correct += hv[0];
      seen += b;
      win = {
        loss: win.loss + lv[0] * b,
        correct: win.correct + hv[0],
        seen: win.seen + b,
      };
      const every = Math.max(1, Math.floor(perEpoch / 20));
      if ((batch + 1) % every === 0 || batch + 1 === perEpoch) {
        curve.push({
          epoch: epoch + (batch + 1) / perEpoch,
          loss: win.loss / win.seen,
          trainAcc: win.correct / win.seen,
        });
        win = { loss: 0, correct: 0, seen: 0 };
      }
      pos = { epoch, batch: batch + 1, step: pos.step + 1 };
      stepsNow++;
      busy += performance.now() - ts;
      hooks.onProgress?.({
        label,
        done: batch + 1,
        total: perEpoch,
        unit: "batch",
        phase: `train ${kind}`,
        phaseDone: pos.step,
        fields: {
          loss: lossSum / seen,
          acc: `${((100 * correct) / seen).toFixed(1)}%`,
          lr: opt.lr,
        },
      });
      await yieldToEventLoop();
      // An interrupt stops now, even after an epoch's last batch (the
      // epoch's test pass then runs on resume); --max-steps lets a finished
      // epoch close first.
      const interrupted = hooks.shouldStop?.() ?? false;
      const capped = cfg.maxSteps > 0 && stepsNow >= cfg.maxSteps;
      if (interrupted || (capped && batch + 1 < perEpoch)) {
        await save({
          partial: {
            loss: lossSum,
            correct,
            seen,
            seconds: before + (performance.now() - t0) / 1000,
          },
        });
        hooks.onLog?.(
          `${kind}: stopped at epoch ${epoch + 1}, batch ${
            batch + 1
          }; checkpoint ${ckPath} (resume with --resume)`,
        );
        return outcome(false);
      }
      if (capped) stopAfterEpoch = true;
    }
    const seconds = before + (performance.now() - t0) / 1000;
    const testAcc = await cleanAccuracy(
      model,
      data.test,
      cfg,
      hooks.onProgress,
    );
    const m: EpochMetrics = {
      model: kind,
      epoch: epoch + 1,
      loss: lossSum / Math.max(seen, 1),
      trainAcc: correct / Math.max(seen, 1),
      testAcc,
      steps: pos.step,
      lr: opt.lr,
      seconds,
      imagesPerSec: seen / seconds,
    };
    history.push(m);
    pos = { epoch: epoch + 1, batch: 0, step: pos.step };
    await save();
    await hooks.onEpoch?.(m);
    if (hooks.shouldStop?.() && epoch + 1 < cfg.epochs) {
      hooks.onLog?.(
        `${kind}: stopped after epoch ${
          epoch + 1
        }; checkpoint ${ckPath} (resume with --resume)`,
      );
      return outcome(false);
    }
    if (stopAfterEpoch && epoch + 1 < cfg.epochs) {
      hooks.onLog?.(
        `${kind}: stopped after epoch ${
          epoch + 1
        }; checkpoint ${ckPath} (resume with --resume)`,
      );
      return outcome(false);
    }
  }
  return outcome(true);
}
