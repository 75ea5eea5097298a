/**
 * IDX files, the format of MNIST and Fashion-MNIST: pure parsers that take
 * bytes (raw or gzip, detected by the 1f 8b magic and inflated with the
 * web-standard `DecompressionStream`) and validate them. Every error names
 * the file and what is wrong with it. No file access here, so the module
 * runs in a browser; the folder readers are in `idx_files.ts`.
 *
 * @module
 */

import { checkLabels, type Dataset } from "./dataset.ts";

/** Names of the Fashion-MNIST classes, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Magic number of an IDX file of unsigned bytes with three dimensions. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with one dimension. */
export const IDX_LABELS_MAGIC = 0x00000801;

/** Where the Debian package `dataset-fashion-mnist` installs its files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** A data split. */
export type Split = "train" | "test";

/** Standard IDX file names (without `.gz`) of each split. */
export const IDX_FILES: Readonly<
  Record<Split, { readonly images: string; readonly labels: string }>
> = {
  train: {
    images: "train-images-idx3-ubyte",
    labels: "train-labels-idx1-ubyte",
  },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/**
 * Whether `bytes` start with the gzip magic 1f 8b.
 * @example
 * ```ts
 * import { isGzip } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const gz = await new Response(
 *   new Blob([new Uint8Array(8)]).stream()
 *     .pipeThrough(new CompressionStream("gzip")),
 * ).bytes();
 * assert.ok(isGzip(gz));
 * assert.ok(!isGzip(new Uint8Array([0, 0, 8, 3])));
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates gzip data when it starts with the gzip magic; returns other data
 * unchanged. Errors name `name`.
 * @param bytes File contents.
 * @param name The file's path, for messages.
 * @example
 * ```ts
 * import { maybeGunzip } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const raw = new Uint8Array([1, 2, 3]);
 * const gz = await new Response(
 *   new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip")),
 * ).bytes();
 * assert.deepEqual(await maybeGunzip(gz, "x.gz"), raw);
 * ```
 */
export async function maybeGunzip(
  bytes: Uint8Array,
  name: string,
): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).bytes();
  } catch (e) {
    throw new Error(
      `${name}: cannot decompress gzip data: ${(e as Error).message}`,
    );
  }
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;

