import assert from "node:assert/strict";
import { init, memoryStats } from "../../tensor/mod.ts";
import type { Dataset } from "../../train/data/mod.ts";
import { PRESETS, type TrainConfig } from "../../train/config.ts";
import { trainModel } from "../../train/loop.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";

/** Two classes: a bright square top-left or bottom-right, with noise. */
function toyData(n: number, seed: number): Dataset {
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels[i] = c;
    for (let p = 0; p < 784; p++) images[i * 784 + p] = Math.floor(rnd() * 60);
    const o = c ? 16 : 4;
    for (let y = o; y < o + 8; y++) {
      for (let x = o; x < o + 8; x++) images[i * 784 + y * 28 + x] = 230;
    }
  }
  return {
    images,
    labels,
    n,
    shape: [1, 28, 28],
    classes: ["tl", "br"],
    source: "toy",
  };
}

function config(out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...PRESETS.quick,
    adversarial: false,
    out,
    epochs: 2,
    batchSize: 8,
    lr: 0.05,
    testBatchSize: 16,
    maxCycles: 1,
    ...over,
  };
}

const data = { train: toyData(32, 1), test: toyData(16, 2) };

Deno.test("training a tiny CNN-F lowers the loss and writes a checkpoint", async () => {
  await init({ backend: "cpu" });
  const out = await Deno.makeTempDir();
  const before = memoryStats("cpu").liveBuffers;
  const r = await trainModel("cnnf", config(out, { epochs: 3 }), data);
  assert.ok(r.finished);
  assert.equal(r.history.length, 3);
  assert.ok(
    r.history[2].loss < r.history[0].loss,
    `loss ${r.history.map((h) => h.loss)}`,
  );
  const ck = await loadCheckpoint(`${out}/cnnf.ckpt.safetensors`);
  assert.equal(ck.meta.epoch, 3);
  assert.equal(ck.meta.step, 12);
  assert.ok(ck.tensors["conv1.conv.weight"]);
  assert.ok(ck.tensors["__optim__.momentum.0"]);
  r.model.parameters().forEach((p) => p.dispose());
  const after = memoryStats("cpu").liveBuffers;
  // At most the constant cache (64 scalars) may remain.
  assert.ok(
    after <= before + 64,
    `no storage leak across training: ${before} -> ${after}`,
  );
  await Deno.remove(out, { recursive: true });
});

Deno.test("--resume after a stop mid-epoch reproduces the uninterrupted run exactly", async () => {
  await init({ backend: "cpu" });
  const a = await Deno.makeTempDir();
  const b = await Deno.makeTempDir();
  const full = await trainModel("cnnf", config(a), data);
  // Interrupted after 3 steps (mid-epoch 1), then resumed to the end.
  let n = 0;
  const part = await trainModel("cnnf", config(b), data, {
    shouldStop: () => ++n >= 3,
  });
  assert.equal(part.finished, false);
  assert.equal(
    (await loadCheckpoint(`${b}/cnnf.ckpt.safetensors`)).meta.batch,
    3,
  );
  const resumed = await trainModel("cnnf", config(b), data, {}, {
    resume: true,
  });
  assert.ok(resumed.finished);
  const wa = full.model.namedParameters();
  const wb = resumed.model.namedParameters();
  for (let i = 0; i < wa.length; i++) {
    assert.deepEqual(
      await wb[i][1].data(),
      await wa[i][1].data(),
      `weights ${wa[i][0]}`,
    );
  }
  assert.deepEqual(
    resumed.history.map((h) => h.loss),
    full.history.map((h) => h.loss),
  );
  await Deno.remove(a, { recursive: true });
  await Deno.remove(b, { recursive: true });
});

Deno.test("resuming after a kill loses no finished epoch", async () => {
  await init({ backend: "cpu" });
  const a = await Deno.makeTempDir();
  const full = await trainModel("cnn", config(a, { epochs: 3 }), data, {
    // Keep the checkpoint as it was after epoch 1: what a run killed
    // during epoch 2 leaves behind.
    onEpoch: async (m) => {
      if (m.epoch === 1) {
        await Deno.copyFile(
          `${a}/cnn.ckpt.safetensors`,
          `${a}/epoch1.safetensors`,
        );
      }
    },
  });
  await Deno.rename(`${a}/epoch1.safetensors`, `${a}/cnn.ckpt.safetensors`);
  const resumed = await trainModel("cnn", config(a, { epochs: 3 }), data, {}, {
    resume: true,
  });
  assert.equal(resumed.history.length, 3);
  const wa = full.model.namedParameters();
  const wb = resumed.model.namedParameters();
  for (let i = 0; i < wa.length; i++) {
    assert.deepEqual(
      await wb[i][1].data(),
      await wa[i][1].data(),
      `weights ${wa[i][0]}`,
    );
  }
  await Deno.remove(a, { recursive: true });
});
