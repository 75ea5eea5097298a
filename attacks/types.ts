/**
 * The shared vocabulary of the attack suite: what an attack attacks (a
 * `Target`: the logits its loss is computed on, the logits that decide the
 * prediction, and the module to protect), what it returns (`AttackResult`),
 * and the options every attack takes.
 *
 * Conventions, as advertorch: ε, step sizes and the clip range are in the
 * model's input units (CNN-F works on [-1, 1], so that is the default clip
 * range); a targeted attack gets the target classes in place of the labels.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * A differentiable prediction function: inputs [N, ...] to logits
 * [N, classes]. It must be a pure function of its input (a stateful model
 * resets its state on every call, as CNN-F's entry points do).
 */
export type PredictFn = (x: Tensor) => Tensor;

/**
 * A per-example loss: logits [N, C] and int32 labels [N] to losses [N].
 * Gradient attacks ascend it (descend it when targeted).
 */
export type LossFn = (logits: Tensor, labels: Tensor) => Tensor;

/** One evaluation of a target on a batch. */
export interface TargetOutput {
  /**
   * Logits the attack's loss is computed on. Per-example losses are summed
   * over the heads (weighted by `weights`): one head for a plain model,
   * every cycle's logits for CNN-F's multi-exit objective, one head per
   * random draw under EOT.
   */
  heads: Tensor[];
  /** Weight of each head in the loss (default 1 each). */
  weights?: number[];
  /**
   * Logits the attack tracks its own progress with (misclassification
   * checks inside APGD, Square's margins); they come from the same run.
   */
  logits: Tensor;
}

/**
 * What an attack attacks. `run` is what the attack optimises; `decide` is
 * the deployed decision rule, on which success and robust accuracy are
 * judged (CNN-F's "first pass" attack optimises the first pass while the
 * model decides with the averaged logits).
 */
export interface Target {
  /** A short name for reports ("first", "e2eAvg", "predict", ...). */
  readonly name: string;
  /** Runs the model on x; differentiable in x. */
  run(x: Tensor): TargetOutput;
  /** Logits of the decision rule (run without gradients). */
  decide(x: Tensor): Tensor;
  /**
   * The model behind the target, if any. Attacks put it in eval mode, stop
   * its parameters from recording gradients and, for CNN-F, restore its
   * latent state when they finish.
   */
  readonly module?: Module;
}

/** What `perturb` returns. */
export interface AttackResult {
  /**
   * Adversarial inputs, detached, inside the ε-ball around x (bounded
   * attacks) and the clip range. Owned by the caller (dispose it).
   */
  adv: Tensor;
  /**
   * 1 where the attack succeeded on the target's decision rule: the
   * prediction differs from the label (untargeted) or equals the target
   * class (targeted). An example misclassified before the attack counts as
   * a success, as in AutoAttack.
   */
  success: Uint8Array;
  /**
   * Model evaluations spent per example: forward queries for the
   * gradient-free attacks (Square, SPSA), and forward-and-backward passes
   * for the gradient attacks (each counts one). The final success check is
   * not counted.
   */
  queries: Int32Array;
  /**
   * Examples whose input held NaN or infinite values: their success flags
   * mean nothing (a NaN logit decides any class). Absent when the attack
   * did not check.
   */
  nonFinite?: number;
}

/** An adversarial attack on a fixed target. */
export interface Attack {
  /** A short name for reports ("LinfPGD", "APGD-CE", ...). */
  readonly name: string;
  /** What it attacks. */
  readonly target: Target;
  /**
   * Crafts adversarial examples. Reads back once (success flags and query
   * counts) unless the algorithm needs host decisions.
   * @param x Clean inputs [N, ...] inside the clip range.
   * @param y int32 labels [N] (target classes when targeted); default: the
   *   target's predictions on x.
   */
  perturb(x: Tensor, y?: Tensor): Promise<AttackResult>;
}

/** Options every attack takes. */
export interface CommonOptions {
  /** Lower end of the input domain (default -1, CNN-F's range). */
  clipMin?: number;
  /** Upper end of the input domain (default 1). */
  clipMax?: number;
  /**
   * Targeted mode: `y` holds target classes and the attack descends their
   * loss (default false).
   */
  targeted?: boolean;
  /**
   * Seed of the attack's own random stream. Without it, draws come from
   * the global seeded stream (`manualSeed`), so runs stay reproducible.
   */
  seed?: number;
}
