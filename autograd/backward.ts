/**
 * Reverse-mode differentiation over the tape: topological order, gradient
 * accumulation on fan-out, reduction of broadcast gradients to the input's
 * shape, pruning to the requested inputs, and release of saved tensors.
 *
 * @module
 */

import {
  freeSaved,
  keep,
  releaseNode,
  setGradEnabled,
  type TapeNode,
  tidy,
} from "../tensor/engine.ts";
import { fmt } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options of `computeGrads`. */
export interface GradOptions {
  /** Seed gradient (default: ones, only for one-element outputs). */
  grad?: Tensor;
  /**
   * Differentiate with respect to these tensors only, returning their
   * gradients and leaving every `.grad` untouched.
   */
  inputs?: Tensor[];
  /** Keep saved tensors so the graph can be differentiated again. */
  retainGraph?: boolean;
}

function ones(like: Tensor): Tensor {
  // In a scope: `backward()` is often called outside any, and the
  // intermediate must not outlive it.
  return tidy(() => like.detach().mul(0).add(1));
}

/**
 * Differentiates `root`. Without `inputs`, accumulates into the `.grad` of
 * every leaf with `requiresGrad` and returns []. With `inputs`, returns their
 * gradients (zeros when unreachable) in order.
 * @example Gradients of chosen inputs, leaving `.grad` alone
 * ```ts
 * import { init, tensor } from "@cnnf/webgpu";
 * import { computeGrads } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const x = tensor([1, 2, 3], [3], { requiresGrad: true });
 * const [g] = computeGrads(x.mul(x).sum(), { inputs: [x] });
 * assert.deepEqual([...await g.data()], [2, 4, 6]); // d(x²)/dx = 2x
 * assert.equal(x.grad, null);
 * ```
 */
export function computeGrads(
  root: Tensor,
  options: GradOptions = {},
): Tensor[] {
  const targets = options.inputs;
  if (!options.grad && root.size !== 1) {
    throw new Error(
      `backward: gradient can only be created implicitly for a one-element output, got ${
        fmt(root.shape)
      }`,
    );
  }
  if (options.grad && options.grad.shape.join() !== root.shape.join()) {
    throw new Error(
      `backward: gradient ${fmt(options.grad.shape)} does not match output ${
        fmt(root.shape)
      }`,
    );
  }
  // Topological order of nodes reachable from root.
  const order: TapeNode[] = [];
  const seen = new Set<TapeNode>();
  const leads = new Map<TapeNode, boolean>();
  const targetSet = new Set(targets ?? []);
  const visit = (start: TapeNode) => {
    const stack: [TapeNode, number][] = [[start, 0]];
    seen.add(start);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.inputs.length) {
        top[1]++;
        const inp = node.inputs[i].node;
        if (node.needs[i] && inp && !seen.has(inp)) {
          seen.add(inp);
          stack.push([inp, 0]);
        }
      } else {
        stack.pop();
        order.push(node);
        let l = false;
        node.inputs.forEach((t, j) => {
          if (!node.needs[j]) return;
          if (targets) {
            if (targetSet.has(t) || (t.node && leads.get(t.node))) l = true;
          } else l = true;
        });
        leads.set(node, l);
      }
    }
  };
  const results = new Map<Tensor, Tensor>();
  if (targetSet.has(root)) {
    results.set(root, options.grad ? options.grad.clone() : ones(root));
  }
  if (root.node) {
    if (root.node.released) {
      throw new Error(
        "backward: the graph was already differentiated and its saved tensors freed (use retainGraph)",
      );
    }
    visit(root.node);
  } else if (!root.requiresGrad && !targets) {
    throw new Error(
      "backward: output does not require grad (no tape recorded)",
    );
  }
  const grads = new Map<TapeNode, Tensor>();
  const prev = setGradEnabled(false);
  try {
    if (root.node) {
      grads.set(root.node, options.grad ? options.grad.clone() : ones(root));
    } else if (root.requiresGrad && !targets) {
      accumulateLeaf(root, options.grad ? options.grad.clone() : ones(root));
    }
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const g = grads.get(node);
      grads.delete(node);
      if (!g) continue;
      if (!leads.get(node)) {
        g.dispose();
        continue;
      }
      const needs = node.needs.map((nd, j) => {
        if (!nd) return false;
        if (!targets) return true;
        const t = node.inputs[j];
        return targetSet.has(t) || Boolean(t.node && leads.get(t.node));
      });
      const ins = tidy(() => {
        const raw = node.def.grad!(g, {
          inputs: node.saved,
          output: node.savedOut,
          inShapes: node.inShapes,
          inDtypes: node.inDtypes,
          needs,
          attrs: node.attrs,
        });
        return raw.map((gi, j) => {
          if (!gi || !needs[j]) return null;
          const shape = node.inShapes[j];
          const same = gi.shape.join() === shape.join();
          // A rule may pass `g` through; it must become a distinct tensor.
          if (gi === g) return same ? g.reshape(shape) : g.sumTo(shape);
          return same ? gi : gi.sumTo(shape);
        });
      });
      g.dispose();
      if (!options.retainGraph) freeSaved(node);
      ins.forEach((gi, j) => {
        if (!gi) return;
        const t = node.inputs[j];
        if (targets && targetSet.has(t)) {
          const old = results.get(t);
          results.set(t, old ? addInto(old, gi) : gi);
          if (!t.node) return;
          gi = gi.clone();
        }
        if (t.node) {
          const old = grads.get(t.node);
          grads.set(t.node, old ? addInto(old, gi) : gi);
        } else if (!targets && t.requiresGrad) accumulateLeaf(t, gi);
        else gi.dispose();
      });
    }
  } finally {
    for (const g of grads.values()) g.dispose();
    setGradEnabled(prev);
  }
  if (!targets) return [];
  return targets.map((t) => {
    const r = results.get(t);
    if (r) return keep(r);
    const z = t.detach();
    const zero = z.mul(0);
    z.dispose();
    return keep(zero);
  });
}

function addInto(a: Tensor, b: Tensor): Tensor {
  const s = a.add(b);
  a.dispose();
  b.dispose();
  return s;
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  keep(g);
  if (t.grad) {
    const s = keep(t.grad.add(g));
    t.grad.dispose();
    g.dispose();
    t.grad = s;
  } else t.grad = g;
}

/**
 * Drops the tape below `t` without differentiating (frees saved tensors).
 * @example
 * ```ts
 * import { init, tensor } from "@cnnf/webgpu";
 * import { releaseGraph } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const x = tensor([1, 2], [2], { requiresGrad: true });
 * const y = x.mul(x).sum();
 * assert.notEqual(y.node, null);
 * releaseGraph(y); // y's value stays, its history goes
 * assert.equal(y.node, null);
 * assert.equal(await y.item(), 5);
 * ```
 */
export function releaseGraph(t: Tensor): void {
  if (t.node) {
    const n = t.node;
    t.node = null;
    releaseNode(n);
  }
}
