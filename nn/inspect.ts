/**
 * How a module prints (`console.log(model)`, `Deno.inspect`, `String`):
 * its layer tree like PyTorch's `repr`, each layer with its own parameters'
 * shapes, and the parameter count of the whole model (tied parameters
 * counted once).
 *
 * @module
 */

import { sizeOf } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** What the printer needs of a module (avoids an import cycle). */
export interface InspectableModule {
  /** Direct children with their property names. */
  namedChildren(): [string, InspectableModule][];
  /** Every parameter with its dotted name. */
  namedParameters(prefix?: string): [string, Tensor][];
  /** Each distinct parameter once. */
  parameters(): Tensor[];
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function ownParams(m: InspectableModule): [string, Tensor][] {
  const children = new Set(m.namedChildren().map(([k]) => `${k}.`));
  return m.namedParameters().filter(([k]) =>
    ![...children].some((c) => k.startsWith(c))
  );
}

function lines(m: InspectableModule, indent: string): string[] {
  const name = m.constructor.name;
  const own = ownParams(m).map(([k, t]) => `${k}: [${t.shape.join(", ")}]`);
  const kids = m.namedChildren();
  if (!kids.length) return [`${name}(${own.join(", ")})`];
  const out = [`${name}(`];
  const inner = indent + "  ";
  if (own.length) out.push(`${inner}${own.join(", ")}`);
  for (const [k, c] of kids) {
    const sub = lines(c, inner);
    out.push(`${inner}(${k}): ${sub[0]}`, ...sub.slice(1));
  }
  out.push(`${indent})`);
  return out;
}

/** The module tree as text, ending with the parameter count. */
export function describeModule(m: InspectableModule): string {
  const total = m.parameters().reduce((s, p) => s + sizeOf(p.shape), 0);
  return `${lines(m, "").join("\n")}\n${count(total)} parameters`;
}
