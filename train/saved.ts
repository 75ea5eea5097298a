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
import { loadSafetensors } from "./files.ts";
import { buildModel } from "./loop.ts";
import { sampleDataset } from "./run.ts";

async function testData(cfg: TrainConfig): Promise<Dataset> {
  const ds = cfg.dataset === "cifar10"
    ? await loadCifar10(cfg.data!, "test")
    : await loadFashionMnist({ split: "test", dir: cfg.data });
  return sampleDataset(ds, cfg.testLimit, cfg.seed + 1);
}

/** Builds a model of `kind` and loads weights from `path`. */
export async function loadModel(
  path: string,
  cfg: TrainConfig,
  kind: "cnnf" | "cnn",
): Promise<CNNFBase> {
  const model = buildModel(cfg, kind);
  const { tensors } = await loadSafetensors(path);
  loadReferenceStateDict(model, tensors, { source: path });
  model.eval();
  return model;
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
  const models: Partial<Record<"cnnf" | "cnn", CNNFBase>> = {};
  if (await isDir(path)) {
    for (const kind of ["cnnf", "cnn"] as const) {
      const file = `${path.replace(/\/+$/, "")}/${kind}.safetensors`;
      try {
        await Deno.stat(file);
      } catch {
        continue;
      }
      models[kind] = await loadModel(file, cfg, kind);
    }
    if (!models.cnnf && !models.cnn) {
      throw new Error(
        `${path}: no cnnf.safetensors or cnn.safetensors in this folder`,
      );
    }
  } else {
    models.cnnf = await loadModel(path, cfg, "cnnf");
  }
  const test = await testData(cfg);
  const table: TableRow[] = [];
  for (const kind of ["cnnf", "cnn"] as const) {
    const m = models[kind];
    if (m) {
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
  const model = await loadModel(path, cfg, cfg.maxCycles > 0 ? "cnnf" : "cnn");
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
