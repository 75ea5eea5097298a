/**
 * Bad input at the user's surface: loss labels, dtypes, async scopes. Each
 * gives one line naming the op and the values, on every backend.
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  dlrLoss,
  ones,
  randint,
  tensor,
  tidy,
  zeros,
} from "../../mod.ts";
import { memoryStats } from "../../mod.ts";
import { oneLine, testBackends } from "../_util.ts";

const int = (v: number[]) => tensor(v, [v.length], { dtype: "int32" });

testBackends("crossEntropy rejects a label at or past the class count", () => {
  using logits = ones([2, 3]);
  using y = int([0, 5]);
  oneLine(
    () => crossEntropy(logits, y),
    /^crossEntropy: label 5 is out of range for 3 classes \(labels must be in \[0, 2\]\)$/,
  );
  using edge = int([3, 0]);
  oneLine(() => crossEntropy(logits, edge), /label 3 is out of range/);
}, { leakCheck: true });

testBackends("crossEntropy rejects a negative label", () => {
  using logits = ones([2, 3]);
  using y = int([-1, 0]);
  oneLine(
    () => crossEntropy(logits, y, { reduction: "none" }),
    /^crossEntropy: label -1 is out of range for 3 classes/,
  );
}, { leakCheck: true });

testBackends("float labels and mismatched lengths name op and values", () => {
  using logits = ones([2, 3]);
  using f = tensor([0, 1]);
  oneLine(
    () => crossEntropy(logits, f),
    /^crossEntropy: labels must be int32 class indices, got float32/,
  );
  using short = int([1]);
  oneLine(
    () => crossEntropy(logits, short),
    /^crossEntropy: labels \[1\] do not match logits \[2, 3\]/,
  );
  oneLine(() => dlrLoss(logits, short), /^dlrLoss: labels \[1\] do not match/);
}, { leakCheck: true });

testBackends("attack losses check label ranges too", () => {
  using logits = ones([2, 4]);
  using y = int([0, 4]);
  oneLine(() => dlrLoss(logits, y), /^dlrLoss: label 4 is out of range/);
});

testBackends("labels reshaped from host data keep their range check", () => {
  using logits = ones([2, 3]);
  using flat = int([0, 9]);
  using y = tidy(() => flat.reshape([1, 2]).reshape([2]));
  oneLine(() => crossEntropy(logits, y), /label 9 is out of range/);
}, { leakCheck: true });

testBackends("valid labels give the same loss as before", async () => {
  using logits = tensor([[2, 0, 0], [0, 1, 0]]);
  using y = int([0, 2]);
  using l = crossEntropy(logits, y, { reduction: "none" });
  const v = await l.data();
  const lse = (a: number[]) => Math.log(a.reduce((s, x) => s + Math.exp(x), 0));
  assert.ok(Math.abs(v[0] - (lse([2, 0, 0]) - 2)) < 1e-5);
  assert.ok(Math.abs(v[1] - lse([0, 1, 0])) < 1e-5);
}, { leakCheck: true });

testBackends("an unsupported dtype is an error, not silent float32", () => {
  const bad = { dtype: "float64" } as unknown as { dtype: "float32" };
  oneLine(
    () => tensor([1, 2], [2], bad),
    /^tensor: unsupported dtype 'float64' \(float32, int32\)$/,
  );
  oneLine(() => zeros([2], bad), /^zeros: unsupported dtype 'float64'/);
}, { leakCheck: true });

testBackends("tidy refuses an async function and frees nothing early", () => {
  const before = memoryStats().liveBuffers;
  oneLine(
    // deno-lint-ignore require-await
    () => tidy(async () => ones([2])),
    /^tidy: the function is async.*await outside it/,
  );
  oneLine(
    () => tidy(() => Promise.resolve(1)),
    /^tidy: the function is async/,
  );
  assert.equal(memoryStats().liveBuffers, before);
});

testBackends("randint draws int32 values in [low, high)", async () => {
  using r = randint(-3, 4, [2000]);
  assert.equal(r.dtype, "int32");
  const v = [...await r.data()];
  assert.ok(v.every((x) => x >= -3 && x < 4 && Number.isInteger(x)));
  // Every value turns up, roughly uniformly (2000/7 ≈ 286 each).
  for (let k = -3; k < 4; k++) {
    const c = v.filter((x) => x === k).length;
    assert.ok(c > 200 && c < 380, `value ${k} drawn ${c} times`);
  }
  oneLine(() => randint(3, 3, [1]), /^randint: need integers low < high/);
});

testBackends(
  "randint gives the same draw on a backend for a seed",
  async (b) => {
    const { init } = await import("../../mod.ts");
    await init({ backend: b, seed: 7 });
    using a = randint(0, 10, [16]);
    await init({ backend: b, seed: 7 });
    using c = randint(0, 10, [16]);
    assert.deepEqual([...await a.data()], [...await c.data()]);
  },
);
