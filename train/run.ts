/**
 * A whole run as `cli.ts train` performs it: load the data, train each
 * model (resuming when asked), write metrics, weights and checkpoints,
 * evaluate the table, and write results.json and report.html.
 *
 * @module
 */

import { cnnfTarget } from "../attacks/targets.ts";
import { LinfPGD } from "../attacks/pgd.ts";
import type { EvalProgress } from "../attacks/evaluate.ts";
import { referenceStateDict } from "../cnnf/checkpoint.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import { noGrad } from "../autograd/grad.ts";
import { manualSeed, readAll, tidy } from "../tensor/engine.ts";
import { tensor } from "../tensor/creation.ts";
import { type Dataset, epochOrder, scalePixels } from "./data/dataset.ts";
import { loadFashionMnist } from "./data/idx_files.ts";
import { loadCifar10 } from "./data/cifar_files.ts";
import type { TrainConfig } from "./config.ts";
import { evaluateRow, REFERENCE_COLUMNS, type TableRow } from "./evaluate.ts";
import { removeStaleTemps, saveSafetensors, writeFileAtomic } from "./files.ts";
import { type PlanPhase, planRun } from "./plan.ts";
import {
  type EpochMetrics,
  type TrainCurvePoint,
  type TrainHooks,
  trainModel,
} from "./loop.ts";
import { imageDataUrl } from "./png.ts";
import { renderReport, type ReportExample } from "./report.ts";

/** The result of a run. */
export interface RunResult {
  /** Where the data came from. */
  dataSource: string;
  /** Training and test examples used. */
  counts: { train: number; test: number };
  /** Metrics of every epoch of every model. */
  history: EpochMetrics[];
  /** The evaluation table (empty when training stopped early). */
  table: TableRow[];
  /** Whether every model finished training. */
  finished: boolean;
  /** Mean seconds per optimizer step in this invocation, per model. */
  secondsPerStep: Record<string, number>;
  /** Steps taken in this invocation, per model. */
  steps: Record<string, number>;
  /** Batches per epoch. */
  batchesPerEpoch: number;
  /** Files written. */
  files: string[];
}

/**
 * A seeded random subset of `count` examples (all when count is 0 or ≥ n).
 * @example
 * ```ts
 * import type { Dataset } from "@cnnf/webgpu/data";
 * import { sampleDataset } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const ds: Dataset = {
 *   images: new Uint8Array([10, 11, 12, 13, 14]),
 *   labels: new Uint8Array([0, 1, 2, 3, 4]),
 *   n: 5,
 *   shape: [1, 1, 1],
 *   classes: [..."abcde"],
 *   source: "toy",
 * };
 * const sub = sampleDataset(ds, 3, 42);
 * assert.equal(sub.n, 3);
 * // Images keep their labels, in the original order.
 * assert.deepEqual([...sub.images].map((v) => v - 10), [...sub.labels]);
 * assert.ok(sub.labels[0] < sub.labels[1] && sub.labels[1] < sub.labels[2]);
 * assert.equal(sampleDataset(ds, 3, 42).labels.join(), sub.labels.join());
 * assert.equal(sampleDataset(ds, 0, 42), ds);
 * ```
 */
export function sampleDataset(
  ds: Dataset,
  count: number,
  seed: number,
): Dataset {
  if (!count || count >= ds.n) return ds;
  const order = Array.from(epochOrder(ds.n, { shuffle: true, seed, epoch: 0 }))
    .slice(0, count).sort((a, b) => a - b);
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Uint8Array(count * per);
  const labels = new Uint8Array(count);
  order.forEach((src, i) => {
    images.set(ds.images.subarray(src * per, (src + 1) * per), i * per);
    labels[i] = ds.labels[src];
  });
  return {
    ...ds,
    images,
    labels,
    n: count,
    source: `${ds.source}, random subset of ${count}`,
  };
}

