import assert from "node:assert/strict";
import { grad, gradcheck, noGrad, valueAndGrad } from "../../autograd/mod.ts";
import { computeGrads } from "../../internals.ts";
import { memoryStats, tensor, tidy } from "../../tensor/mod.ts";
import { assertClose, randomData, testBackends } from "../_util.ts";

testBackends(
  "backward() accumulates into leaves across calls and fan-out",
  async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    // y uses x twice: d/dx (x*x + 3x) = 2x + 3.
    x.mul(x).add(x.mul(3)).sum().backward();
    assert.deepEqual([...await x.grad!.data()], [5, 7, 9]);
    x.sum().backward();
    assert.deepEqual([...await x.grad!.data()], [6, 8, 10]);
  },
);

testBackends(
  "backward() needs a seed gradient for non-scalar outputs",
  async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), /one-element output, got \[2\]/);
    x.mul(2).backward(tensor([1, 10]));
    assert.deepEqual([...await x.grad!.data()], [2, 20]);
  },
);

testBackends(
  "a graph cannot be differentiated twice without retainGraph",
  () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    assert.throws(() => y.backward(), /already differentiated/);
    const z = x.exp().sum();
    computeGrads(z, { retainGraph: true });
    z.backward();
  },
);

testBackends("noGrad() and detach() stop recording", async () => {
  const x = tensor([1, 2], [2], { requiresGrad: true });
  const y = noGrad(() => x.mul(2));
  assert.equal(y.node, null);
  const z = x.detach().mul(x).sum();
  z.backward();
  assert.deepEqual([...await x.grad!.data()], [1, 2]);
});

testBackends(
  "grad() differentiates w.r.t. chosen inputs and leaves .grad alone",
  async () => {
    const w = tensor([0.5, -1], [2], { requiresGrad: true });
    const x = tensor([3, 4]);
    const [gx] = grad((xi) => xi.mul(w).square().sum())(x);
    assert.deepEqual([...await gx.data()], [2 * 0.25 * 3, 2 * 1 * 4]);
    assert.equal(w.grad, null, "parameter gradient untouched");
    const { value, grads } = valueAndGrad((a, b) => a.mul(b).sum(), [1])(x, w);
    assert.equal(await value.item(), 3 * 0.5 - 4);
    assert.equal(grads.length, 1);
    assert.deepEqual([...await grads[0].data()], [3, 4]);
  },
);

testBackends(
  "grad() returns zeros for an input the output does not use",
  async () => {
    const [ga, gb] = grad((a, _b) => a.sum())(tensor([1, 2]), tensor([5]));
    assert.deepEqual([...await ga.data()], [1, 1]);
    assert.deepEqual([...await gb.data()], [0]);
  },
);

testBackends("a deep composite matches finite differences", () => {
  const r = gradcheck(
    (x, w) => x.mul(w).tanh().exp().log().sigmoid().mul(x).sum(),
    [
      { data: randomData(12, 1), shape: [3, 4] },
      { data: randomData(4, 2), shape: [4] },
    ],
  );
  assert.ok(r.ok, JSON.stringify(r));
  assert.ok(r.maxAbsError < 1e-7, `float64 differences: ${r.maxAbsError}`);
});

testBackends("gradcheck() detects a wrong gradient", () => {
  // relu at a kink: numeric 0.5, analytic 0 or 1.
  const r = gradcheck((x) => x.relu().sum(), [{
    data: new Float32Array([0]),
    shape: [1],
  }]);
  assert.equal(r.ok, false);
});

testBackends("tidy() frees intermediates and the tape after backward", (b) => {
  const w = tensor(randomData(6, 3), [2, 3], { requiresGrad: true });
  const x = tensor(randomData(6, 4), [3, 2]);
  const before = memoryStats(b).liveBuffers;
  for (let i = 0; i < 5; i++) {
    tidy(() => {
      w.exp().mul(x.transpose()).sum().backward();
    });
    w.grad!.dispose();
    w.grad = null;
  }
  assert.equal(memoryStats(b).liveBuffers, before);
});

testBackends(
  "disposing an un-differentiated graph frees saved tensors",
  (b) => {
    const w = tensor(randomData(6, 3), [6], { requiresGrad: true });
    const before = memoryStats(b).liveBuffers;
    const y = tidy(() => w.exp().mul(w).log().sum());
    assert.ok(
      memoryStats(b).liveBuffers > before + 1,
      "tape holds saved tensors",
    );
    y.dispose();
    assert.equal(memoryStats(b).liveBuffers, before);
  },
);

testBackends("using disposes at scope end", (b) => {
  const before = memoryStats(b).liveBuffers;
  {
    using t = tensor([1, 2, 3]);
    assert.equal(memoryStats(b).liveBuffers, before + 1);
    assert.equal(t.size, 3);
  }
  assert.equal(memoryStats(b).liveBuffers, before);
});

testBackends("a disposed tensor cannot be used", () => {
  const t = tensor([1]);
  t.dispose();
  assert.throws(() => t.add(1), /add: input \[1\] was disposed/);
});

testBackends("assign() swaps data for optimizer updates", async () => {
  const p = tensor([1, 2], [2], { requiresGrad: true });
  const q = tidy(() => p.sub(tensor([0.5, 0.5])));
  p.assign(q);
  q.dispose();
  assert.deepEqual([...await p.data()], [0.5, 1.5]);
  assert.throws(() => p.assign(tensor([1, 2, 3])), /assign: source \[3\]/);
});

testBackends(
  "gradients of ops on the same backend agree within float32",
  async () => {
    const x = tensor(randomData(10, 8), [10], { requiresGrad: true });
    x.tanh().mul(x).sum().backward();
    const g = await x.grad!.data();
    const xs = randomData(10, 8);
    const want = Array.from(
      xs,
      (v) => Math.tanh(v) + v * (1 - Math.tanh(v) ** 2),
    );
    assertClose(g, want, { atol: 1e-5, rtol: 1e-4 });
  },
);

testBackends(
  "backward() outside any scope leaves only the gradients",
  async () => {
    const w = tensor([1, 2, 3], [3], { requiresGrad: true });
    const run = () => {
      const l = w.sum(); // no intermediate of our own
      l.backward();
      l.dispose();
      w.grad!.dispose();
      w.grad = null;
    };
    run(); // caches the constants of the seed gradient
    const before = memoryStats().liveBuffers;
    for (let i = 0; i < 5; i++) run();
    assert.equal(memoryStats().liveBuffers, before);
    w.dispose();
    await Promise.resolve();
  },
);
