/**
 * Robust accuracy over a dataset: every attack against every target, in
 * batches, with clean accuracy per decision rule and the per-example worst
 * case over all of them (an example is robust only if it is classified
 * correctly by every target and no attack fooled it anywhere). Progress is
 * reported through a callback; nothing is printed.
 *
 * @module
 */

import { tensor } from "../tensor/creation.ts";
import { readAll, tidy } from "../tensor/engine.ts";
import { checkCount, decideLogits, guarded, successMask } from "./_util.ts";
import type { Attack, Target } from "./types.ts";

/** A labelled dataset held on the host. */
export interface EvalDataset {
  /** Inputs, example after example, in the model's units. */
  images: Float32Array;
  /** int32 labels, one per example. */
  labels: Int32Array;
  /** Shape of one example, e.g. [1, 28, 28]. */
  shape: readonly number[];
}

/** An attack to run against each target. */
export interface EvalAttack {
  /** Name in the report ("PGD", "SPSA", "transfer", ...). */
  name: string;
  /** Builds the attack for a target. */
  create: (target: Target) => Attack;
  /**
   * Only the first `limit` examples (the reference ran SPSA on 1000
   * images); the worst case then covers those only.
   */
  limit?: number;
}

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** The data. */
  data: EvalDataset;
  /** Decision functions attacked (e.g. CNN-F's first and e2e targets). */
  targets: Target[];
  /** Attacks run on every target. */
  attacks: EvalAttack[];
  /** Examples per batch (default 100, the reference's test batch). */
  batchSize?: number;
  /** Evaluate the first `limit` examples only. */
  limit?: number;
  /** Called after every attack on every batch. */
  onProgress?: (p: EvalProgress) => void;
}

/** A progress report. */
export interface EvalProgress {
  /** Attack name ("clean" for the clean pass). */
  attack: string;
  /** Target name. */
  target: string;
  /** Examples of this attack and target done so far. */
  done: number;
  /** Examples it will see in all. */
  total: number;
  /** Robust examples so far. */
  robust: number;
  /** Seconds since `evaluate` started. */
  elapsed: number;
}

/** Result of one attack on one target. */
export interface EvalCell {
  /** Attack name. */
  attack: string;
  /** Target name. */
  target: string;
  /** Examples evaluated. */
  examples: number;
  /** Examples the attack left correctly classified. */
  robust: number;
  /** robust / examples. */
  robustAccuracy: number;
  /** Mean model evaluations per example. */
  meanQueries: number;
  /** Wall time in seconds. */
  seconds: number;
  /** Per example: 1 if robust. */
  perExample: Uint8Array;
  /** Examples whose input held NaN or infinite values (see AttackResult). */
  nonFinite: number;
}

/** What `evaluate` returns. */
export interface EvalReport {
  /** Examples evaluated. */
  examples: number;
  /** Clean accuracy of each target's decision rule. */
  clean: { target: string; correct: number; accuracy: number }[];
  /** One entry per attack and target, attack-major. */
  results: EvalCell[];
  /** Per-example worst case over every target and attack. */
  worstCase: { examples: number; robust: number; robustAccuracy: number };
}

/**
 * Runs every attack against every target over the dataset.
 * @example
 * ```ts
 * import { evaluate, FGSM, predictTarget } from "@cnnf/webgpu/attacks";
 * import { init, tensor } from "@cnnf/webgpu";
 * await init({ backend: "cpu" });
 * const w = tensor([[1, -1], [-1, 1]]);
 * const report = await evaluate({
 *   data: {
 *     images: Float32Array.of(0.5, 0, 0, 0.5, 0.05, 0),
 *     labels: Int32Array.of(0, 1, 0),
 *     shape: [2],
 *   },
 *   targets: [predictTarget((x) => x.matmul(w), { name: "linear" })],
 *   attacks: [{ name: "FGSM", create: (t) => new FGSM(t, { eps: 0.1 }) }],
 * });
 * console.log(report.results[0].robustAccuracy); // 2/3
 * ```
 */