/**
 * Loads the configuration's training and test data.
 * @example With the configured limits applied
 * ```ts
 * import { loadData, PRESETS } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * // A tiny IDX folder: 6 training and 4 test images of 28x28.
 * async function writeIdx(dir: string, prefix: string, n: number) {
 *   const img = new Uint8Array(16 + n * 784);
 *   const v = new DataView(img.buffer);
 *   [0x803, n, 28, 28].forEach((x, i) => v.setUint32(4 * i, x));
 *   const lab = new Uint8Array(8 + n).fill(3, 8);
 *   new DataView(lab.buffer).setUint32(0, 0x801);
 *   new DataView(lab.buffer).setUint32(4, n);
 *   await Deno.writeFile(`${dir}/${prefix}-images-idx3-ubyte`, img);
 *   await Deno.writeFile(`${dir}/${prefix}-labels-idx1-ubyte`, lab);
 * }
 * const data = await Deno.makeTempDir();
 * await writeIdx(data, "train", 6);
 * await writeIdx(data, "t10k", 4);
 * const cfg = { ...PRESETS.quick, data, trainLimit: 5, testLimit: 0 };
 * const { train, test } = await loadData(cfg);
 * assert.deepEqual([train.n, test.n], [5, 4]);
 * assert.deepEqual(train.shape, [1, 28, 28]);
 * await Deno.remove(data, { recursive: true });
 * ```
 */
export async function loadData(
  cfg: TrainConfig,
): Promise<{ train: Dataset; test: Dataset }> {
  const load = (split: "train" | "test") =>
    cfg.dataset === "cifar10"
      ? loadCifar10(cfg.data!, split)
      : loadFashionMnist({ split, dir: cfg.data });
  const [train, test] = await Promise.all([load("train"), load("test")]);
  return {
    train: sampleDataset(train, cfg.trainLimit, cfg.seed),
    test: sampleDataset(test, cfg.testLimit, cfg.seed + 1),
  };
}

async function examplesFor(
  model: CNNFBase,
  test: Dataset,
  cfg: TrainConfig,
  count: number,
): Promise<ReportExample[]> {
  const n = Math.min(count, test.n);
  const per = test.shape[0] * test.shape[1] * test.shape[2];
  const x = tensor(scalePixels(test.images.subarray(0, n * per)), [
    n,
    ...test.shape,
  ]);
  const y = tensor(Int32Array.from(test.labels.subarray(0, n)), [n], {
    dtype: "int32",
  });
  const target = cnnfTarget(
    model,
    model.cycles ? (cfg.testRule === "last" ? "e2eLast" : "e2eAvg") : "first",
    {
      decision: cfg.testRule,
    },
  );
  const { adv } = await new LinfPGD(target, {
    eps: cfg.eps,
    epsIter: cfg.epsIter,
    nbIter: cfg.nbIter,
    clipMin: -1,
    clipMax: 1,
  }).perturb(x, y);
  const outs = noGrad(() =>
    tidy(() => {
      const pc = target.decide(x).argmax(1);
      const pa = target.decide(adv).argmax(1);
      model.reset();
      let recon = null;
      if (model.ind === 0 && model.cycles > 0) {
        recon = model.feedback(model.forward(x, { first: true }).logits).recon;
      }
      return recon ? [pc, pa, recon] : [pc, pa];
    })
  );
  model.reset();
  const [pc, pa, recon] = await readAll(outs);
  const [xs, as] = await readAll([x, adv]);
  for (const t of [...outs, x, y, adv]) t.dispose();
  const [c, h, w] = test.shape;
  const cls = (i: number) => test.classes[i] ?? String(i);
  const items: ReportExample[] = [];
  for (let i = 0; i < n; i++) {
    items.push({
      clean: await imageDataUrl(xs.subarray(i * per, (i + 1) * per), c, h, w),
      adv: await imageDataUrl(as.subarray(i * per, (i + 1) * per), c, h, w),
      recon: recon
        ? await imageDataUrl(recon.subarray(i * per, (i + 1) * per), c, h, w)
        : undefined,
      label: cls(test.labels[i]),
      predClean: cls(pc[i]),
      predAdv: cls(pa[i]),
    });
  }
  return items;
}

/** Seed of the evaluation's random stream: a saved run evaluates the same. */
export function evalSeed(cfg: TrainConfig): number {
  return cfg.seed + 7919;
}

