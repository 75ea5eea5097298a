/**
 * Our engine's side of the comparison: every workload through the public
 * API (`init`, `tensor`, `matmul`, `conv2d`, `convTranspose2d`, `CNNF`,
 * `LinfPGD`, `optim.SGD`...) on the CPU backend, the training step
 * done exactly as train/loop.ts does it. The weight gradient has no public
 * function; it runs the `conv2dWeightGrad` primitive that autograd calls.
 *
 * @module
 */

import {
  CNNF,
  cnnfTarget,
  conv2d,
  convTranspose2d,
  init,
  type InitOptions,
  LinfPGD,
  LRScheduler,
  noGrad,
  optim,
  rand,
  readAll,
  sync,
  type Tensor,
  tensor,
  tidy,
} from "../../mod.ts";
import { conv2dWeightGradT } from "../../tensor/tensor.ts";
import { trainStep } from "../../train/step.ts";
import {
  measure,
  type Outcome,
  type Plan,
  reason,
  type Row,
  type Spec,
  trainSettings,
} from "./workloads.ts";

const GEOM = { stride: [1, 1], padding: [1, 1], dilation: [1, 1] } as const;

/**
 * Starts the CPU backend. `threads` is passed along for engines whose
 * `InitOptions` has it (the WebAssembly worker pool); older engines ignore
 * the extra field.
 */
export async function initOurs(threads: number): Promise<string> {
  const options = { backend: "cpu", seed: 0, threads } as InitOptions;
  return await init(options);
}

/** Uniform values in [-1, 1) of a shape (from the seeded global stream). */
function uniform(shape: number[], scale = 1): Tensor {
  return tidy(() => rand(shape).mul(2 * scale).sub(scale));
}

/** Labels 0..9 repeated. */
function labels(n: number): Tensor {
  return tensor(Int32Array.from({ length: n }, (_, i) => i % 10), [n], {
    dtype: "int32",
  });
}

/** A function that runs one spec once (inputs made beforehand) and a cleanup. */
type Job = { run: () => Promise<void>; free: () => void };

function matmulJob(n: number): Job {
  const a = uniform([n, n]);
  const b = uniform([n, n]);
  return {
    run: async () => {
      const c = a.matmul(b);
      await sync();
      c.dispose();
    },
    free: () => [a, b].forEach((t) => t.dispose()),
  };
}

function convJob(s: Extract<Spec, { kind: "conv" }>): Job {
  const { batch: nb, cin, cout, size } = s;
  const x = uniform([nb, cin, size, size]);
  const w = uniform([cout, cin, 3, 3], 0.1);
  const gy = uniform([nb, cout, size, size]);
  const op = s.op === "fwd"
    ? () => conv2d(x, w, GEOM)
    : s.op === "dx"
    ? () => convTranspose2d(gy, w, GEOM)
    : () => conv2dWeightGradT(x, gy, { ...GEOM, kernel: [3, 3] });
  return {
    run: async () => {
      const out = op();
      await sync();
      out.dispose();
    },
    free: () => [x, w, gy].forEach((t) => t.dispose()),
  };
}

function cnnfJob(s: Extract<Spec, { kind: "cnnf" }>): Job {
  const cfg = trainSettings();
  const model = new CNNF({
    ind: cfg.ind,
    cycles: cfg.cycles,
    resParam: cfg.resParam,
  });
  const x = uniform([s.batch, 1, 28, 28]);
  const y = labels(s.batch);
  const pgdFor = (mode: "first" | "e2eAvg") =>
    new LinfPGD(
      cnnfTarget(model, mode, {
        decision: mode === "first" ? "first" : "average",
      }),
      {
        eps: cfg.eps,
        epsIter: cfg.epsIter,
        nbIter: cfg.nbIter,
        clipMin: -1,
        clipMax: 1,
      },
    );
  const opt = new optim.SGD(model.parameters(), {
    lr: cfg.lr,
    momentum: cfg.momentum,
    weightDecay: cfg.wd,
  });
  const sched = new LRScheduler(opt, {
    kind: "poly",
    totalSteps: 1e6,
    power: cfg.power,
    minLr: cfg.lr * 1e-5,
  });
  const free = () => {
    opt.dispose();
    model.reset();
    [x, y].forEach((t) => t.dispose());
  };
  if (s.what === "forward" || s.what === "cycles") {
    model.eval();
    return {
      run: async () => {
        const out = noGrad(() =>
          s.what === "forward" ? model.runFirst(x) : model.runAverage(x)
        );
        await sync();
        out.dispose();
        model.reset();
      },
      free,
    };
  }
  if (s.what === "pgd_first" || s.what === "pgd_e2e") {
    const pgd = pgdFor(s.what === "pgd_first" ? "first" : "e2eAvg");
    model.eval();
    return {
      run: async () => {
        const { adv } = await pgd.perturb(x, y);
        adv.dispose();
        model.reset();
      },
      free,
    };
  }
  // The adversarial training step of train/loop.ts (the same function).
  const pgd = pgdFor("first");
  return {
    run: async () => {
      model.train();
      const adv = (await pgd.perturb(x, y)).adv;
      const stats = trainStep(model, opt, x, y, adv, {
        cleanParam: cfg.cleanParam,
        mseParam: cfg.mseParam,
        gradClip: cfg.gradClip,
      }, sched);
      await readAll(stats);
      for (const t of stats) t.dispose();
      adv.dispose();
    },
    free,
  };
}

/** Runs every row on our engine; `planFor` gives each row's timing plan. */
export async function runOurs(
  rows: Row[],
  planFor: (r: Row) => Plan,
  onRow: (r: Row, o: Outcome) => void,
): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  for (const row of rows) {
    let o: Outcome;
    try {
      const s = row.spec;
      const job = s.kind === "matmul"
        ? matmulJob(s.n)
        : s.kind === "conv"
        ? convJob(s)
        : cnnfJob(s);
      try {
        o = await measure(job.run, planFor(row));
      } finally {
        job.free();
      }
    } catch (e) {
      o = { skip: reason(e) };
    }
    out.set(row.id, o);
    onRow(row, o);
  }
  return out;
}
