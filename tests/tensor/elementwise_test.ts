import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import { type Tensor, tensor, where } from "../../tensor/mod.ts";
import {
  assertClose,
  assertGradients,
  assertMatchesCpu,
  randomData,
  randomTensor,
  testBackends,
} from "../_util.ts";

type Unary = (x: Tensor) => Tensor;
// Each unary op with its math reference and a domain that avoids kinks.
const UNARY: [string, Unary, (v: number) => number, number, number][] = [
  ["neg", (x) => x.neg(), (v) => -v, -2, 2],
  ["exp", (x) => x.exp(), Math.exp, -3, 3],
  ["log", (x) => x.log(), Math.log, 0.1, 4],
  ["sqrt", (x) => x.sqrt(), Math.sqrt, 0.1, 4],
  ["abs", (x) => x.abs(), Math.abs, -2, 2],
  ["relu", (x) => x.relu(), (v) => Math.max(v, 0), -2, 2],
  ["sigmoid", (x) => x.sigmoid(), (v) => 1 / (1 + Math.exp(-v)), -6, 6],
  ["tanh", (x) => x.tanh(), Math.tanh, -3, 3],
  ["sin", (x) => x.sin(), Math.sin, -3, 3],
  ["cos", (x) => x.cos(), Math.cos, -3, 3],
  [
    "clamp",
    (x) => x.clamp(-0.5, 0.7),
    (v) => Math.min(Math.max(v, -0.5), 0.7),
    -2,
    2,
  ],
];

type Binary = (a: Tensor, b: Tensor) => Tensor;
const BINARY: [
  string,
  Binary,
  (a: number, b: number) => number,
  number,
  number,
][] = [
  ["add", (a, b) => a.add(b), (a, b) => a + b, -2, 2],
  ["sub", (a, b) => a.sub(b), (a, b) => a - b, -2, 2],
  ["mul", (a, b) => a.mul(b), (a, b) => a * b, -2, 2],
  ["div", (a, b) => a.div(b), (a, b) => a / b, 0.5, 2],
  ["pow", (a, b) => a.pow(b), Math.pow, 0.5, 2],
  ["minimum", (a, b) => a.minimum(b), Math.min, -2, 2],
  ["maximum", (a, b) => a.maximum(b), Math.max, -2, 2],
];

const SHAPES: [number[], number[]][] = [
  [[1], [1]],
  [[7, 13], [7, 13]],
  [[3, 1, 5], [4, 1]],
  [[2, 3, 5, 7], [1, 3, 1, 1]],
  [[257], []],
  [[1031, 3], [1, 3]],
];

for (const [name, f, ref, lo, hi] of UNARY) {
  testBackends(
    `${name}() matches the math reference and the CPU kernel`,
    async (b) => {
      const data = randomData(97, 3, lo, hi);
      const out = await f(tensor(data, [97])).data();
      assertClose(out, Array.from(data, ref), { atol: 1e-5, rtol: 1e-5 });
      await assertMatchesCpu(b, () => f(randomTensor([3, 31, 11], 5, lo, hi)));
    },
  );
  testBackends(`${name}() gradient matches finite differences`, async (b) => {
    await assertGradients(b, (x) => f(x).mul(f(x)).sum(), [
      { data: randomData(23, 9, lo, hi), shape: [23] },
    ]);
  });
}

for (const [name, f, ref, lo, hi] of BINARY) {
  testBackends(`${name}() broadcasts and matches the CPU kernel`, async (b) => {
    const a = randomData(6, 1, lo, hi);
    const c = randomData(3, 2, lo, hi);
    const got = await f(tensor(a, [2, 3]), tensor(c, [3])).data();
    const want = Array.from(a, (v, i) => ref(v, c[i % 3]));
    assertClose(got, want, { atol: 1e-5, rtol: 1e-5 });
    for (const [sa, sb] of SHAPES) {
      await assertMatchesCpu(
        b,
        () => f(randomTensor(sa, 3, lo, hi), randomTensor(sb, 4, lo, hi)),
      );
    }
  });
  testBackends(
    `${name}() gradient matches finite differences with broadcasting`,
    async (b) => {
      await assertGradients(b, (x, y) => f(x, y).sum(), [
        { data: randomData(15, 7, lo, hi), shape: [3, 5] },
        { data: randomData(5, 8, lo + 0.01, hi - 0.01), shape: [5] },
      ]);
    },
  );
}

