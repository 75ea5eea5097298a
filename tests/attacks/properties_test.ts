/**
 * Properties every attack must have, on small random and trained models:
 * outputs inside the ε-ball and the clip range, the model untouched (its
 * parameters, their `.grad`, its training mode) and run in eval mode,
 * robust accuracy non-increasing in ε, and targeted attacks raising the
 * target's logit.
 */

import assert from "node:assert/strict";
import {
  APGD,
  APGDT,
  type Attack,
  AutoAttack,
  bpda,
  CarliniWagnerL2,
  eot,
  FGM,
  FGSM,
  L2PGD,
  LinfPGD,
  LinfSPSA,
  predictTarget,
  rankedClasses,
  Square,
  type Target,
  TransferAttack,
} from "../../attacks/mod.ts";
import {
  memoryStats,
  randn,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";
import { testBackends } from "../_util.ts";
import {
  blobs,
  images,
  mlpPredict,
  paramState,
  SmallNet,
  take,
  trainedMlp,
} from "./_models.ts";

type Ball = "linf" | "l2" | "none";

/** Every attack, untargeted, with its threat model. */
function suite(t: Target, other: Target): [Attack, Ball, number][] {
  return [
    [new FGSM(t, { eps: 0.1 }), "linf", 0.1],
    [new FGM(t, { eps: 0.5 }), "l2", 0.5],
    [new LinfPGD(t, { eps: 0.1, nbIter: 5, epsIter: 0.03 }), "linf", 0.1],
    [new L2PGD(t, { eps: 0.5, nbIter: 5, epsIter: 0.2 }), "l2", 0.5],
    [
      new LinfSPSA(t, { eps: 0.1, nbIter: 3, nbSample: 16, maxBatchSize: 8 }),
      "linf",
      0.1,
    ],
    [new APGD(t, { eps: 0.1, nIter: 8 }), "linf", 0.1],
    [
      new APGD(t, { eps: 0.1, nIter: 8, loss: "dlr", nRestarts: 2 }),
      "linf",
      0.1,
    ],
    [new APGD(t, { eps: 0.5, nIter: 8, norm: "L2" }), "l2", 0.5],
    [new APGDT(t, { eps: 0.1, nIter: 6, nTargetClasses: 3 }), "linf", 0.1],
    [new Square(t, { eps: 0.1, nQueries: 40, checkEvery: 10 }), "linf", 0.1],
    [
      new CarliniWagnerL2(t, { maxIterations: 20, binarySearchSteps: 2 }),
      "none",
      0,
    ],
    [
      new AutoAttack(t, {
        eps: 0.1,
        nIter: 5,
        nQueries: 20,
        nTargetClasses: 2,
      }),
      "linf",
      0.1,
    ],
    [
      new TransferAttack(
        new LinfPGD(other, { eps: 0.1, nbIter: 3, epsIter: 0.05 }),
        t,
      ),
      "linf",
      0.1,
    ],
    [
      new LinfPGD(
        eot(t, {
          samples: 3,
          transform: (x) => tidy(() => x.add(randn(x.shape).mul(0.05))),
        }),
        { eps: 0.1, nbIter: 3, epsIter: 0.05 },
      ),
      "linf",
      0.1,
    ],
  ];
}

/** Largest |adv − x| and largest per-example L2 distance. */
async function distances(adv: Tensor, x: Tensor) {
  const a = await adv.data();
  const b = await x.data();
  const n = x.shape[0];
  const d = a.length / n;
  let linf = 0;
  let l2 = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = a[i * d + j] - b[i * d + j];
      linf = Math.max(linf, Math.abs(v));
      s += v * v;
      lo = Math.min(lo, a[i * d + j]);
      hi = Math.max(hi, a[i * d + j]);
    }
    l2 = Math.max(l2, Math.sqrt(s));
  }
  return { linf, l2, lo, hi };
}

function setup() {
  const net = new SmallNet(5);
  const other = new SmallNet(5);
  const t = predictTarget((x) => net.forward(x), { module: net });
  const o = predictTarget((x) => other.forward(x), { module: other });
  const x = images(8);
  const y = tidy(() => {
    net.eval();
    const p = net.forward(x).argmax(1);
    net.train();
    return p;
  });
  net.seenTraining = [];
  return { net, t, o, x, y };
}