/** Callbacks of `runTraining`: the training loop's, and the run's phases. */
export interface RunHooks extends TrainHooks {
  /** Evaluation progress. */
  onEvalProgress?: (p: EvalProgress) => void;
  /** The run's plan, once the data is loaded. */
  onPlan?: (phases: PlanPhase[]) => void;
  /** Training of the models is over; the evaluation starts. */
  onEvaluate?: () => void;
}

/**
 * Runs training and evaluation as configured.
 * @example Stopped after one step: checkpoint kept, no table yet
 * ```ts
 * import { init } from "@cnnf/webgpu";
 * import { PRESETS, runTraining } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * // A tiny IDX folder: 6 training and 4 test images of 28x28.
 * async function writeIdx(dir: string, prefix: string, n: number) {
 *   const img = new Uint8Array(16 + n * 784);
 *   const v = new DataView(img.buffer);
 *   [0x803, n, 28, 28].forEach((x, i) => v.setUint32(4 * i, x));
 *   const lab = new Uint8Array(8 + n).fill(3, 8);
 *   new DataView(lab.buffer).setUint32(0, 0x801);
 *   new DataView(lab.buffer).setUint32(4, n);
 *   await Deno.writeFile(`${dir}/${prefix}-images-idx3-ubyte`, img);
 *   await Deno.writeFile(`${dir}/${prefix}-labels-idx1-ubyte`, lab);
 * }
 * const data = await Deno.makeTempDir();
 * await writeIdx(data, "train", 6);
 * await writeIdx(data, "t10k", 4);
 * const out = await Deno.makeTempDir();
 * const lines: string[] = [];
 * const r = await runTraining({
 *   ...PRESETS.quick,
 *   data,
 *   out,
 *   models: ["cnn"],
 *   batchSize: 2,
 *   maxSteps: 1,
 * }, { onLog: (line) => lines.push(line) });
 * assert.equal(r.finished, false);
 * assert.equal(r.steps.cnn, 1);
 * assert.ok(lines.some((l) => l.startsWith("data: ")));
 * await Deno.remove(data, { recursive: true });
 * await Deno.remove(out, { recursive: true });
 * ```
 * @param cfg The configuration (validated by the caller).
 * @param hooks Progress and log callbacks, stop request.
 * @param options resume: continue from checkpoints in `cfg.out`;
 *   about: lines describing the run for the report (command, adapter);
 *   stepsDone: steps each model's checkpoint holds (for the plan).
 */
