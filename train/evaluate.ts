/**
 * The reference's evaluation table (test.py): clean, PGD on the first pass,
 * PGD end to end, SPSA first and end to end, and transfer from the plain
 * CNN, under the `average` or `last` decision rule, plus any attack of the
 * suite by name. Built on `attacks/evaluate`.
 *
 * @module
 */

import { APGD, APGDT } from "../attacks/apgd.ts";
import { AutoAttack } from "../attacks/autoattack.ts";
import {
  type EvalAttack,
  type EvalProgress,
  evaluate,
} from "../attacks/evaluate.ts";
import { FGSM } from "../attacks/fgsm.ts";
import { LinfPGD } from "../attacks/pgd.ts";
import { LinfSPSA } from "../attacks/spsa.ts";
import { Square } from "../attacks/square.ts";
import { cnnfTarget } from "../attacks/targets.ts";
import { TransferAttack } from "../attacks/transfer.ts";
import type { Attack, Target } from "../attacks/types.ts";
import type { CNNFBase } from "../cnnf/model.ts";
import { scalePixels } from "./data/dataset.ts";
import type { Dataset } from "./data/dataset.ts";
import {
  ATTACK_NAMES,
  EXTRA_ATTACKS,
  REFERENCE_COLUMNS,
  type TrainConfig,
} from "./config.ts";

export { ATTACK_NAMES, EXTRA_ATTACKS, REFERENCE_COLUMNS };

/** One row of the table. */
export interface TableRow {
  /** "cnnf" or "cnn". */
  model: string;
  /** Decision rule. */
  rule: string;
  /** Accuracy per column in [0, 1]. */
  values: Record<string, number>;
  /** Examples behind each column. */
  examples: Record<string, number>;
}

/**
 * Test data in the attacks' host form.
 * @example
 * ```ts
 * import { evalData } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const d = evalData({
 *   images: Uint8Array.of(0, 255), labels: Uint8Array.of(1), n: 1,
 *   shape: [1, 1, 2], classes: ["a", "b"], source: "toy",
 * });
 * assert.deepEqual([...d.images], [-1, 1]); // scaled to [-1, 1]
 * assert.deepEqual([...d.labels], [1]);
 * ```
 */
export function evalData(
  ds: Dataset,
): { images: Float32Array; labels: Int32Array; shape: number[] } {
  return {
    images: scalePixels(ds.images),
    labels: Int32Array.from(ds.labels),
    shape: [...ds.shape],
  };
}

/**
 * Evaluates a model's row of the table.
 * @example Clean accuracy and one-step PGD on two toy images
 * ```ts
 * import { init } from "@cnnf/webgpu";
 * import type { Dataset } from "@cnnf/webgpu/data";
 * import { buildModel, evaluateRow, PRESETS } from "@cnnf/webgpu/train";
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
 * const cfg = {
 *   ...PRESETS.quick,
 *   testBatchSize: 2,
 *   nbIter: 1,
 *   evalAttacks: ["clean", "pgd-first"],
 * };
 * const model = buildModel(cfg, "cnnf");
 * const row = await evaluateRow(model, "cnnf", toy(2), cfg);
 * assert.deepEqual(Object.keys(row.values), ["clean", "pgd-first"]);
 * assert.equal(row.examples?.clean, 2);
 * assert.ok(row.values["pgd-first"] <= 1);
 * model.dispose();
 * ```
 * @param model The model to evaluate.
 * @param kind "cnnf" or "cnn".
 * @param test Test data.
 * @param cfg Settings (eps, steps, rule, limits, columns).
 * @param source The plain CNN, for the transfer column.
 */
