/**
 * Training and evaluation: presets and configuration, the training loop with
 * checkpoints and exact resumption, the evaluation table, metrics files and
 * the HTML report. Datasets are in `./data`.
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
export {
  loadSafetensors,
  readFileNamed,
  removeStaleTemps,
  saveSafetensors,
  writeFileAtomic,
} from "./files.ts";
export {
  fitLine,
  formatDuration,
  type ProgressEvent,
  ProgressPrinter,
} from "./progress.ts";
export {
  columnCost,
  describePlan,
  type PlanPhase,
  planRun,
  rowColumns,
  RunClock,
} from "./plan.ts";
export {
  checkResume,
  type ConfigDifference,
  configDifferences,
  flagOf,
  RESUME_ALLOWED,
  RESUME_FREE,
} from "./resume.ts";
export { ensureRuntimeDir } from "./runtime_dir.ts";
export {
  type CurvePoint,
  renderReport,
  type ReportData,
  type ReportExample,
} from "./report.ts";
export { base64, encodePng, imageDataUrl } from "./png.ts";
export {
  evalData,
  evaluateRow,
  EXTRA_ATTACKS,
  formatTable,
  REFERENCE_COLUMNS,
  type TableRow,
} from "./evaluate.ts";
export {
  evalSeed,
  loadData,
  type RunHooks,
  type RunResult,
  runTraining,
  sampleDataset,
} from "./run.ts";
export {
  CONFIG_FLAGS,
  configFromFlags,
  type Flags,
  UsageError,
} from "./flags.ts";
