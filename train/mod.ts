/**
 * Training and evaluation: presets and configuration, the training loop with
 * checkpoints and exact resumption, the evaluation table, metrics files and
 * the HTML report. Datasets are in `./data`; the CLI's own plumbing (flag
 * parsing, progress rendering, PNG encoding) is not exported.
 *
 * @example A preset, overridden
 * ```ts
 * import { PRESETS, validateConfig } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 *
 * const cfg = { ...PRESETS["fmnist-paper"], epochs: 2 };
 * validateConfig(cfg);
 * assert.equal(cfg.eps, 0.2);
 * ```
 *
 * @module
 */

export {
  ATTACK_NAMES,
  MAX_BATCH,
  PRESETS,
  type TrainConfig,
  validateConfig,
} from "./config.ts";
export {
  buildModel,
  checkpointPath,
  cleanAccuracy,
  type EpochMetrics,
  type TrainCurvePoint,
  type TrainHooks,
  trainModel,
  type TrainOutcome,
} from "./loop.ts";
export {
  type CheckpointMeta,
  loadCheckpoint,
  type LoadedCheckpoint,
  restoreCheckpoint,
  type RunPosition,
  saveCheckpoint,
} from "./checkpoint.ts";
export { loadSafetensors, saveSafetensors } from "./files.ts";
export { load, save, type SaveOptions } from "./save.ts";
export type { ProgressEvent } from "./progress.ts";
export {
  type CurvePoint,
  renderReport,
  type ReportData,
  type ReportExample,
} from "./report.ts";
export {
  evalData,
  evaluateRow,
  EXTRA_ATTACKS,
  formatTable,
  REFERENCE_COLUMNS,
  type TableRow,
} from "./evaluate.ts";
export {
  loadData,
  type RunHooks,
  type RunResult,
  runTraining,
  sampleDataset,
} from "./run.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { CNNFBase } from "../cnnf/model.ts";
export type { Module } from "../nn/module.ts";
export type { Optimizer } from "../nn/optim.ts";
export type { LRScheduler } from "../nn/schedule.ts";
export type { DecodedSafetensors, HostTensor } from "../nn/safetensors.ts";
export type { Dataset } from "./data/dataset.ts";
export type { PlanPhase } from "./plan.ts";
export type { EvalProgress } from "../attacks/evaluate.ts";
export type { AdaPool } from "../cnnf/layers.ts";
export type { AdaReLU } from "../cnnf/layers.ts";
export type { FeedbackResult } from "../cnnf/model.ts";
export type { ForwardResult } from "../cnnf/model.ts";
export type { LatentSnapshot } from "../cnnf/layers.ts";
export type { LoadOptions } from "../nn/module.ts";
export type { ScheduleOptions } from "../nn/schedule.ts";
export type { Tensor } from "../tensor/tensor.ts";
export type { BackendName } from "../tensor/backend.ts";
export type { DType } from "../tensor/shape.ts";
export type { FeedbackLayer } from "../cnnf/layers.ts";
export type { NestedArray } from "../tensor/tensor.ts";
export type { ScheduleKind } from "../nn/schedule.ts";
export type { Shape } from "../tensor/shape.ts";
export type { TensorLike } from "../tensor/tensor.ts";
export type { TypedArray } from "../tensor/shape.ts";