export async function runTraining(
  cfg: TrainConfig,
  hooks: RunHooks = {},
  options: {
    resume?: boolean;
    about?: string[];
    stepsDone?: Record<string, number>;
  } = {},
): Promise<RunResult> {
  await Deno.mkdir(cfg.out, { recursive: true });
  const stale = await removeStaleTemps(cfg.out);
  if (stale.length) {
    hooks.onLog?.(
      `removed ${stale.length} temporary file(s) of an interrupted write in ${cfg.out}`,
    );
  }
  const data = await loadData(cfg);
  hooks.onLog?.(
    `data: ${data.train.source} (${data.train.n} train), ${data.test.source} (${data.test.n} test)`,
  );
  hooks.onPlan?.(
    planRun(
      cfg,
      { train: data.train.n, test: data.test.n },
      options.resume ? options.stepsDone : {},
    ),
  );
  const files: string[] = [];
  const metricsPath = `${cfg.out}/metrics.jsonl`;
  if (!options.resume) await writeFileAtomic(metricsPath, new Uint8Array(0));
  const history: EpochMetrics[] = [];
  const models: Record<string, CNNFBase> = {};
  const curves: Record<string, TrainCurvePoint[]> = {};
  const secondsPerStep: Record<string, number> = {};
  const steps: Record<string, number> = {};
  let finished = true;
  let batchesPerEpoch = 0;
  // Train the plain CNN first: it is the transfer attack's source.
  const order = [...cfg.models].sort((
    a,
    b,
  ) => (a === "cnn" ? -1 : b === "cnn" ? 1 : 0));
  for (const kind of order) {
    let resume = false;
    if (options.resume) {
      try {
        await Deno.stat(`${cfg.out}/${kind}.ckpt.safetensors`);
        resume = true;
      } catch {
        hooks.onLog?.(`${kind}: no checkpoint in ${cfg.out}; starting fresh`);
      }
    }
    const r = await trainModel(kind, cfg, data, {
      ...hooks,
      onEpoch: async (m) => {
        const line = new TextEncoder().encode(JSON.stringify(m) + "\n");
        await Deno.writeFile(metricsPath, line, { append: true });
        await hooks.onEpoch?.(m);
      },
    }, { resume });
    history.push(...r.history);
    models[kind] = r.model;
    curves[kind] = r.curve;
    secondsPerStep[kind] = r.secondsPerStep;
    steps[kind] = r.steps;
    batchesPerEpoch = Math.floor(data.train.n / cfg.batchSize);
    if (!r.finished) {
      finished = false;
      break;
    }
    const weights = `${cfg.out}/${kind}.safetensors`;
    await saveSafetensors(weights, await referenceStateDict(r.model), {
      format: "pt",
      model: kind,
      // eval and attack take the architecture and attack settings from here.
      config: JSON.stringify(cfg),
    });
    files.push(weights);
    hooks.onLog?.(
      `${kind}: weights saved to ${weights} (reference state_dict names)`,
    );
    // An interrupt during the model's last test pass stops here.
    if (hooks.shouldStop?.()) {
      finished = false;
      break;
    }
  }
  const table: TableRow[] = [];
  if (finished) {
    hooks.onEvaluate?.();
    for (const kind of cfg.models) {
      manualSeed(evalSeed(cfg));
      table.push(
        await evaluateRow(
          models[kind],
          kind,
          data.test,
          cfg,
          models.cnn,
          hooks.onEvalProgress,
        ),
      );
    }
    const examples = [];
    for (const kind of cfg.models) {
      examples.push({
        name: kind,
        attack: "PGD",
        items: await examplesFor(models[kind], data.test, cfg, 12),
      });
    }
    const columns = [...new Set(table.flatMap((r) => Object.keys(r.values)))];
    const html = renderReport({
      title: `CNN-F run: ${cfg.preset} preset`,
      about: [
        ...(options.about ?? []),
        `data: ${data.train.source}; ${data.train.n} train / ${data.test.n} test examples`,
        `training: ${
          cfg.adversarial
            ? `adversarial (PGD-${cfg.nbIter} eps ${cfg.eps})`
            : "standard"
        }, ${cfg.epochs} epoch(s), batch ${cfg.batchSize}, lr ${cfg.lr} ${cfg.schedule}`,
        `evaluation: L∞ eps ${cfg.eps}, PGD-${cfg.nbIter} step ${cfg.epsIter}, SPSA ${cfg.spsaSamples} samples on ${
          cfg.spsaLimit || data.test.n
        } examples, decision rule ${cfg.testRule}`,
      ],
      curves: cfg.models.map((k) => ({
        name: k,
        points: [
          ...(curves[k] ?? []).map((c) => ({ ...c })),
          ...history.filter((h) => h.model === k).map((h) => ({
            epoch: h.epoch,
            loss: NaN,
            trainAcc: NaN,
            testAcc: h.testAcc,
          })),
        ],
      })),
      columns: REFERENCE_COLUMNS.filter((c) => columns.includes(c)).concat(
        columns.filter((c) => !REFERENCE_COLUMNS.includes(c)),
      ),
      rows: table.map((r) => ({
        model: r.model,
        rule: r.rule,
        examples: r.examples,
        values: r.values,
      })),
      examples,
    });
    const reportPath = `${cfg.out}/report.html`;
    await writeFileAtomic(reportPath, new TextEncoder().encode(html));
    files.push(reportPath);
  }
  const result: RunResult = {
    dataSource: data.train.source,
    counts: { train: data.train.n, test: data.test.n },
    history,
    table,
    finished,
    secondsPerStep,
    steps,
    batchesPerEpoch,
    files,
  };
  const resultsPath = `${cfg.out}/results.json`;
  await writeFileAtomic(
    resultsPath,
    new TextEncoder().encode(
      JSON.stringify({ config: cfg, ...result }, null, 2),
    ),
  );
  result.files.push(resultsPath, metricsPath);
  for (const m of Object.values(models)) {
    m.reset();
    m.parameters().forEach((p) => p.dispose());
  }
  return result;
}