function readHeader(
  bytes: Uint8Array,
  name: string,
  magic: number,
  what: string,
): DataView {
  const headerLen = 4 + 4 * (magic & 0xff);
  if (bytes.length < 4) {
    throw new Error(
      `${name}: truncated: ${bytes.length} bytes cannot hold the ${headerLen}-byte ${what} header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0);
  if (got !== magic) {
    throw new Error(
      `${name}: wrong magic number ${hex(got)} (expected ${
        hex(magic)
      } for ${what})`,
    );
  }
  if (bytes.length < headerLen) {
    throw new Error(
      `${name}: truncated: ${bytes.length} bytes cannot hold the ${headerLen}-byte ${what} header`,
    );
  }
  return view;
}

function checkLength(
  name: string,
  bytes: Uint8Array,
  expected: number,
  says: string,
): void {
  if (bytes.length === expected) return;
  const kind = bytes.length < expected ? "truncated" : "trailing data";
  throw new Error(
    `${name}: ${kind}: header says ${says} but file holds ${bytes.length} bytes (expected ${expected})`,
  );
}

/** Images parsed from an IDX file. */
export interface IdxImages {
  /** Pixels, n×rows×cols bytes (a view into the file's bytes). */
  images: Uint8Array;
  /** Number of images. */
  n: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
}

/**
 * Parses (uncompressed) IDX image bytes: magic 0x00000803, three
 * big-endian dimensions, then the pixels; the length must match exactly.
 * @param bytes File contents.
 * @param name The file's path, for messages.
 * @example
 * ```ts
 * import { parseIdxImages } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const file = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9]);
 * assert.deepEqual(parseIdxImages(file, "a").images, new Uint8Array([7, 9]));
 * ```
 */
export function parseIdxImages(bytes: Uint8Array, name: string): IdxImages {
  const view = readHeader(bytes, name, IDX_IMAGES_MAGIC, "IDX images");
  const [n, rows, cols] = [
    view.getUint32(4),
    view.getUint32(8),
    view.getUint32(12),
  ];
  if (rows === 0 || cols === 0) {
    throw new Error(`${name}: header gives empty images of ${rows}x${cols}`);
  }
  checkLength(
    name,
    bytes,
    16 + n * rows * cols,
    `${n} images of ${rows}x${cols}`,
  );
  return { images: bytes.subarray(16), n, rows, cols };
}

/**
 * Parses (uncompressed) IDX label bytes: magic 0x00000801, one big-endian
 * count, then one byte per label; the length must match exactly.
 * @param bytes File contents.
 * @param name The file's path, for messages.
 * @example
 * ```ts
 * import { parseIdxLabels } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const file = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 4, 1]);
 * assert.deepEqual(parseIdxLabels(file, "l"), new Uint8Array([4, 1]));
 * ```
 */
export function parseIdxLabels(bytes: Uint8Array, name: string): Uint8Array {
  const view = readHeader(bytes, name, IDX_LABELS_MAGIC, "IDX labels");
  const n = view.getUint32(4);
  checkLength(name, bytes, 8 + n, `${n} labels`);
  return bytes.subarray(8);
}

/** Names and metadata of a dataset built from an IDX pair. */
export interface IdxPairOptions {
  /** Path of the images file, for messages. */
  imagesName: string;
  /** Path of the labels file, for messages. */
  labelsName: string;
  /** Class names (default: Fashion-MNIST's). */
  classes?: readonly string[];
  /** The dataset's `source` (default: the images path). */
  source?: string;
}

/**
 * Builds a dataset from an IDX images file and an IDX labels file (raw or
 * gzip bytes): both must parse, hold the same count, and every label must
 * name a class.
 * @param imageBytes Images file contents.
 * @param labelBytes Labels file contents.
 * @param options File names, classes, source.
 * @example
 * ```ts
 * import {
 *   IDX_IMAGES_MAGIC,
 *   IDX_LABELS_MAGIC,
 *   idxDataset,
 * } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const images = new Uint8Array(16 + 2 * 4); // two 2x2 images
 * const iv = new DataView(images.buffer);
 * [IDX_IMAGES_MAGIC, 2, 2, 2].forEach((v, i) => iv.setUint32(4 * i, v));
 * images.set([0, 64, 128, 255], 16);
 * const labels = new Uint8Array(8 + 2);
 * new DataView(labels.buffer).setUint32(0, IDX_LABELS_MAGIC);
 * new DataView(labels.buffer).setUint32(4, 2);
 * labels.set([1, 0], 8);
 * const ds = await idxDataset(images, labels, {
 *   imagesName: "a-images",
 *   labelsName: "a-labels",
 *   classes: ["no", "yes"],
 * });
 * assert.deepEqual([ds.n, ...ds.shape], [2, 1, 2, 2]);
 * assert.deepEqual([...ds.labels], [1, 0]);
 * labels[8] = 5; // no class 5
 * await assert.rejects(
 *   idxDataset(images, labels, {
 *     imagesName: "a-images",
 *     labelsName: "a-labels",
 *     classes: ["no", "yes"],
 *   }),
 *   /a-labels: label 5/,
 * );
 * ```
 */
export async function idxDataset(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  options: IdxPairOptions,
): Promise<Dataset> {
  const { imagesName, labelsName } = options;
  const img = parseIdxImages(
    await maybeGunzip(imageBytes, imagesName),
    imagesName,
  );
  const labels = parseIdxLabels(
    await maybeGunzip(labelBytes, labelsName),
    labelsName,
  );
  if (img.n !== labels.length) {
    throw new Error(
      `image count ${img.n} in ${imagesName} differs from label count ${labels.length} in ${labelsName}`,
    );
  }
  const classes = options.classes ?? FASHION_MNIST_CLASSES;
  checkLabels(labels, classes.length, labelsName);
  return {
    images: img.images,
    labels,
    n: img.n,
    shape: [1, img.rows, img.cols],
    classes,
    source: options.source ?? imagesName,
  };
}
