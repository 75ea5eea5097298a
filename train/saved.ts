/**
 * Evaluating saved weights (`cli.ts eval` and `cli.ts attack`): weights
 * files with the reference's state_dict names, from a training run or
 * converted from PyTorch.
 *
 * @module
 */

import {
  type EvalCell,
  type EvalProgress,
  evaluate,
} from "../attacks/evaluate.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { loadReferenceStateDict } from "../cnnf/checkpoint.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import type { TrainConfig } from "./config.ts";
import { loadCifar10 } from "./data/cifar_files.ts";
import type { Dataset } from "./data/dataset.ts";
import { loadFashionMnist } from "./data/idx_files.ts";
import {
  ATTACK_NAMES,
  evalData,
  evaluateRow,
  makeAttack,
  type TableRow,
} from "./evaluate.ts";
import { exists, loadSafetensors } from "./files.ts";
import { buildModel } from "./loop.ts";
import { evalSeed, sampleDataset } from "./run.ts";
import type { HostTensor } from "../nn/safetensors.ts";
import { manualSeed } from "../tensor/engine.ts";

async function testData(cfg: TrainConfig): Promise<Dataset> {
  const ds = cfg.dataset === "cifar10"
    ? await loadCifar10(cfg.data!, "test")
    : await loadFashionMnist({ split: "test", dir: cfg.data });
  return sampleDataset(ds, cfg.testLimit, cfg.seed + 1);
}

/** "cnnf" or "cnn". */
export type ModelKind = "cnnf" | "cnn";

/** What a weights file says about itself. */
export interface WeightsInfo {
  /** Tensors by name. */
  tensors: Record<string, HostTensor>;
  /** Model kind from the metadata (absent in converted reference weights). */
  model?: ModelKind;
  /** The training configuration from the metadata, when a run wrote it. */
  config?: Partial<TrainConfig>;
}

/**
 * Reads a weights file and checks it is usable: not a training checkpoint,
 * no NaN or infinite values. Errors name the path and the tensor.
 */
export async function readWeights(path: string): Promise<WeightsInfo> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (
    metadata.meta || Object.keys(tensors).some((k) => k.startsWith("__optim__"))
  ) {
    const weights = path.replace(/\.ckpt\.safetensors$/, ".safetensors");
    throw new Error(
      `${path}: a training checkpoint (weights and optimizer state), not a weights file; use ${
        weights !== path
          ? weights
          : "the .safetensors file training writes next to it"
      } or the run's folder`,
    );
  }
  for (const [name, t] of Object.entries(tensors)) {
    let bad = 0;
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) bad++;
    }
    if (bad) {
      throw new Error(
        `${path}: ${name} holds ${bad} NaN or infinite value(s) of ${t.data.length}; the weights are unusable (a diverged run?)`,
      );
    }
  }
  const model = metadata.model === "cnn" || metadata.model === "cnnf"
    ? metadata.model
    : undefined;
  let config: Partial<TrainConfig> | undefined;
  try {
    config = metadata.config ? JSON.parse(metadata.config) : undefined;
  } catch {
    throw new Error(`${path}: corrupt 'config' metadata (not JSON)`);
  }
  return { tensors, model, config };
}

const KIND_NAME = { cnnf: "CNN-F", cnn: "plain CNN" } as const;

/** Builds a model of `kind` and loads weights from `path`. */
export async function loadModel(
  path: string,
  cfg: TrainConfig,
  kind: ModelKind,
  weights?: WeightsInfo,
): Promise<CNNFBase> {
  const w = weights ?? await readWeights(path);
  if (w.model && w.model !== kind) {
    throw new Error(
      `${path}: holds a ${
        KIND_NAME[w.model]
      } (metadata model: ${w.model}), not a ${KIND_NAME[kind]}`,
    );
  }
  const model = buildModel(cfg, kind);
  loadReferenceStateDict(model, w.tensors, { source: path });
  model.eval();
  return model;
}

