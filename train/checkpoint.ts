/**
 * Training checkpoints: model weights (under the model's state-dict names),
 * optimizer state, scheduler step, position in the run (epoch and batch) and
 * the random stream, in one safetensors file written atomically, so a killed
 * run resumes with no lost work and the same result.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../nn/optim.ts";
import type { LRScheduler } from "../nn/schedule.ts";
import type { HostTensor } from "../nn/safetensors.ts";
import { fromHost, toHost } from "../nn/state.ts";
import { rngState, setRngState } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { loadSafetensors, saveSafetensors } from "./files.ts";

/** Where a run stands. */
export interface RunPosition {
  /** Epoch being trained (0-based). */
  epoch: number;
  /** Batches of that epoch already done. */
  batch: number;
  /** Optimizer steps done in total. */
  step: number;
}

/** What a checkpoint holds besides tensors. */
export interface CheckpointMeta extends RunPosition {
  /** Format version. */
  version: 1;
  /** The random stream's position. */
  rng: { seed: number; offset: number };
  /** Scheduler steps. */
  schedulerStep: number;
  /** The run's configuration (JSON-serialisable). */
  config: unknown;
  /** Per-epoch metrics so far. */
  history: unknown[];
  /** Free-form extra state (JSON-serialisable). */
  extra?: unknown;
}

const OPT = "__optim__";

/**
 * Saves model, optimizer and run state to `path` atomically.
 * @example
 * ```ts
 * import { init, Linear, optim } from "@cnnf/webgpu";
 * import {
 *   loadCheckpoint,
 *   restoreCheckpoint,
 *   saveCheckpoint,
 * } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.ckpt.safetensors`;
 * const model = new Linear(3, 2);
 * const optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
 * await saveCheckpoint(path, {
 *   model,
 *   optimizer,
 *   position: { epoch: 2, batch: 5, step: 17 },
 *   config: { note: "toy" },
 *   history: [],
 * });
 * const ck = await loadCheckpoint(path);
 * assert.equal(ck.meta.step, 17);
 * assert.deepEqual(ck.tensors.weight.shape, [2, 3]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  parts: {
    model: Module;
    optimizer: Optimizer;
    scheduler?: LRScheduler;
    position: RunPosition;
    config: unknown;
    history: unknown[];
    extra?: unknown;
  },
): Promise<void> {
  const named = parts.model.namedParameters();
  const dict: Record<string, Tensor> = Object.fromEntries(named);
  const state = parts.optimizer.stateTensors();
  for (const [kind, list] of Object.entries(state)) {
    list.forEach((t, i) => {
      if (t) dict[`${OPT}.${kind}.${i}`] = t;
    });
  }
  const host = await toHost(dict);
  const meta: CheckpointMeta = {
    version: 1,
    ...parts.position,
    rng: rngState(),
    schedulerStep: parts.scheduler?.stepCount ?? 0,
    config: parts.config,
    history: parts.history,
    extra: parts.extra,
  };
  // Which parameter each optimizer slot belongs to, by name (checked on load).
  const slots = parts.optimizer.params.map((p) =>
    named.find(([, t]) => t === p)?.[0] ?? ""
  );
  await saveSafetensors(path, host, {
    meta: JSON.stringify(meta),
    optimizer_params: JSON.stringify(slots),
    optimizer_lr: String(parts.optimizer.lr),
  });
}

/** A loaded checkpoint, ready to restore. */
export interface LoadedCheckpoint {
  /** Run metadata. */
  meta: CheckpointMeta;
  /** Host tensors by name (model weights and optimizer state). */
  tensors: Record<string, HostTensor>;
  /** Parameter names of the optimizer's slots. */
  optimizerParams: string[];
  /** Path it came from. */
  path: string;
}