testBackends(
  "every attack keeps its outputs inside the eps-ball and the clip range [-1, 1]",
  async () => {
    const { t, o, x, y } = setup();
    for (const [attack, ball, eps] of suite(t, o)) {
      const r = await attack.perturb(x, y);
      const d = await distances(r.adv, x);
      r.adv.dispose();
      assert.ok(
        d.lo >= -1 && d.hi <= 1,
        `${attack.name}: range ${d.lo}..${d.hi}`,
      );
      if (ball === "linf") {
        assert.ok(
          d.linf <= eps + 1e-6,
          `${attack.name}: L∞ ${d.linf} > ${eps}`,
        );
      } else if (ball === "l2") {
        assert.ok(
          d.l2 <= eps * (1 + 1e-5),
          `${attack.name}: L2 ${d.l2} > ${eps}`,
        );
      }
      assert.equal(r.success.length, 8);
      assert.equal(r.queries.length, 8);
    }
  },
);

testBackends(
  "attacks run the model in eval mode and leave its parameters, their .grad and its mode as they were",
  async () => {
    const { net, t, o, x, y } = setup();
    net.train();
    const before = await paramState(net);
    for (const [attack] of suite(t, o)) {
      net.seenTraining = [];
      const r = await attack.perturb(x, y);
      r.adv.dispose();
      assert.ok(net.seenTraining.length > 0, `${attack.name} never ran`);
      assert.ok(
        net.seenTraining.every((m) => !m),
        `${attack.name} ran the model in training mode`,
      );
      assert.ok(net.training && net.modules().every((m) => m.training));
      const after = await paramState(net);
      assert.deepEqual(after.grads, before.grads.map(() => false));
      assert.deepEqual(after.req, before.req);
      assert.deepEqual(
        after.values,
        before.values,
        `${attack.name} moved weights`,
      );
    }
  },
);

testBackends(
  "a gradient attack works inside noGrad, and BPDA passes gradients around a step function",
  async () => {
    const { noGrad } = await import("../../autograd/mod.ts");
    const { net, x, y } = setup();
    const step = (v: Tensor) => tidy(() => v.gt(0).mul(2).sub(1).mul(0.5));
    const moved = async (pre: (v: Tensor) => Tensor) => {
      const t = predictTarget((v) => net.forward(pre(v)), { module: net });
      const pgd = new LinfPGD(t, {
        eps: 0.3,
        nbIter: 4,
        epsIter: 0.1,
        randInit: false,
      });
      const r = await noGrad(() => pgd.perturb(x, y));
      const m = await take(tidy(() => r.adv.sub(x).abs().max()));
      r.adv.dispose();
      return m[0];
    };
    assert.equal(await moved(step), 0, "a step function has no gradient");
    assert.ok(await moved(bpda(step)) > 0, "BPDA gave a zero gradient");
  },
);

testBackends(
  "robust accuracy does not increase with eps (PGD, APGD, Square) on a trained MLP",
  async (b) => {
    const w = await trainedMlp(b);
    const f = mlpPredict(w);
    const { x: xs, y: ys } = blobs(30, 17);
    const x = tensor(xs, [30, 16]);
    const y = tensor(ys, [30], { dtype: "int32" });
    const xi = x.reshape([30, 1, 4, 4]);
    const fi = (v: Tensor) => f(v.reshape([v.shape[0], 16]));
    const epss = [0, 0.05, 0.1, 0.2, 0.4];
    const make: [string, (e: number) => Attack][] = [
      [
        "PGD",
        (e) => new LinfPGD(f, { eps: e, nbIter: 10, epsIter: e / 4, seed: 1 }),
      ],
      ["APGD", (e) => new APGD(f, { eps: e, nIter: 10 })],
      ["Square", (e) => new Square(fi, { eps: e, nQueries: 60 })],
    ];
    for (const [name, mk] of make) {
      const acc: number[] = [];
      for (const e of epss) {
        const input = name === "Square" ? xi : x;
        const r = await mk(e).perturb(input, y);
        r.adv.dispose();
        acc.push(r.success.reduce((s, v) => s + 1 - v, 0));
      }
      for (let i = 1; i < acc.length; i++) {
        assert.ok(
          acc[i] <= acc[i - 1],
          `${name}: robust ${acc} rises with eps`,
        );
      }
      assert.ok(
        acc[0] > acc[acc.length - 1],
        `${name}: eps had no effect ${acc}`,
      );
    }
  },
);