/**
 * The configuration a saved run was trained with: results.json in a run's
 * folder, else the weights' metadata (null when neither says).
 */
export async function savedConfig(
  path: string,
): Promise<Partial<TrainConfig> | null> {
  const dir = await isDir(path);
  const folder = dir ? path.replace(/\/+$/, "") : null;
  if (folder) {
    try {
      const j = JSON.parse(
        new TextDecoder().decode(await Deno.readFile(`${folder}/results.json`)),
      );
      if (j && typeof j.config === "object") return j.config;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new Error(
          `${folder}/results.json: unreadable (${(e as Error).message})`,
        );
      }
    }
    for (const kind of ["cnnf", "cnn"]) {
      const file = `${folder}/${kind}.safetensors`;
      if (await exists(file)) {
        const c = (await readWeights(file)).config;
        if (c) return c;
      }
    }
    return null;
  }
  return (await readWeights(path)).config ?? null;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    throw new Error(`file not found: ${path}`);
  }
}

/**
 * The evaluation table of saved weights: a run's folder (cnnf.safetensors
 * and, for the transfer column, cnn.safetensors) or one CNN-F file.
 */
export async function evaluateSaved(
  path: string,
  cfg: TrainConfig,
  onProgress?: (p: EvalProgress) => void,
): Promise<{ table: TableRow[]; dataSource: string; examples: number }> {
  const models: Partial<Record<ModelKind, CNNFBase>> = {};
  if (await isDir(path)) {
    for (const kind of cfg.models) {
      const file = `${path.replace(/\/+$/, "")}/${kind}.safetensors`;
      if (await exists(file)) models[kind] = await loadModel(file, cfg, kind);
    }
    if (!models.cnnf && !models.cnn) {
      throw new Error(
        `${path}: no ${
          cfg.models.map((k) => `${k}.safetensors`).join(" or ")
        } in this folder`,
      );
    }
  } else {
    const w = await readWeights(path);
    // The file says what it holds; weights converted from the reference
    // carry no metadata and are CNN-F weights.
    const kind = w.model ?? "cnnf";
    if (cfg.models.length === 1 && cfg.models[0] !== kind) {
      await loadModel(path, cfg, cfg.models[0], w);
    }
    models[kind] = await loadModel(path, cfg, kind, w);
  }
  const test = await testData(cfg);
  const table: TableRow[] = [];
  for (const kind of cfg.models) {
    const m = models[kind];
    if (m) {
      // The same random stream as the training run's evaluation.
      manualSeed(evalSeed(cfg));
      table.push(await evaluateRow(m, kind, test, cfg, models.cnn, onProgress));
    }
  }
  return { table, dataSource: test.source, examples: test.n };
}

/** Runs one attack against saved CNN-F weights on every attack target. */
export async function runAttack(
  path: string,
  name: string,
  cfg: TrainConfig,
  onProgress?: (p: EvalProgress) => void,
): Promise<{ examples: number; cells: EvalCell[] }> {
  if (!ATTACK_NAMES.includes(name)) {
    throw new Error(
      `attack: unknown attack '${name}' (${ATTACK_NAMES.join(", ")})`,
    );
  }
  const w = await readWeights(path);
  const model = await loadModel(
    path,
    cfg,
    w.model ?? (cfg.maxCycles > 0 ? "cnnf" : "cnn"),
    w,
  );
  const test = await testData(cfg);
  const rule = cfg.testRule;
  const targets = model.cycles > 0
    ? [
      cnnfTarget(model, "first", { decision: rule }),
      cnnfTarget(model, "e2eLast", { decision: rule }),
      cnnfTarget(model, "e2eAvg", { decision: rule }),
    ]
    : [cnnfTarget(model, "first", { decision: "first" })];
  const r = await evaluate({
    data: evalData(test),
    targets,
    attacks: [{ name, create: (t) => makeAttack(name, t, cfg) }],
    batchSize: cfg.testBatchSize,
    onProgress,
  });
  return { examples: r.examples, cells: r.results };
}
