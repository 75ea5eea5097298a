/**
 * The in-memory dataset form shared by every reader, and what turns it into
 * training batches: scaling bytes to [-1, 1] exactly as torchvision's
 * `ToTensor()` + `Normalize(0.5, 0.5)` does, a seeded per-epoch shuffle, the
 * CIFAR augmentation (zero-padded random crop, horizontal flip) and batching
 * that can resume at any batch of an epoch. Pure TypeScript, no file access.
 *
 * Randomness is counter-based: the order of an epoch depends only on
 * (seed, epoch) and an example's augmentation only on (seed, epoch, index),
 * so a resumed run sees exactly the batches an uninterrupted one would.
 *
 * @module
 */

import { tensor } from "../../tensor/creation.ts";
import type { Tensor } from "../../tensor/tensor.ts";

/**
 * Labelled images held as bytes. Pixels are NCHW, one byte each (0..255),
 * `images.length === n * shape[0] * shape[1] * shape[2]`; labels index
 * `classes`.
 */
export interface Dataset {
  /** Pixels, N×C×H×W bytes in NCHW order. */
  readonly images: Uint8Array;
  /** One class index per example. */
  readonly labels: Uint8Array;
  /** Number of examples. */
  readonly n: number;
  /** Shape of one example: [channels, height, width]. */
  readonly shape: readonly [number, number, number];
  /** Class names; `classes.length` is the number of classes. */
  readonly classes: readonly string[];
  /** Where the data came from, for the user (e.g. a folder, a package). */
  readonly source: string;
}

/** Byte → float32 exactly as torch computes `(x / 255 - 0.5) / 0.5`. */
const SCALE = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    t[b] = Math.fround(Math.fround(Math.fround(b / 255) - 0.5) / 0.5);
  }
  return t;
})();

/**
 * Scales pixel bytes to [-1, 1] (0 → -1, 255 → 1), bit-identical to
 * torchvision's `ToTensor()` followed by `Normalize(0.5, 0.5)`.
 * @param bytes Pixel bytes.
 * @returns float32 values in [-1, 1].
 * @example
 * ```ts
 * import { scalePixels } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * assert.deepEqual([...scalePixels(new Uint8Array([0, 255]))], [-1, 1]);
 * ```
 */
export function scalePixels(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = SCALE[bytes[i]];
  return out;
}

/** A 32-bit mixing hash of a counter under a key (two murmur3 finalisers). */
function mix(ctr: number, key: number): number {
  let h = (ctr ^ key) >>> 0;
  for (let r = 0; r < 2; r++) {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    h = (h + key) >>> 0;
  }
  return h >>> 0;
}

/** Key of a (seed, epoch, purpose) stream. */
function streamKey(seed: number, epoch: number, salt: number): number {
  return mix(mix(epoch >>> 0, (seed >>> 0) ^ 0x9e3779b9), salt);
}

const SALT_ORDER = 0x5bd1e995;
const SALT_AUGMENT = 0x27d4eb2f;

/** Options of the per-epoch order. */
export interface OrderOptions {
  /** Shuffle (default false: 0, 1, ..., n-1). */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0). */
  seed?: number;
  /** Epoch number; each epoch has its own permutation (default 0). */
  epoch?: number;
}

/**
 * The order in which an epoch visits the examples: the identity, or a
 * Fisher-Yates permutation driven by a counter-based hash of (seed, epoch).
 * The same arguments give the same permutation on every run and platform.
 * @param n Number of examples.
 * @param options shuffle, seed, epoch.
 * @returns A permutation of 0..n-1.
 * @example
 * ```ts
 * import { epochOrder } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const a = epochOrder(10, { shuffle: true, seed: 1, epoch: 3 });
 * assert.deepEqual(a, epochOrder(10, { shuffle: true, seed: 1, epoch: 3 }));
 * assert.deepEqual([...a].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * ```
 */