export async function evaluate(options: EvaluateOptions): Promise<EvalReport> {
  const { data, targets, attacks } = options;
  const per = data.shape.reduce((a, b) => a * b, 1);
  const available = data.labels.length;
  if (data.images.length !== available * per) {
    throw new Error(
      `evaluate: ${data.images.length} values for ${available} examples of shape [${data.shape}]`,
    );
  }
  const n = Math.min(options.limit ?? available, available);
  const bs = options.batchSize ?? 100;
  checkCount("evaluate", "batchSize", bs);
  if (!targets.length) throw new Error("evaluate: no targets");
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const cleanOk = targets.map(() => new Uint8Array(n));
  const cells: EvalCell[] = attacks.flatMap((a) =>
    targets.map((t) => ({
      attack: a.name,
      target: t.name,
      examples: Math.min(a.limit ?? n, n),
      robust: 0,
      robustAccuracy: 0,
      meanQueries: 0,
      seconds: 0,
      perExample: new Uint8Array(Math.min(a.limit ?? n, n)),
      nonFinite: 0,
    }))
  );
  const made = attacks.map((a) => targets.map((t) => a.create(t)));
  for (let start = 0; start < n; start += bs) {
    const b = Math.min(bs, n - start);
    const x = tensor(
      data.images.subarray(start * per, (start + b) * per),
      [b, ...data.shape],
    );
    const y = tensor(data.labels.subarray(start, start + b), [b], {
      dtype: "int32",
    });
    try {
      for (let ti = 0; ti < targets.length; ti++) {
        const t = targets[ti];
        const ok = await guarded(t.module, async () => {
          const m = tidy(() => successMask(decideLogits(t, x), y, false));
          const [h] = await readAll([m]);
          m.dispose();
          return h;
        });
        ok.forEach((v, i) => (cleanOk[ti][start + i] = v ? 0 : 1));
        options.onProgress?.({
          attack: "clean",
          target: t.name,
          done: start + b,
          total: n,
          robust: cleanOk[ti].subarray(0, start + b).reduce((s, v) => s + v, 0),
          elapsed: elapsed(),
        });
      }
      for (let ai = 0; ai < attacks.length; ai++) {
        for (let ti = 0; ti < targets.length; ti++) {
          const cell = cells[ai * targets.length + ti];
          const m = Math.min(b, cell.examples - start);
          if (m <= 0) continue;
          const xs = m === b ? x : x.narrow(0, 0, m);
          const ys = m === b ? y : y.narrow(0, 0, m);
          const c0 = performance.now();
          try {
            const r = await made[ai][ti].perturb(xs, ys);
            r.adv.dispose();
            cell.nonFinite += r.nonFinite ?? 0;
            r.success.forEach((s, i) => {
              cell.perExample[start + i] = s ? 0 : 1;
              cell.robust += s ? 0 : 1;
              cell.meanQueries += r.queries[i];
            });
          } finally {
            if (m !== b) {
              xs.dispose();
              ys.dispose();
            }
          }
          cell.seconds += (performance.now() - c0) / 1000;
          options.onProgress?.({
            attack: cell.attack,
            target: cell.target,
            done: start + m,
            total: cell.examples,
            robust: cell.robust,
            elapsed: elapsed(),
          });
          // Let timers and signal handlers run between batches: on the CPU
          // backend nothing else yields, so Ctrl-C would wait for the end.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    } finally {
      x.dispose();
      y.dispose();
    }
  }
  for (const c of cells) {
    c.robustAccuracy = c.examples ? c.robust / c.examples : 0;
    c.meanQueries = c.examples ? c.meanQueries / c.examples : 0;
  }
  const covered = Math.min(n, ...cells.map((c) => c.examples));
  let worst = 0;
  for (let i = 0; i < covered; i++) {
    if (
      cleanOk.every((o) => o[i]) && cells.every((c) => c.perExample[i])
    ) worst++;
  }
  return {
    examples: n,
    clean: targets.map((t, i) => {
      const correct = cleanOk[i].reduce((s, v) => s + v, 0);
      return { target: t.name, correct, accuracy: n ? correct / n : 0 };
    }),
    results: cells,
    worstCase: {
      examples: covered,
      robust: worst,
      robustAccuracy: covered ? worst / covered : 0,
    },
  };
}