/**
 * Reads a checkpoint; errors name the file and what is wrong.
 * @example
 * ```ts
 * import { init, Linear, optim } from "@cnnf/webgpu";
 * import {
 *   loadCheckpoint,
 *   restoreCheckpoint,
 *   saveCheckpoint,
 * } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.ckpt.safetensors`;
 * const model = new Linear(3, 2);
 * const optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
 * await saveCheckpoint(path, {
 *   model,
 *   optimizer,
 *   position: { epoch: 2, batch: 5, step: 17 },
 *   config: { note: "toy" },
 *   history: [],
 * });
 * const ck = await loadCheckpoint(path);
 * assert.deepEqual([ck.meta.epoch, ck.meta.batch], [2, 5]);
 * assert.deepEqual(ck.meta.config, { note: "toy" });
 * await Deno.writeTextFile(path, "not a checkpoint");
 * await assert.rejects(loadCheckpoint(path), new RegExp(path));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const { tensors, metadata } = await loadSafetensors(path);
  let meta: CheckpointMeta;
  let slots: string[];
  try {
    meta = JSON.parse(metadata.meta ?? "null");
    slots = JSON.parse(metadata.optimizer_params ?? "[]");
  } catch {
    throw new Error(`${path}: corrupt checkpoint metadata (not JSON)`);
  }
  if (!meta || meta.version !== 1 || typeof meta.epoch !== "number") {
    throw new Error(
      `${path}: not a training checkpoint of this library (no version 1 metadata)`,
    );
  }
  return { meta, tensors, optimizerParams: slots, path };
}

/**
 * Restores weights, optimizer state, scheduler step and the random stream
 * from a loaded checkpoint.
 * @example Into a fresh model and optimizer
 * ```ts
 * import { init, Linear, optim } from "@cnnf/webgpu";
 * import {
 *   loadCheckpoint,
 *   restoreCheckpoint,
 *   saveCheckpoint,
 * } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/run.ckpt.safetensors`;
 * const model = new Linear(3, 2);
 * const optimizer = new optim.SGD(model.parameters(), { lr: 0.1 });
 * await saveCheckpoint(path, {
 *   model,
 *   optimizer,
 *   position: { epoch: 2, batch: 5, step: 17 },
 *   config: { note: "toy" },
 *   history: [],
 * });
 * const fresh = new Linear(3, 2);
 * const opt2 = new optim.SGD(fresh.parameters(), { lr: 0.1 });
 * const pos = restoreCheckpoint(await loadCheckpoint(path), {
 *   model: fresh,
 *   optimizer: opt2,
 * });
 * assert.deepEqual(pos, { epoch: 2, batch: 5, step: 17 });
 * assert.deepEqual(await fresh.weight.data(), await model.weight.data());
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function restoreCheckpoint(
  ck: LoadedCheckpoint,
  parts: { model: Module; optimizer: Optimizer; scheduler?: LRScheduler },
): RunPosition {
  const weights: Record<string, HostTensor> = {};
  const optim: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(ck.tensors)) {
    if (k.startsWith(`${OPT}.`)) optim[k] = v;
    else weights[k] = v;
  }
  const backend = parts.model.parameters()[0]?.backend;
  const dict = fromHost(weights, backend);
  try {
    parts.model.loadStateDict(dict, { source: ck.path });
  } finally {
    Object.values(dict).forEach((t) => t.dispose());
  }
  const named = new Map(parts.model.namedParameters().map(([k, t]) => [t, k]));
  const names = parts.optimizer.params.map((p) => named.get(p) ?? "");
  if (names.join() !== ck.optimizerParams.join()) {
    throw new Error(
      `${ck.path}: optimizer parameters do not match the model (${ck.optimizerParams.length} saved, ${names.length} now)`,
    );
  }
  const kinds = Object.keys(parts.optimizer.stateTensors());
  const state: Record<string, (Tensor | null)[]> = {};
  for (const kind of kinds) {
    state[kind] = parts.optimizer.params.map((_, i) => {
      const h = optim[`${OPT}.${kind}.${i}`];
      return h ? fromHost({ t: h }, backend).t : null;
    });
  }
  parts.optimizer.loadStateTensors(state);
  parts.optimizer.stepCount = ck.meta.step;
  parts.scheduler?.setStep(ck.meta.schedulerStep);
  setRngState(ck.meta.rng);
  return { epoch: ck.meta.epoch, batch: ck.meta.batch, step: ck.meta.step };
}
