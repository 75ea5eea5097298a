/**
 * The op table: every primitive, typed over the op-name union so a missing
 * declaration fails `deno check`.
 *
 * @module
 */

import { convOps } from "./conv.ts";
import { elementwiseOps } from "./elementwise.ts";
import { matmulOps } from "./matmul.ts";
import { movementOps } from "./movement.ts";
import { normOps } from "./norm.ts";
import { poolOps } from "./pool.ts";
import { randomOps } from "./random.ts";
import { reduceOps } from "./reduce.ts";
import type { OpDef } from "./types.ts";

type Families =
  & typeof elementwiseOps
  & typeof movementOps
  & typeof reduceOps
  & typeof matmulOps
  & typeof convOps
  & typeof poolOps
  & typeof normOps
  & typeof randomOps;

/** Name of a primitive op. */
export type OpName = keyof Families;

/** Attributes of primitive `K`. */
export type AttrsOf<K extends OpName> = Families[K] extends OpDef<infer A> ? A
  : never;

/** Every primitive, by name. */
export const OPS: { readonly [K in OpName]: OpDef<AttrsOf<K>> } = {
  ...elementwiseOps,
  ...movementOps,
  ...reduceOps,
  ...matmulOps,
  ...convOps,
  ...poolOps,
  ...normOps,
  ...randomOps,
};
