/**
 * CIFAR-10 in its binary form (`cifar-10-binary.tar.gz`, extracted): the
 * batch files `data_batch_1.bin` .. `data_batch_5.bin` (training) and
 * `test_batch.bin`, each a run of 3073-byte records: one label byte, then
 * 3×32×32 pixel bytes, red plane first, rows top to bottom (already CHW).
 * A pure parser that validates the bytes (browser-safe); the folder reader
 * is in `cifar_files.ts`.
 *
 * @module
 */

import { checkLabels, type Dataset } from "./dataset.ts";

/** Names of the CIFAR-10 classes, by label. */
export const CIFAR10_CLASSES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** Bytes of one CIFAR-10 record: a label and a 3×32×32 image. */
export const CIFAR_RECORD_BYTES: number = 1 + 3 * 32 * 32;

/** Batch file names of each split. */
export const CIFAR10_FILES: Readonly<
  Record<"train" | "test", readonly string[]>
> = {
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ["test_batch.bin"],
};

/** Images and labels of one CIFAR batch file. */
export interface CifarBatch {
  /** Pixels, n×3×32×32 bytes in CHW order. */
  images: Uint8Array;
  /** Labels 0..9. */
  labels: Uint8Array;
  /** Number of records. */
  n: number;
}

/**
 * Parses the bytes of a CIFAR-10 binary batch: the length must be a whole
 * number of 3073-byte records and every label below 10.
 * @param bytes File contents.
 * @param name The file's path, for messages.
 * @example
 * ```ts
 * import { parseCifarBatch } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const file = new Uint8Array(2 * 3073);
 * file[3073] = 7;
 * assert.deepEqual(parseCifarBatch(file, "b.bin").labels, new Uint8Array([0, 7]));
 * ```
 */
export function parseCifarBatch(bytes: Uint8Array, name: string): CifarBatch {
  if (bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new Error(
      `${name}: length ${bytes.length} is not a multiple of the ${CIFAR_RECORD_BYTES}-byte CIFAR-10 record (${
        Math.floor(bytes.length / CIFAR_RECORD_BYTES)
      } records and ${bytes.length % CIFAR_RECORD_BYTES} bytes left over)`,
    );
  }
  const n = bytes.length / CIFAR_RECORD_BYTES;
  const size = CIFAR_RECORD_BYTES - 1;
  const images = new Uint8Array(n * size);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * CIFAR_RECORD_BYTES;
    labels[i] = bytes[at];
    images.set(bytes.subarray(at + 1, at + CIFAR_RECORD_BYTES), i * size);
  }
  checkLabels(labels, 10, name, "record");
  return { images, labels, n };
}

/**
 * Joins parsed batches into one dataset of 3×32×32 images.
 * @param parts The batches, in order.
 * @param source The dataset's `source`.
 * @example Two batches joined
 * ```ts
 * import { CIFAR10_CLASSES, cifarDataset } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const batch = (label: number, n: number) => ({
 *   images: new Uint8Array(n * 3 * 32 * 32).fill(label),
 *   labels: new Uint8Array(n).fill(label),
 *   n,
 * });
 * const ds = cifarDataset([batch(3, 2), batch(9, 1)], "toy CIFAR");
 * assert.equal(ds.n, 3);
 * assert.deepEqual(ds.shape, [3, 32, 32]);
 * assert.deepEqual([...ds.labels], [3, 3, 9]);
 * assert.equal(ds.images[2 * 3072], 9); // third image from the second batch
 * assert.equal(ds.classes, CIFAR10_CLASSES);
 * ```
 */
export function cifarDataset(
  parts: readonly CifarBatch[],
  source: string,
): Dataset {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const size = CIFAR_RECORD_BYTES - 1;
  const images = new Uint8Array(n * size);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * size);
    labels.set(p.labels, at);
    at += p.n;
  }
  return {
    images,
    labels,
    n,
    shape: [3, 32, 32],
    classes: CIFAR10_CLASSES,
    source,
  };
}
