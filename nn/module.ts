/**
 * `Module`: the base of layers and models. Parameters and children are found
 * from property names, as in PyTorch, so `stateDict()` keys come out as
 * PyTorch's (`conv1.weight`, `block1.layer.0.conv1.weight`, ...).
 *
 * @module
 */

import { Tensor } from "../tensor/tensor.ts";
import { fmt } from "../tensor/shape.ts";
import { keep, tidy } from "../tensor/engine.ts";
import { describeModule } from "./inspect.ts";

/** Options of `loadStateDict`. */
export interface LoadOptions {
  /** Require exactly the module's keys (default true). */
  strict?: boolean;
  /** Name of the source (a file path) for error messages. */
  source?: string;
}

/**
 * Tensors registered as parameters. Membership, not `requiresGrad`, makes a
 * parameter, so freezing one (as attacks do) does not hide it from
 * `parameters()` or `stateDict()`.
 */
const PARAMETERS = new WeakSet<Tensor>();

/**
 * Base class of layers and models.
 * @example
 * ```ts
 * import { Linear, Module, type Tensor, randn, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * class TwoLayer extends Module {
 *   fc1 = new Linear(4, 8);
 *   fc2 = new Linear(8, 2);
 *   scale = this.param(tensor([1])); // a parameter of this module
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.forward(this.fc1.forward(x).relu()).mul(this.scale);
 *   }
 * }
 * const net = new TwoLayer();
 * assert.deepEqual(net.forward(randn([3, 4])).shape, [3, 2]);
 * assert.deepEqual(Object.keys(net.stateDict()), [
 *   "scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
 * ]);
 * net.dispose();
 * ```
 */
export class Module {
  /** Training mode (dropout active, etc.). */
  training = true;

  /**
   * Marks a tensor as a parameter (a leaf that requires grad) and returns it;
   * assign the result to a property so it gets the property's name.
   */
  protected param(t: Tensor): Tensor {
    t.requiresGrad = true;
    PARAMETERS.add(t);
    return keep(t);
  }

  /** Direct children with their property names. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (
        Array.isArray(v) && v.length && v.every((m) => m instanceof Module)
      ) {
        v.forEach((m, i) => out.push([`${k}.${i}`, m as Module]));
      }
    }
    return out;
  }

  /** Own parameters (registered with `param()`, held in properties). */
  protected ownParameters(): [string, Tensor][] {
    return Object.entries(this).filter(([, v]) =>
      v instanceof Tensor && PARAMETERS.has(v)
    ) as [string, Tensor][];
  }

  /**
   * Every parameter with its dotted name, depth-first in property order.
   * A tied parameter appears under each name it is reachable by.
   */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = this.ownParameters().map((
      [k, v],
    ) => [prefix + k, v]);
    for (const [k, m] of this.namedChildren()) {
      out.push(...m.namedParameters(`${prefix}${k}.`));
    }
    return out;
  }

  /** Each distinct parameter once (tied ones are listed once). */
  parameters(): Tensor[] {
    return [...new Set(this.namedParameters().map(([, t]) => t))];
  }

  /** Every module in the tree (this one first). */
  modules(): Module[] {
    return [this, ...this.namedChildren().flatMap(([, m]) => m.modules())];
  }

  /** Sets training mode on this module and its descendants. */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }

  /** Sets evaluation mode. */
  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Frees every tensor the module tree owns: parameters, their gradients,
   * and buffers or state held in properties. The module is unusable after;
   * `memoryStats()` returns to what it was before the module was built.
   * `using model = new ...` calls it at the end of the block.
   * @example Freeing a model
   * ```ts
   * import { init, Linear, memoryStats, tidy } from "@cnnf/webgpu";
   * import assert from "node:assert/strict";
   *
   * await init({ backend: "cpu", seed: 0 });
   * const use = () => {
   *   const fc = new Linear(8, 4);
   *   tidy(() => fc.weight.sum().backward()); // a gradient, freed too
   *   fc.dispose();
   * };
   * use(); // caches scalar constants (init bounds, the seed gradient)
   * const before = memoryStats().liveBuffers;
   * use();
   * assert.equal(memoryStats().liveBuffers, before);
   * ```
   */
  dispose(): void {
    for (const m of this.modules()) {
      for (const v of Object.values(m)) {
        const list: unknown[] = Array.isArray(v) ? v : [v];
        for (const t of list) if (t instanceof Tensor) t.dispose();
      }
    }
  }
  /**
   * The layer tree with each layer's parameter shapes and the total
   * parameter count, as PyTorch prints a model (`console.log(model)` shows
   * the same).
   * @example
   * ```ts
   * import { init, Linear, ReLU, Sequential } from "@cnnf/webgpu";
   * import assert from "node:assert/strict";
   *
   * await init({ backend: "cpu", seed: 0 });
   * const net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
   * assert.equal(String(net), [
   *   "Sequential(",
   *   "  (0): Linear(weight: [8, 4], bias: [8])",
   *   "  (1): ReLU()",
   *   "  (2): Linear(weight: [2, 8], bias: [2])",
   *   ")",
   *   "58 parameters",
   * ].join("\n"));
   * ```
   */
  toString(): string {
    return describeModule(this);
  }
  /** Same as `dispose()`, so `using model = ...` works. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Parameters by dotted name (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters());
  }

  /**
   * Copies values from `dict` into the parameters.
   * @throws {Error} naming the source and key for missing, unexpected or
   *   mis-shaped entries.
   */
  loadStateDict(dict: Record<string, Tensor>, options: LoadOptions = {}): void {
    const strict = options.strict ?? true;
    const src = options.source ? `${options.source}: ` : "";
    const own = this.namedParameters();
    const names = new Set(own.map(([k]) => k));
    if (strict) {
      const missing = own.map(([k]) => k).filter((k) => !(k in dict));
      if (missing.length) {
        throw new Error(
          `${src}missing key${missing.length > 1 ? "s" : ""} ${
            missing.join(", ")
          }`,
        );
      }
      const extra = Object.keys(dict).filter((k) => !names.has(k));
      if (extra.length) {
        throw new Error(
          `${src}unexpected key${extra.length > 1 ? "s" : ""} ${
            extra.join(", ")
          }`,
        );
      }
    }
    for (const [k, p] of own) {
      const v = dict[k];
      if (!v) continue;
      if (v.shape.join() !== p.shape.join() || v.dtype !== p.dtype) {
        throw new Error(
          `${src}key ${k} has shape ${fmt(v.shape)} ${v.dtype}, expected ${
            fmt(p.shape)
          } ${p.dtype}`,
        );
      }
    }
    tidy(() => {
      for (const [k, p] of own) {
        const v = dict[k];
        if (!v) continue;
        if (v.backend === p.backend) p.assign(v.clone());
        else {throw new Error(
            `${src}key ${k} lives on ${v.backend}, parameter on ${p.backend}`,
          );}
      }
    });
  }
}

// `console.log(model)` prints the layer tree instead of every property.
Object.defineProperty(Module.prototype, Symbol.for("Deno.customInspect"), {
  value(this: Module): string {
    return describeModule(this);
  },
});