export async function evaluateRow(
  model: CNNFBase,
  kind: string,
  test: Dataset,
  cfg: TrainConfig,
  source?: CNNFBase,
  onProgress?: (p: EvalProgress) => void,
): Promise<TableRow> {
  const rule = cfg.testRule;
  const cols = cfg.evalAttacks;
  const known = [...REFERENCE_COLUMNS, ...EXTRA_ATTACKS];
  for (const c of cols) {
    if (!known.includes(c)) {
      throw new Error(`evaluate: unknown attack '${c}' (${known.join(", ")})`);
    }
  }
  const common = { clipMin: -1, clipMax: 1 };
  const pgd = (t: Target) =>
    new LinfPGD(t, {
      ...common,
      eps: cfg.eps,
      epsIter: cfg.epsIter,
      nbIter: cfg.nbIter,
    });
  const spsa = (t: Target) =>
    new LinfSPSA(t, {
      ...common,
      eps: cfg.eps,
      delta: 0.01,
      lr: 0.01,
      nbIter: cfg.nbIter,
      nbSample: cfg.spsaSamples,
      maxBatchSize: Math.min(cfg.spsaSamples, 64),
    });
  const spsaLimit = cfg.spsaLimit || undefined;
  const first = cnnfTarget(model, "first", { decision: rule });
  // The reference's end-to-end attack differentiates the last cycle's logits
  // (run_cycles_adv) whatever the decision rule; "pgd-e2e-avg" attacks the
  // averaged logits the `average` rule decides with.
  const e2e = cnnfTarget(model, "e2eLast", { decision: rule });
  const e2eAvg = cnnfTarget(model, "e2eAvg", { decision: rule });
  const plain = model.cycles === 0;
  const values: Record<string, number> = {};
  const examples: Record<string, number> = {};
  const data = evalData(test);
  const limit = cfg.testLimit || undefined;
  const run = async (col: string, target: Target, attack?: EvalAttack) => {
    const r = await evaluate({
      data,
      targets: [target],
      attacks: attack ? [attack] : [],
      batchSize: cfg.testBatchSize,
      limit,
      onProgress: (p) =>
        onProgress?.({
          ...p,
          attack: p.attack === "clean" && col !== "clean"
            ? `${kind} ${col} (clean pass)`
            : `${kind} ${col}`,
        }),
    });
    const cell = attack ? r.results[0] : null;
    values[col] = cell ? cell.robustAccuracy : r.clean[0].accuracy;
    examples[col] = cell ? cell.examples : r.examples;
  };
  for (const col of cols) {
    if (plain && ["pgd-e2e", "pgd-e2e-avg", "spsa-e2e"].includes(col)) continue;
    switch (col) {
      case "clean":
        await run(col, first);
        break;
      case "pgd-first":
        await run(col, first, { name: col, create: pgd });
        break;
      case "pgd-e2e":
        await run(col, e2e, { name: col, create: pgd });
        break;
      case "pgd-e2e-avg":
        if (rule === "average") {
          await run(col, e2eAvg, { name: col, create: pgd });
        }
        break;
      case "spsa-first":
        await run(col, first, { name: col, create: spsa, limit: spsaLimit });
        break;
      case "spsa-e2e":
        await run(col, e2e, { name: col, create: spsa, limit: spsaLimit });
        break;
      case "transfer":
        if (source && source !== model) {
          const src = cnnfTarget(source, "first", { decision: "first" });
          await run(col, first, {
            name: col,
            create: (t) => new TransferAttack(pgd(src), t),
          });
        }
        break;
      case "fgsm":
      case "apgd-ce":
      case "apgd-t":
      case "square":
      case "autoattack":
        // Gradient attacks end to end on the decision rule's logits; the
        // query-hungry ones on the SPSA subset.
        await run(col, e2eAvg, {
          name: col,
          create: (t) => makeAttack(col, t, cfg),
          limit: col === "square" || col === "autoattack"
            ? spsaLimit
            : undefined,
        });
        break;
    }
  }
  if (plain) {
    // With no feedback cycles, end-to-end is the first pass.
    for (
      const [e, f] of [["pgd-e2e", "pgd-first"], ["spsa-e2e", "spsa-first"], [
        "pgd-e2e-avg",
        "pgd-first",
      ]]
    ) {
      if (cols.includes(e) && f in values) {
        values[e] = values[f];
        examples[e] = examples[f];
      }
    }
  }
  model.reset();
  return { model: kind, rule: plain ? "-" : rule, values, examples };
}

/** Creates a named attack with the configuration's budget. */
export function makeAttack(name: string, t: Target, cfg: TrainConfig): Attack {
  const c = { clipMin: -1, clipMax: 1, eps: cfg.eps };
  switch (name) {
    case "pgd":
      return new LinfPGD(t, { ...c, epsIter: cfg.epsIter, nbIter: cfg.nbIter });
    case "fgsm":
      return new FGSM(t, c);
    case "apgd-ce":
      return new APGD(t, { ...c, nIter: Math.max(cfg.nbIter, 10) });
    case "apgd-t":
      return new APGDT(t, { ...c, nIter: Math.max(cfg.nbIter, 10) });
    case "square":
      return new Square(t, { ...c, nQueries: 1000 });
    case "spsa":
      return new LinfSPSA(t, {
        ...c,
        nbIter: cfg.nbIter,
        nbSample: cfg.spsaSamples,
        maxBatchSize: 64,
      });
    case "autoattack":
      return new AutoAttack(t, c);
    default:
      throw new Error(
        `attack: unknown attack '${name}' (${ATTACK_NAMES.join(", ")})`,
      );
  }
}

/**
 * Formats rows as a fixed-width text table (accuracy in %).
 * @example
 * ```ts
 * import { formatTable } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const t = formatTable([
 *   { model: "cnnf", rule: "average", values: { clean: 0.775 }, examples: { clean: 200 } },
 * ], ["clean", "pgd-first"]);
 * assert.match(t, /cnnf\s+average\s+77\.50/);
 * ```
 */
export function formatTable(
  rows: TableRow[],
  columns: readonly string[],
): string {
  const cols = columns.filter((c) => rows.some((r) => c in r.values));
  const head = ["model", "rule", ...cols];
  const lines = rows.map((r) => [
    r.model,
    r.rule,
    ...cols.map((c) => (c in r.values ? (100 * r.values[c]).toFixed(2) : "—")),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => l[i].length))
  );
  const fmt = (l: string[]) =>
    l.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join(
      "  ",
    );
  return [
    fmt(head),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...lines.map(fmt),
  ].join("\n");
}