testBackends(
  "comparisons give 0/1 float masks on float and int inputs",
  async (b) => {
    const x = tensor([1, 2, 3, 4]);
    const y = tensor([4, 2, 2, 5]);
    assert.deepEqual([...await x.gt(y).data()], [0, 0, 1, 0]);
    assert.deepEqual([...await x.ge(y).data()], [0, 1, 1, 0]);
    assert.deepEqual([...await x.lt(y).data()], [1, 0, 0, 1]);
    assert.deepEqual([...await x.le(y).data()], [1, 1, 0, 1]);
    assert.deepEqual([...await x.eq(y).data()], [0, 1, 0, 0]);
    assert.deepEqual([...await x.ne(y).data()], [1, 0, 1, 1]);
    const i = tensor([1, 5, 3], [3], { dtype: "int32" });
    const m = i.eq(5);
    assert.equal(m.dtype, "float32");
    assert.deepEqual([...await m.data()], [0, 1, 0]);
    await assertMatchesCpu(
      b,
      () => randomTensor([5, 1, 3], 1).lt(randomTensor([4, 1], 2)),
    );
  },
);

testBackends("comparison gradients are zero by design", async () => {
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  x.gt(0).mul(x).sum().backward();
  assert.deepEqual([...await x.grad!.data()], [1, 0, 1]);
});

testBackends("where() selects, broadcasts and routes gradients", async (b) => {
  const c = tensor([1, 0, 1]);
  const got = await where(c, tensor([1, 2, 3]), tensor([[10], [20]])).data();
  assert.deepEqual([...got], [1, 10, 3, 1, 20, 3]);
  await assertMatchesCpu(
    b,
    () =>
      where(
        randomTensor([4, 5], 1).gt(0),
        randomTensor([4, 5], 2),
        randomTensor([5], 3),
      ),
  );
  await assertGradients(b, (x, y) => where(x.gt(0), x.mul(y), y).sum(), [
    { data: randomData(6, 4), shape: [6] },
    { data: randomData(6, 5), shape: [6] },
  ]);
});

testBackends(
  "pow() handles negative bases with integer exponents like PyTorch",
  async () => {
    const got = await tensor([-2, -2, 0, 0, 4]).pow(tensor([2, 3, 0, 2, 0.5]))
      .data();
    assert.deepEqual([...got], [4, -8, 1, 0, 2]);
  },
);

testBackends(
  "sin() and cos() stay within 1e-6 of Math.sin and Math.cos over [-100, 100]",
  async () => {
    const x = Float32Array.from({ length: 4001 }, (_, i) => -100 + i / 20);
    const t = tensor(x);
    const [s, c] = [await t.sin().data(), await t.cos().data()];
    assertClose(s, Array.from(x, Math.sin), { atol: 1e-6, rtol: 0 });
    assertClose(c, Array.from(x, Math.cos), { atol: 1e-6, rtol: 0 });
  },
);

testBackends(
  "pow() gives infinities and NaN where Math.pow does",
  async () => {
    const a = [0, -0, -0, 0, -0, -2, -0, -0];
    const b = [-1, -3, -2, -2.5, 3, 0.5, 2, 0];
    const got = await tensor(a).pow(tensor(b)).data();
    const want = a.map((x, i) => Math.fround(Math.pow(x, b[i])));
    assert.deepEqual([...got], want);
  },
);

testBackends("cast() converts between float32 and int32", async () => {
  const i = tensor([1.7, -2.5, 3]).cast("int32");
  assert.equal(i.dtype, "int32");
  assert.deepEqual([...await i.data()], [1, -2, 3]);
  const f = i.cast("float32");
  assert.deepEqual([...await f.add(0.5).data()], [1.5, -1.5, 3.5]);
});

testBackends(
  "a large elementwise op covers more than one dispatch row",
  async (b) => {
    // 65535 * 256 + 1 elements would be too many for lavapipe; 70000 still
    // needs many workgroups and an odd tail.
    await assertMatchesCpu(
      b,
      () => randomTensor([70001], 1).mul(randomTensor([1], 2)),
    );
  },
);
