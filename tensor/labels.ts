/**
 * Cheap validation of class indices. Labels almost always come from the
 * host (a dataset batch, `tensor([...])`), so the range of every int32
 * upload is noted when it is made, and a loss checks its labels against
 * that note without reading anything back from the GPU. Labels computed on
 * the device (an argmax) carry no note and are not checked there; on the
 * CPU backend the values are at hand and always checked.
 *
 * @module
 */

import type { Storage } from "./backend.ts";
import { fmt } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

const RANGES = new WeakMap<Storage, { min: number; max: number }>();

/** Notes the value range of int32 data uploaded into `storage`. */
export function noteIntRange(storage: Storage, data: Int32Array): void {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  RANGES.set(storage, { min, max });
}

function rangeOf(t: Tensor): { min: number; max: number } | undefined {
  const known = RANGES.get(t.storage);
  if (known) return known;
  const h = t.storage.handle;
  if (!(h instanceof Int32Array)) return undefined;
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < t.size; i++) {
    if (h[i] < min) min = h[i];
    if (h[i] > max) max = h[i];
  }
  return { min, max };
}

/**
 * Throws a one-line error unless `labels` is an int32 [N] tensor matching
 * logits [N, C] whose values (where known on the host) lie in [0, C).
 */
export function checkClassLabels(
  op: string,
  logits: Tensor,
  labels: Tensor,
): void {
  if (logits.rank !== 2) {
    throw new Error(`${op}: logits must be [N, C], got ${fmt(logits.shape)}`);
  }
  if (labels.dtype !== "int32") {
    throw new Error(
      `${op}: labels must be int32 class indices, got ${labels.dtype} (create them with { dtype: "int32" })`,
    );
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(
      `${op}: labels ${fmt(labels.shape)} do not match logits ${
        fmt(logits.shape)
      } (one label per row)`,
    );
  }
  const c = logits.shape[1];
  const r = labels.size ? rangeOf(labels) : undefined;
  if (r && (r.min < 0 || r.max >= c)) {
    const bad = r.min < 0 ? r.min : r.max;
    throw new Error(
      `${op}: label ${bad} is out of range for ${c} classes (labels must be in [0, ${
        c - 1
      }])`,
    );
  }
}