export function epochOrder(n: number, options: OrderOptions = {}): Int32Array {
  checkCount("epochOrder", "n", n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (!options.shuffle) return order;
  const key = streamKey(options.seed ?? 0, options.epoch ?? 0, SALT_ORDER);
  for (let i = n - 1; i > 0; i--) {
    // Multiply-high keeps the index uniform up to a bias of n / 2^32.
    const j = Math.floor((mix(i, key) / 4294967296) * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Augmentation of CIFAR training (torchvision order: crop, flip). */
export interface AugmentOptions {
  /**
   * Zero padding on each side before a random crop back to the original
   * size (default 4; 0 disables cropping). Padded pixels are black, so
   * they become -1 after scaling, as in torchvision.
   */
  padding?: number;
  /** Flip horizontally with probability 0.5 (default true). */
  flip?: boolean;
}

/** The random choices of one example's augmentation. */
export interface AugmentParams {
  /** Crop row offset into the padded image, 0..2·padding. */
  dy: number;
  /** Crop column offset into the padded image, 0..2·padding. */
  dx: number;
  /** Whether the crop is mirrored left-right. */
  flip: boolean;
}

/**
 * The crop offsets and flip of example `index` in `epoch`: a pure function
 * of (seed, epoch, index), so it does not depend on batch position.
 * @param seed Seed.
 * @param epoch Epoch.
 * @param index The example's index in the dataset.
 * @param options padding, flip.
 * @example
 * ```ts
 * import { augmentParams } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const p = augmentParams(0, 1, 42);
 * assert.ok(p.dy >= 0 && p.dy <= 8 && p.dx >= 0 && p.dx <= 8);
 * ```
 */
export function augmentParams(
  seed: number,
  epoch: number,
  index: number,
  options: AugmentOptions = {},
): AugmentParams {
  const pad = options.padding ?? 4;
  checkCount("augment", "padding", pad);
  const key = streamKey(seed, epoch, SALT_AUGMENT);
  const span = 2 * pad + 1;
  const pick = (k: number) =>
    Math.floor((mix(3 * index + k, key) / 4294967296) * span);
  return {
    dy: pick(0),
    dx: pick(1),
    flip: (options.flip ?? true) && mix(3 * index + 2, key) >= 0x80000000,
  };
}

/** Options of batching. */
export interface BatchOptions extends OrderOptions {
  /** Examples per batch. */
  batchSize: number;
  /** Drop a last batch smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Augment (true: padding 4 and flip; default none). */
  augment?: boolean | AugmentOptions;
  /** First batch of the epoch to produce, for resuming (default 0). */
  startBatch?: number;
}

/** One batch on the host, ready for upload. */
export interface HostBatch {
  /** Inputs in [-1, 1], B×C×H×W float32. */
  x: Float32Array;
  /** Labels, int32. */
  y: Int32Array;
  /** [B, C, H, W]. */
  shape: [number, number, number, number];
  /** Dataset indices of the examples, in batch order. */
  indices: Int32Array;
  /** Number of this batch within the epoch. */
  batch: number;
}

/** One batch as tensors on the current backend; dispose both when done. */
export interface Batch {
  /** Inputs [B, C, H, W] float32 in [-1, 1]. */
  x: Tensor;
  /** Labels [B] int32. */
  y: Tensor;
  /** Dataset indices of the examples, in batch order. */
  indices: Int32Array;
  /** Number of this batch within the epoch. */
  batch: number;
}

function checkCount(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`${op}: ${what} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Number of batches in an epoch of `n` examples.
 * @example
 * ```ts
 * import { numBatches } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * assert.equal(numBatches(10, 4), 3);
 * assert.equal(numBatches(10, 4, true), 2);
 * ```
 */
export function numBatches(
  n: number,
  batchSize: number,
  dropLast = false,
): number {
  checkCount("numBatches", "n", n);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(
      `batches: batchSize must be a positive integer, got ${batchSize}`,
    );
  }
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Writes the scaled (and, with `augment`, cropped and flipped) pixels of
 * the examples `indices` into `out`, one after another.
 * @param ds The dataset.
 * @param indices Dataset indices.
 * @param out Destination, at least `indices.length` examples long.
 * @param augment Augmentation with its seed and epoch, or undefined.
 * @example Bytes scaled to [-1, 1], in the order asked for
 * ```ts
 * import { type Dataset, fillInputs } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const ds: Dataset = {
 *   images: new Uint8Array([0, 255, 255, 0]), // two 1x1x2 images
 *   labels: new Uint8Array([0, 1]),
 *   n: 2,
 *   shape: [1, 1, 2],
 *   classes: ["a", "b"],
 *   source: "toy",
 * };
 * const out = new Float32Array(4);
 * fillInputs(ds, [1, 0], out);
 * assert.deepEqual([...out], [1, -1, -1, 1]);
 * ```
 */
export function fillInputs(
  ds: Dataset,
  indices: ArrayLike<number>,
  out: Float32Array,
  augment?: AugmentOptions & { seed: number; epoch: number },
): void {
  const [c, h, w] = ds.shape;
  const size = c * h * w;
  if (out.length < indices.length * size) {
    throw new Error(
      `fillInputs: output holds ${out.length} values, need ${
        indices.length * size
      }`,
    );
  }
  for (let b = 0; b < indices.length; b++) {
    const idx = indices[b];
    if (!Number.isInteger(idx) || idx < 0 || idx >= ds.n) {
      throw new Error(`fillInputs: index ${idx} outside 0..${ds.n - 1}`);
    }
    const src = idx * size;
    const dst = b * size;
    if (!augment) {
      for (let i = 0; i < size; i++) out[dst + i] = SCALE[ds.images[src + i]];
      continue;
    }
    const pad = augment.padding ?? 4;
    const { dy, dx, flip } = augmentParams(
      augment.seed,
      augment.epoch,
      idx,
      augment,
    );
    for (let ch = 0; ch < c; ch++) {
      const plane = src + ch * h * w;
      for (let y = 0; y < h; y++) {
        const sy = y + dy - pad;
        const row = dst + (ch * h + y) * w;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) + dx - pad;
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          out[row + x] = SCALE[inside ? ds.images[plane + sy * w + sx] : 0];
        }
      }
    }
  }
}

/**
 * Yields an epoch's batches as host arrays (float32 inputs in [-1, 1],
 * int32 labels), starting at `startBatch`, so the caller decides when and
 * where to upload them.
 * @param ds The dataset.
 * @param options batchSize, shuffle, seed, epoch, dropLast, augment,
 * startBatch.
 * @example
 * ```ts
 * import { hostBatches } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const ds = {
 *   images: new Uint8Array(5 * 4), labels: new Uint8Array(5), n: 5,
 *   shape: [1, 2, 2] as const, classes: ["a"], source: "zeros",
 * };
 * const sizes = [...hostBatches(ds, { batchSize: 2 })].map((b) => b.y.length);
 * assert.deepEqual(sizes, [2, 2, 1]);
 * ```
 */
export function hostBatches(
  ds: Dataset,
  options: BatchOptions,
): Generator<HostBatch> {
  const { batchSize } = options;
  const count = numBatches(ds.n, batchSize, options.dropLast);
  const start = options.startBatch ?? 0;
  checkCount("batches", "startBatch", start);
  if (start > count) {
    throw new Error(
      `batches: startBatch ${start} is past the epoch's ${count} batches`,
    );
  }
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  const order = epochOrder(ds.n, { shuffle: options.shuffle, seed, epoch });
  const aug = options.augment === true
    ? { seed, epoch }
    : options.augment
    ? { ...options.augment, seed, epoch }
    : undefined;
  const [c, h, w] = ds.shape;
  // Options are checked above, at the call, not at the first `next()`.
  return (function* () {
    for (let b = start; b < count; b++) {
      const indices = order.slice(b * batchSize, (b + 1) * batchSize);
      const bs = indices.length;
      const x = new Float32Array(bs * c * h * w);
      fillInputs(ds, indices, x, aug);
      const y = new Int32Array(bs);
      for (let i = 0; i < bs; i++) y[i] = ds.labels[indices[i]];
      const batch: HostBatch = {
        x,
        y,
        shape: [bs, c, h, w],
        indices,
        batch: b,
      };
      yield batch;
    }
  })();
}

/**
 * Yields an epoch's batches as tensors on the current backend (created one
 * batch at a time, as the iterator advances). Dispose `x` and `y` after use.
 * @param ds The dataset.
 * @param options batchSize, shuffle, seed, epoch, dropLast, augment,
 * startBatch.
 * @example
 * ```ts
 * import { batches } from "@cnnf/webgpu/data";
 * import { init } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const ds = {
 *   images: new Uint8Array(3 * 4), labels: new Uint8Array([0, 1, 1]), n: 3,
 *   shape: [1, 2, 2] as const, classes: ["a", "b"], source: "zeros",
 * };
 * for (const { x, y } of batches(ds, { batchSize: 2, dropLast: true })) {
 *   assert.deepEqual(x.shape, [2, 1, 2, 2]);
 *   x.dispose();
 *   y.dispose();
 * }
 * ```
 */
export function batches(
  ds: Dataset,
  options: BatchOptions,
): Generator<Batch> {
  const host = hostBatches(ds, options);
  return (function* () {
    for (const hb of host) {
      const batch: Batch = {
        x: tensor(hb.x, hb.shape),
        y: tensor(hb.y, [hb.y.length], { dtype: "int32" }),
        indices: hb.indices,
        batch: hb.batch,
      };
      yield batch;
    }
  })();
}

/**
 * The first `count` examples (all of them when `count` ≥ n), sharing the
 * pixel and label memory with `ds`.
 * @example
 * ```ts
 * import { subset } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const ds = {
 *   images: new Uint8Array(3), labels: new Uint8Array([2, 0, 1]), n: 3,
 *   shape: [1, 1, 1] as const, classes: ["a", "b", "c"], source: "toy",
 * };
 * assert.deepEqual([...subset(ds, 2).labels], [2, 0]);
 * ```
 */
export function subset(ds: Dataset, count: number): Dataset {
  checkCount("subset", "count", count);
  const n = Math.min(count, ds.n);
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return {
    ...ds,
    images: ds.images.subarray(0, n * size),
    labels: ds.labels.subarray(0, n),
    n,
    source: n < ds.n ? `${ds.source}, first ${n} of ${ds.n}` : ds.source,
  };
}

/**
 * How many examples each class has, indexed by label.
 * @example
 * ```ts
 * import { classCounts } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const ds = {
 *   images: new Uint8Array(3), labels: new Uint8Array([2, 0, 2]), n: 3,
 *   shape: [1, 1, 1] as const, classes: ["a", "b", "c"], source: "toy",
 * };
 * assert.deepEqual(classCounts(ds), [1, 0, 2]);
 * ```
 */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]]++;
  return counts;
}

