/**
 * Optimizers with PyTorch's update rules (SGD with momentum, dampening,
 * weight decay and Nesterov; Adam with bias correction) and global gradient
 * norm clipping. Updates run on the device; nothing is read back.
 *
 * @module
 */

import { noGrad } from "../autograd/grad.ts";
import { keep, tidy } from "../tensor/engine.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Common optimizer surface (also what LR schedules drive).
 * @example
 * ```ts
 * import { Linear, optim } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const opt: optim.Optimizer = new optim.Adam(new Linear(2, 2).parameters(), { lr: 1e-3 });
 * opt.lr = 5e-4; // what LRScheduler sets
 * assert.equal(opt.lr, 5e-4);
 * ```
 */
export abstract class Optimizer {
  /** The parameters updated. */
  readonly params: Tensor[];
  /** Current learning rate. */
  lr: number;
  /** Steps taken. */
  stepCount = 0;

  /**
   * Creates the optimizer.
   * @param params Parameters (duplicates are dropped).
   * @param lr Learning rate.
   */
  constructor(params: Tensor[], lr: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: lr must be >= 0, got ${lr}`);
    this.params = [...new Set(params)];
    this.lr = lr;
  }

  /** Applies one update from the parameters' `.grad`. */
  abstract step(): void;

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the optimizer's state tensors (momentum buffers, moments). */
  dispose(): void {
    for (const list of Object.values(this.stateTensors())) {
      list.forEach((t) => t?.dispose());
    }
    this.loadStateTensors(
      Object.fromEntries(
        Object.keys(this.stateTensors()).map((k) => [
          k,
          this.params.map(() => null),
        ]),
      ),
    );
  }

  /** Per-parameter state tensors by name (for checkpoints). */
  abstract stateTensors(): Record<string, (Tensor | null)[]>;

  /** Restores state saved by `stateTensors` (takes ownership). */
  abstract loadStateTensors(s: Record<string, (Tensor | null)[]>): void;
}

/** Options of `SGD`. */
export interface SGDOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, exactly as torch.optim.SGD.
 * @example
 * ```ts
 * import { crossEntropy, Linear, optim, step, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const fc = new Linear(2, 2);
 * const opt = new optim.SGD(fc.parameters(), { lr: 0.5, momentum: 0.9, weightDecay: 5e-4 });
 * const x = tensor([[1, -1]]);
 * const y = tensor([1], [1], { dtype: "int32" });
 * const losses = [];
 * for (let i = 0; i < 5; i++) {
 *   losses.push(await step(() => {
 *     const l = crossEntropy(fc.forward(x), y);
 *     l.backward();
 *     opt.step();
 *     opt.zeroGrad();
 *     return l;
 *   }));
 * }
 * assert.ok(losses[4] < losses[0]);
 * ```
 */
export class SGD extends Optimizer {
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** Nesterov flag. */
  readonly nesterov: boolean;
  #buf: (Tensor | null)[];

  /**
   * Creates the optimizer.
   * @param params Parameters.
   * @param o Hyper-parameters.
   */
  constructor(params: Tensor[], o: SGDOptions) {
    super(params, o.lr);
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.nesterov = o.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("SGD: nesterov needs momentum > 0 and dampening 0");
    }
    this.#buf = this.params.map(() => null);
  }

  /** One SGD step. */
  step(): void {
    this.stepCount++;
    // Updates must not be recorded: a momentum buffer holding a tape would
    // keep every earlier step's graph alive.
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          if (!p.grad) return;
          let g = p.grad;
          if (this.weightDecay) g = g.add(p.mul(this.weightDecay));
          if (this.momentum) {
            const old = this.#buf[i];
            const buf = old
              ? old.mul(this.momentum).add(g.mul(1 - this.dampening))
              : g.clone();
            old?.dispose();
            this.#buf[i] = keep(buf);
            g = this.nesterov ? g.add(buf.mul(this.momentum)) : buf;
          }
          p.assign(p.sub(g.mul(this.lr)));
        });
      })
    );
  }

  /** Momentum buffers. */
  stateTensors(): Record<string, (Tensor | null)[]> {
    return { momentum: this.#buf };
  }

  /** Restores momentum buffers. */
  loadStateTensors(s: Record<string, (Tensor | null)[]>): void {
    const m = s.momentum ?? [];
    if (m.length !== this.params.length) {
      throw new Error(
        `SGD: state has ${m.length} buffers for ${this.params.length} parameters`,
      );
    }
    this.#buf.forEach((b) => b?.dispose());
    this.#buf = m.map((t) => (t ? keep(t) : null));
  }
}

/** Options of `Adam`. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Coefficients for the running averages (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Denominator term (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/**
 * Adam, exactly as torch.optim.Adam (L2 weight decay, not AdamW).
 * @example
 * ```ts
 * import { Linear, optim, randn } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const fc = new Linear(3, 1);
 * const opt = new optim.Adam(fc.parameters(), { lr: 0.01 });
 * const before = await fc.bias!.item();
 * fc.forward(randn([4, 3])).sum().backward();
 * opt.step();
 * assert.notEqual(await fc.bias!.item(), before);
 * ```
 */
export class Adam extends Optimizer {
  /** Running-average coefficients. */
  readonly betas: [number, number];
  /** Denominator term. */
  readonly eps: number;
  /** Weight decay. */
  readonly weightDecay: number;
  #m: (Tensor | null)[];
  #v: (Tensor | null)[];

  /**
   * Creates the optimizer.
   * @param params Parameters.
   * @param o Hyper-parameters.
   */
  constructor(params: Tensor[], o: AdamOptions = {}) {
    super(params, o.lr ?? 1e-3);
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.#m = this.params.map(() => null);
    this.#v = this.params.map(() => null);
  }

  /** One Adam step. */
  step(): void {
    this.stepCount++;
    const [b1, b2] = this.betas;
    const t = this.stepCount;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          if (!p.grad) return;
          let g = p.grad;
          if (this.weightDecay) g = g.add(p.mul(this.weightDecay));
          const m0 = this.#m[i];
          const v0 = this.#v[i];
          const m = m0 ? m0.mul(b1).add(g.mul(1 - b1)) : g.mul(1 - b1);
          const v = v0
            ? v0.mul(b2).add(g.mul(g).mul(1 - b2))
            : g.mul(g).mul(1 - b2);
          m0?.dispose();
          v0?.dispose();
          this.#m[i] = keep(m);
          this.#v[i] = keep(v);
          const denom = v.sqrt().div(Math.sqrt(bc2)).add(this.eps);
          p.assign(p.sub(m.div(denom).mul(this.lr / bc1)));
        });
      })
    );
  }

  /** First and second moments. */
  stateTensors(): Record<string, (Tensor | null)[]> {
    return { m: this.#m, v: this.#v };
  }

  /** Restores the moments. */
  loadStateTensors(s: Record<string, (Tensor | null)[]>): void {
    for (const k of ["m", "v"]) {
      if ((s[k] ?? []).length !== this.params.length) {
        throw new Error(
          `Adam: state '${k}' does not match ${this.params.length} parameters`,
        );
      }
    }
    this.#m.forEach((b) => b?.dispose());
    this.#v.forEach((b) => b?.dispose());
    this.#m = s.m.map((x) => (x ? keep(x) : null));
    this.#v = s.v.map((x) => (x ? keep(x) : null));
  }
}

/**
 * Scales all gradients so their global L2 norm is at most `maxNorm`
 * (torch.nn.utils.clip_grad_norm_: coefficient min(1, max/(norm+1e-6))).
 * Returns the norm before clipping as a scalar tensor (no readback).
 * @example
 * ```ts
 * import { optim, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * const w = tensor([3, 4], [2], { requiresGrad: true });
 * w.mul(w).sum().div(2).backward(); // grad = w, norm 5
 * const norm = await optim.clipGradNorm([w], 1).item();
 * assert.equal(norm, 5);
 * assert.ok(Math.abs(await w.grad!.pow(2).sum().item() - 1) < 1e-5);
 * ```
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  const ps = [...new Set(params)].filter((p) => p.grad);
  return noGrad(() =>
    tidy(() => {
      if (ps.length === 0) {
        throw new Error("clipGradNorm: no parameter has a gradient");
      }
      let sq = ps[0].grad!.square().sum();
      for (const p of ps.slice(1)) sq = sq.add(p.grad!.square().sum());
      const norm = sq.sqrt();
      const coef = norm.add(1e-6).pow(-1).mul(maxNorm).minimum(1);
      for (const p of ps) {
        const g = keep(p.grad!.mul(coef));
        p.grad!.dispose();
        p.grad = g;
      }
      return norm;
    })
  );
}
