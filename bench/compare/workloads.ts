/**
 * The workloads of the peer comparison (matmul 1024, conv2d forward / input
 * gradient / weight gradient at the Fashion-MNIST CNN-F layer shapes, and the
 * CNN-F rows), described as plain JSON so every peer (our engine, tfjs-wasm,
 * jax-js, the PyTorch subprocess) runs exactly the same list, and the timing
 * rule they all share: warm-up runs, then repetitions until the count or the
 * time budget is reached, reporting the median.
 *
 * @module
 */

import { PRESETS } from "../../train/config.ts";

/** One row of the comparison: what to run, the same for every peer. */
export type Spec =
  | { kind: "matmul"; n: number }
  | {
    kind: "conv";
    op: "fwd" | "dx" | "dw";
    batch: number;
    cin: number;
    cout: number;
    size: number;
  }
  | {
    kind: "cnnf";
    what: "forward" | "cycles" | "pgd_first" | "pgd_e2e" | "step";
    batch: number;
  };

/** A row: its label, its spec and its floating-point work (0: not counted). */
export interface Row {
  /** Label in the table and key in the JSON output. */
  id: string;
  /** Section flag of `--only`. */
  section: "matmul" | "conv" | "cnnf";
  /** What every peer runs. */
  spec: Spec;
  /** FLOPs of one run (multiply-add = 2), 0 for the CNN-F rows. */
  flops: number;
}

/** Warm-up runs, maximum repetitions and the time budget of one row. */
export interface Plan {
  /** Untimed runs first (JIT, kernel compilation, buffer pools). */
  warmup: number;
  /** At most this many timed runs. */
  reps: number;
  /** Stop repeating once the timed runs took this long (at least one). */
  budgetMs: number;
}

/** A row's outcome on one peer: the median time, or why it was skipped. */
export type Outcome = { ms: number; runs: number[] } | { skip: string };

/** [in channels, out channels, spatial size] of the Fashion-MNIST CNN-F convs. */
export const CONV_LAYERS: [number, number, number][] = [
  [1, 16, 28],
  [16, 32, 28],
  [32, 32, 28],
  [32, 64, 14],
];

/**
 * The exact adversarial-training settings `deno task train` uses with the
 * fmnist-paper preset (train/loop.ts), shared with the PyTorch side.
 */
export function trainSettings(): Record<string, number> {
  const c = PRESETS["fmnist-paper"];
  return {
    eps: c.eps,
    epsIter: c.epsIter,
    nbIter: c.nbIter,
    cleanParam: c.cleanParam,
    mseParam: c.mseParam,
    gradClip: c.gradClip,
    lr: c.lr,
    momentum: c.momentum,
    wd: c.wd,
    power: c.power,
    ind: c.ind,
    cycles: c.maxCycles,
    resParam: c.resParam,
  };
}

/** The rows selected by `--only` sections, with the CNN-F batches given. */
export function buildRows(
  sections: Set<string>,
  cnnfBatches: number[],
  convBatch = 64,
): Row[] {
  const rows: Row[] = [];
  if (sections.has("matmul")) {
    const n = 1024;
    rows.push({
      id: `matmul ${n}x${n}x${n}`,
      section: "matmul",
      spec: { kind: "matmul", n },
      flops: 2 * n ** 3,
    });
  }
  if (sections.has("conv")) {
    for (const op of ["fwd", "dx", "dw"] as const) {
      for (const [cin, cout, size] of CONV_LAYERS) {
        rows.push({
          id: `conv ${op} N${convBatch} ${cin}→${cout} ${size}x${size}`,
          section: "conv",
          spec: { kind: "conv", op, batch: convBatch, cin, cout, size },
          flops: 2 * convBatch * cout * cin * 9 * size * size,
        });
      }
    }
  }
  if (sections.has("cnnf")) {
    const names = {
      forward: "first pass (no grad)",
      cycles: "run cycles, average (no grad)",
      pgd_first: "PGD-7 on the first pass",
      pgd_e2e: "PGD-7 end to end (average)",
      step: "adversarial training step",
    } as const;
    for (const batch of cnnfBatches) {
      for (const what of Object.keys(names) as (keyof typeof names)[]) {
        rows.push({
          id: `CNN-F B${batch} ${names[what]}`,
          section: "cnnf",
          spec: { kind: "cnnf", what, batch },
          flops: 0,
        });
      }
    }
  }
  return rows;
}

/** Runs `fn` by the plan and returns the median of the timed runs. */
export async function measure(
  fn: () => Promise<void> | void,
  plan: Plan,
): Promise<Outcome> {
  for (let i = 0; i < plan.warmup; i++) await fn();
  const runs: number[] = [];
  let spent = 0;
  while (
    runs.length < plan.reps && (runs.length === 0 || spent < plan.budgetMs)
  ) {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    runs.push(ms);
    spent += ms;
  }
  return { ms: median(runs), runs };
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The short message of anything thrown. */
export function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 160);
}