/**
 * Checks a dataset's invariants: sizes agree and every label names a
 * class. Throws an error naming `ds.source` and the first problem.
 * @example
 * ```ts
 * import { type Dataset, validateDataset } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const ds: Dataset = {
 *   images: new Uint8Array(3 * 4),
 *   labels: new Uint8Array([0, 1, 1]),
 *   n: 3,
 *   shape: [1, 2, 2],
 *   classes: ["a", "b"],
 *   source: "toy set",
 * };
 * validateDataset(ds);
 * assert.throws(
 *   () => validateDataset({ ...ds, n: 4 }),
 *   /toy set: 12 pixel bytes do not hold 4 images of 1x2x2/,
 * );
 * ```
 */
export function validateDataset(ds: Dataset): void {
  const [c, h, w] = ds.shape;
  if (ds.images.length !== ds.n * c * h * w) {
    throw new Error(
      `${ds.source}: ${ds.images.length} pixel bytes do not hold ${ds.n} images of ${c}x${h}x${w}`,
    );
  }
  if (ds.labels.length !== ds.n) {
    throw new Error(
      `${ds.source}: ${ds.labels.length} labels for ${ds.n} images`,
    );
  }
  checkLabels(ds.labels, ds.classes.length, ds.source, "index");
}

/**
 * Throws `"<name>: label L at <what> I is out of range (K classes)"` for
 * the first label ≥ `numClasses`.
 * @example
 * ```ts
 * import { checkLabels } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * checkLabels(new Uint8Array([0, 2, 1]), 3, "toy"); // all in range
 * assert.throws(
 *   () => checkLabels(new Uint8Array([0, 7]), 3, "toy", "record"),
 *   /^Error: toy: label 7 at record 1 is out of range \(3 classes\)$/,
 * );
 * ```
 */
export function checkLabels(
  labels: Uint8Array,
  numClasses: number,
  name: string,
  what = "index",
): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(
        `${name}: label ${
          labels[i]
        } at ${what} ${i} is out of range (${numClasses} classes)`,
      );
    }
  }
}