testBackends("a targeted attack raises the target's logit", async () => {
  const { net, t, x } = setup();
  net.eval();
  const clean = tidy(() => net.forward(x));
  // Target: each example's runner-up class.
  const [, target] = rankedClasses(clean, 2);
  const logitOf = (z: Tensor) =>
    tidy(() =>
      z.mul(tensor([0, 1, 2, 3, 4]).eq(target.reshape([-1, 1]).cast("float32")))
        .sum(1)
    );
  const base = await take(logitOf(clean));
  const attacks: Attack[] = [
    new FGSM(t, { eps: 0.1, targeted: true }),
    new LinfPGD(t, { eps: 0.1, nbIter: 8, epsIter: 0.03, targeted: true }),
    new L2PGD(t, { eps: 0.5, nbIter: 8, epsIter: 0.15, targeted: true }),
    new APGD(t, { eps: 0.1, nIter: 10, targeted: true }),
    new APGD(t, { eps: 0.1, nIter: 10, loss: "dlr", targeted: true }),
    new LinfSPSA(t, { eps: 0.1, nbIter: 5, nbSample: 64, targeted: true }),
    new Square(t, { eps: 0.1, nQueries: 60, targeted: true }),
    new CarliniWagnerL2(t, {
      maxIterations: 40,
      binarySearchSteps: 2,
      initialConst: 1,
      targeted: true,
    }),
  ];
  for (const a of attacks) {
    const r = await a.perturb(x, target);
    const after = await take(tidy(() => logitOf(net.forward(r.adv))));
    r.adv.dispose();
    const gain = after.map((v, i) => v - base[i]);
    const mean = gain.reduce((s, v) => s + v, 0) / gain.length;
    assert.ok(mean > 0, `${a.name}: target logit fell on average (${gain})`);
    if (!["LinfSPSA", "Square", "CW-L2"].includes(a.name)) {
      assert.ok(gain.every((g) => g >= -1e-6), `${a.name}: ${gain}`);
    }
  }
});

testBackends(
  "attacks free every tensor they make (live buffers flat across repeated runs)",
  async (b) => {
    const { t, o, x, y } = setup();
    const attacks = suite(t, o).map(([a]) => a);
    const run = async () => {
      for (const a of attacks) (await a.perturb(x, y)).adv.dispose();
    };
    await run(); // warms the constant cache
    const before = memoryStats(b).liveBuffers;
    await run();
    assert.equal(memoryStats(b).liveBuffers, before);
  },
);

testBackends(
  "iterative attacks read back once per call, not once per iteration",
  async (b) => {
    const { backendObject } = await import("../../tensor/engine.ts");
    const backend = backendObject(b);
    const { t, x, y } = setup();
    const original = backend.read.bind(backend);
    let reads = 0;
    backend.read = (items) => {
      reads++;
      return original(items);
    };
    try {
      const cases: [Attack, number][] = [
        [new LinfPGD(t, { eps: 0.1, nbIter: 12, epsIter: 0.02 }), 1],
        [new L2PGD(t, { eps: 0.5, nbIter: 12, epsIter: 0.1 }), 1],
        [new APGD(t, { eps: 0.1, nIter: 12 }), 1],
        [new LinfSPSA(t, { eps: 0.1, nbIter: 6, nbSample: 8 }), 1],
        [
          new CarliniWagnerL2(t, {
            maxIterations: 12,
            binarySearchSteps: 2,
            abortEarly: false,
          }),
          1,
        ],
        // One check for finished examples at the start, one per 100 queries.
        [new Square(t, { eps: 0.1, nQueries: 150 }), 3],
      ];
      for (const [a, want] of cases) {
        reads = 0;
        (await a.perturb(x, y)).adv.dispose();
        assert.ok(reads <= want, `${a.name}: ${reads} readbacks`);
      }
    } finally {
      backend.read = original;
    }
  },
);
