import assert from "node:assert/strict";
import "../../autograd/mod.ts";
import {
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Flatten,
  Linear,
  MaxPool2d,
  Module,
  ReLU,
  Sequential,
} from "../../nn/mod.ts";
import {
  manualSeed,
  ones,
  randn,
  type Tensor,
  tensor,
} from "../../tensor/mod.ts";
import { assertClose, testBackends } from "../_util.ts";

class Net extends Module {
  features = new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }),
    new ReLU(),
    new MaxPool2d(2),
  );
  head = new Linear(4 * 2 * 2, 3);
  tied: Linear;
  constructor() {
    super();
    this.tied = this.head;
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(new Flatten().forward(this.features.forward(x)));
  }
}

testBackends(
  "Module names parameters by property path and lists tied ones once",
  () => {
    const net = new Net();
    const names = net.namedParameters().map(([k]) => k);
    assert.deepEqual(names, [
      "features.0.weight",
      "features.0.bias",
      "head.weight",
      "head.bias",
      "tied.weight",
      "tied.bias",
    ]);
    assert.equal(net.parameters().length, 4);
    assert.deepEqual(Object.keys(net.stateDict()), names);
  },
);

testBackends("train()/eval() propagate and zeroGrad() frees gradients", () => {
  const net = new Net();
  net.eval();
  assert.ok(net.modules().every((m) => !m.training));
  net.train();
  assert.ok(net.modules().every((m) => m.training));
  net.forward(randn([2, 1, 4, 4])).sum().backward();
  assert.ok(net.parameters().every((p) => p.grad));
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));
});

testBackends(
  "loadStateDict copies values and names missing, unexpected and mis-shaped keys",
  async () => {
    const a = new Net();
    const b = new Net();
    b.loadStateDict(a.stateDict());
    assert.deepEqual(await b.head.weight.data(), await a.head.weight.data());
    const sd = { ...a.stateDict() };
    delete sd["head.bias"];
    assert.throws(
      () => b.loadStateDict(sd, { source: "m.safetensors" }),
      /m\.safetensors: missing key head\.bias/,
    );
    assert.throws(
      () => b.loadStateDict({ ...a.stateDict(), extra: ones([1]) }),
      /unexpected key extra/,
    );
    assert.throws(
      () => b.loadStateDict({ ...a.stateDict(), "head.bias": ones([4]) }),
      /key head\.bias has shape \[4\] float32, expected \[3\] float32/,
    );
    b.loadStateDict(sd, { strict: false });
  },
);

testBackends(
  "layers initialise like PyTorch (kaiming-uniform bounds) and compute",
  async () => {
    manualSeed(1);
    const l = new Linear(50, 20);
    const w = await l.weight.data();
    const bound = 1 / Math.sqrt(50);
    assert.ok(Array.from(w).every((v) => Math.abs(v) <= bound));
    assert.ok(Math.max(...Array.from(w, Math.abs)) > 0.8 * bound);
    const c = new ConvTranspose2d(4, 2, 3, {
      stride: 2,
      padding: 1,
      outputPadding: 1,
    });
    assert.deepEqual(c.weight.shape, [4, 2, 3, 3]);
    assert.deepEqual(c.forward(randn([1, 4, 5, 5])).shape, [1, 2, 10, 10]);
    const lin = new Linear(2, 1);
    lin.weight.assign(tensor([[2, 3]]));
    lin.bias!.assign(tensor([1]));
    assertClose(await lin.forward(tensor([[1, 1], [0, 2]])).data(), [6, 7]);
  },
);

testBackends(
  "Dropout zeroes and rescales in training, is the identity in eval",
  async () => {
    manualSeed(2);
    const d = new Dropout(0.25);
    const y = await d.forward(ones([4000])).data();
    const kept = Array.from(y).filter((v) => v !== 0);
    assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
    assert.ok(Math.abs(kept.length / 4000 - 0.75) < 0.03);
    d.eval();
    assert.deepEqual(Array.from(await d.forward(ones([5])).data()), [
      1,
      1,
      1,
      1,
      1,
    ]);
  },
);
