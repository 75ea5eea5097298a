import assert from "node:assert/strict";
import {
  bernoulli,
  init,
  manualSeed,
  rand,
  randn,
  randomAt,
  rngState,
  setRngState,
} from "../../tensor/mod.ts";
import { assertClose, BACKENDS, testBackends } from "../_util.ts";

const total = (a: ArrayLike<number>) =>
  Array.from(a).reduce((s, v) => s + v, 0);

testBackends(
  "rand() is reproducible for a seed and uniform on [0, 1)",
  async () => {
    manualSeed(42);
    const a = await rand([5000]).data();
    manualSeed(42);
    const b = await rand([5000]).data();
    assert.deepEqual(a, b);
    const mean = total(a) / a.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
    assert.ok(Array.from(a).every((v) => v >= 0 && v < 1));
    const c = await rand([5000]).data();
    assert.notDeepEqual(a, c);
  },
);

testBackends("randn() has zero mean and unit variance", async () => {
  manualSeed(7);
  const x = await randn([20000]).data();
  const mean = total(x) / x.length;
  const v = total(Array.from(x, (t) => (t - mean) ** 2)) / x.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(v - 1) < 0.05, `variance ${v}`);
});

testBackends("bernoulli() draws ones with probability p", async () => {
  manualSeed(3);
  const x = await bernoulli(0.3, [10000]).data();
  const p = total(x) / x.length;
  assert.ok(Math.abs(p - 0.3) < 0.02, `p ${p}`);
});

testBackends("the RNG state can be saved and restored", async () => {
  manualSeed(9);
  rand([10]);
  const s = rngState();
  const a = await rand([10]).data();
  setRngState(s);
  const b = await rand([10]).data();
  assert.deepEqual(a, b);
});

Deno.test({
  name: "rand() and randn() give the same stream on every backend",
  ignore: BACKENDS.length < 2,
  fn: async () => {
    const draws: Float32Array[][] = [];
    for (const b of BACKENDS) {
      await init({ backend: b, seed: 5 });
      const u = await rand([1000]).data() as Float32Array;
      const n = await randn([1000]).data() as Float32Array;
      const far = await randomAt("uniform", [7], 5, 2 ** 32 + 3)
        .data() as Float32Array;
      draws.push([u, n, far]);
    }
    assert.deepEqual(draws[0][0], draws[1][0]);
    assert.deepEqual(draws[0][2], draws[1][2]);
    assertClose(draws[1][1], draws[0][1], { atol: 1e-5, rtol: 1e-5 });
  },
});
