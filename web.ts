/// <reference lib="esnext.disposable" />
/**
 * The browser (and Node.js) entry: everything of `mod.ts` plus the parts of
 * `./train` and `./data` that are pure computation, namely the dataset
 * helpers, the IDX and CIFAR-10 binary parsers, PNG encoding and the HTML
 * report renderer. Nothing reachable from here touches `Deno.*`, `node:*` or
 * npm, so `deno task bundle` turns it into one ES module (`dist/web.js`) and
 * `tsc` with `lib: ["dom", "es2023"]` type-checks it. File loading
 * (`loadFashionMnist`, `loadCifar10`, checkpoints by path) stays in the
 * Deno-only `./train` and `./data` entry points; in a page, fetch the bytes
 * and hand them to the parsers.
 *
 * @example Parse an IDX pair fetched by the page
 * ```ts ignore
 * import { idxDataset } from "./web.ts";
 * const [img, lab] = await Promise.all(
 *   ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"].map(async (u) =>
 *     new Uint8Array(await (await fetch(u)).arrayBuffer())
 *   ),
 * );
 * const test = await idxDataset(img, lab, {
 *   imagesName: "images",
 *   labelsName: "labels",
 * });
 * console.log(test.n, test.shape);
 * ```
 *
 * @module
 */

export * from "./mod.ts";
export {
  type AdapterClass,
  type AdapterInfoRecord,
  classifyAdapter,
  requestAdapter,
  summarizeAdapter,
} from "./gpu/mod.ts";
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
} from "./train/data/dataset.ts";
export {
  FASHION_MNIST_CLASSES,
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
} from "./train/data/idx.ts";
export {
  CIFAR10_CLASSES,
  CIFAR10_FILES,
  CIFAR_RECORD_BYTES,
  type CifarBatch,
  cifarDataset,
  parseCifarBatch,
} from "./train/data/cifar.ts";
export {
  type CurvePoint,
  renderReport,
  type ReportData,
  type ReportExample,
} from "./train/report.ts";
export { encodePng, imageDataUrl } from "./train/png.ts";
