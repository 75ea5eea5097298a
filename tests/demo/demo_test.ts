/**
 * The demo page in headless Chromium: the server starts, the page runs PGD
 * on WebGPU (Dawn/Tint on SwiftShader) and on the CPU backend, and what it
 * shows is checked against the library in Deno on the same adversarial
 * pixels: predicted classes equal, first-pass logits within 1e-4. Feedback
 * passes route through argmax/argmin indices, so near-ties may flip an
 * index between implementations: the largest logit difference and the
 * fraction of flipped routing decisions are measured and printed.
 *
 * Weights: `DEMO_WEIGHTS=runs/<name>` uses a training run's folder;
 * otherwise a seeded, untrained pair is written to a temporary folder.
 * Screenshots go to `${DEMO_SCREENSHOT}-webgpu.png` and `-cpu.png`
 * (default: in a temporary folder); their paths are printed.
 */

import assert from "node:assert/strict";
import { referenceStateDict } from "../../cnnf/checkpoint.ts";
import { CNNF } from "../../cnnf/fmnist.ts";
import { LinfPGD } from "../../attacks/pgd.ts";
import { cnnfTarget } from "../../attacks/targets.ts";
import { init, manualSeed, readAll, tensor } from "../../tensor/mod.ts";
import { FASHION_MNIST_DIR } from "../../train/data/idx.ts";
import { saveSafetensors } from "../../train/files.ts";
import {
  loadModel,
  ProgressPGD,
  routing,
  trainSteps,
} from "../../demo/engine.ts";
import { scalePixels } from "../../train/data/dataset.ts";
import { startDemo } from "../../demo/server.ts";
import { loadDemoWeights } from "../../demo/weights.ts";
import {
  type CdpPage,
  haveChromium,
  launchChromium,
} from "../browser/_chromium.ts";

const required = Boolean(Deno.env.get("REQUIRE_WEBGPU"));
const haveData = (() => {
  try {
    return Deno.statSync(FASHION_MNIST_DIR).isDirectory;
  } catch {
    return false;
  }
})();
if (required && !haveChromium()) {
  throw new Error("REQUIRE_WEBGPU is set but /usr/bin/chromium is missing");
}
const ignore = !haveChromium() || !haveData;
if (ignore) {
  console.warn("demo test: needs chromium and Fashion-MNIST; skipped");
}

/** A seeded, untrained CNN-F and CNN in a run folder of the CLI's format. */
async function seededRun(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "demo_run_" });
  await init({ backend: "cpu", seed: 7 });
  const cfg = { ind: 2, maxCycles: 1, resParam: 0.1 };
  for (const kind of ["cnnf", "cnn"] as const) {
    const m = kind === "cnnf"
      ? new CNNF({ ind: 2, cycles: 1, resParam: 0.1 })
      : new CNNF({ ind: 0, cycles: 0, resParam: 0 });
    await saveSafetensors(
      `${dir}/${kind}.safetensors`,
      await referenceStateDict(m),
    );
    m.parameters().forEach((p) => p.dispose());
  }
  await Deno.writeTextFile(
    `${dir}/results.json`,
    JSON.stringify({ config: { dataset: "fashion", eps: 0.1, ...cfg } }),
  );
  return dir;
}

/** Navigates and waits until the demo's script has set `demo`. */
async function open(page: CdpPage, url: string): Promise<void> {
  await page.send("Page.navigate", { url });
  const deadline = Date.now() + 60_000;
  while (
    !(await page.evaluate<boolean>(
      `location.href === ${JSON.stringify(url)} && ` +
        `document.readyState === "complete" && typeof demo === "object"`,
    ))
  ) {
    if (Date.now() > deadline) {
      throw new Error(`${url} did not load:\n${page.log.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A PNG of the whole page. */
async function screenshot(page: CdpPage): Promise<Uint8Array> {
  const m = await page.evaluate<{ w: number; h: number }>(
    "({ w: document.documentElement.scrollWidth, " +
      "h: document.documentElement.scrollHeight })",
  );
  await page.send("Emulation.setDeviceMetricsOverride", {
    width: Math.max(1400, m.w),
    height: m.h,
    deviceScaleFactor: 1,
    mobile: false,
  });
  const r = await page.send("Page.captureScreenshot", {
    format: "png",
    captureBeyondViewport: true,
  });
  return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
}

interface RunReport {
  backend: string;
  label: number;
  clean: number[];
  adv: number[];
  cycles: number;
  cnnf: { clean: number[][]; adv: number[][] };
  cnn: { clean: number[][]; adv: number[][] };
  shown: Record<string, number>;
  progress: string[];
  seconds: number;
}

const argmax = (v: ArrayLike<number>) =>
  Array.from(v).reduce((b, x, i, a) => (x > a[b] ? i : b), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const margin = (v: ArrayLike<number>) => {
  const s = Array.from(v).sort((a, b) => b - a);
  return s[0] - s[1];
};
const meanOf = (rows: ArrayLike<number>[]) =>
  Array.from(
    rows[0],
    (_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length,
  );

Deno.test({
  name: "the demo page attacks on WebGPU and CPU and shows what Deno computes",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.env.get("DEMO_WEIGHTS") ?? await seededRun();
    const server = await startDemo({ port: 0, weights: dir });
    const browser = await launchChromium();
    const page = browser.page;
    try {
      // The library in Deno, on the CPU backend, from the same bytes.
      await init({ backend: "cpu", seed: 0 });
      const c = server.weights.config;
      const ref = {
        cnnf: loadModel(server.weights.cnnf, "cnnf", c, "cnnf"),
        cnn: loadModel(server.weights.cnn, "cnn", c, "cnn"),
      };
      const shots = Deno.env.get("DEMO_SCREENSHOT") ??
        `${await Deno.makeTempDir({ prefix: "demo_shots_" })}/demo`;
      const image = 12;
      const opts = { image, mode: "e2eAvg", eps: 0.15, iters: 4, step: 0.4 };
      for (const backend of ["webgpu", "cpu"]) {
        const t0 = performance.now();
        await open(page, `${server.url}?backend=${backend}`);
        const started = await page.evaluate<
          { backend: string; adapter: string }
        >(
          "demo.ready",
        );
        assert.equal(started.backend, backend, page.log.join("\n"));
        const t1 = performance.now();
        const r = await page.evaluate<RunReport>(
          `demo.run(${JSON.stringify(opts)})`,
        );
        console.log(
          `[${backend}] ${started.adapter}: page ready in ${
            ((t1 - t0) / 1000).toFixed(1)
          } s; PGD-${opts.iters} and redraw in ${r.seconds.toFixed(1)} s`,
        );
        assert.equal(r.label, server.samples.label[image]);
        // The page showed every iteration's progress while it ran.
        assert.deepEqual(
          r.progress.map((l) => l.match(/iteration (\d+)\/4/)?.[1]),
          ["1", "2", "3", "4"],
        );
        const adv = tensor(Float32Array.from(r.adv), [1, 1, 28, 28]);
        const clean = tensor(Float32Array.from(r.clean), [1, 1, 28, 28]);
        // The attack stays in the ε-box and the [-1, 1] domain.
        assert.ok(maxDiff(r.adv, r.clean) <= opts.eps + 1e-6);
        assert.ok(r.adv.every((v) => v >= -1 && v <= 1));
        let firstDiff = 0, feedbackDiff = 0;
        for (const kind of ["cnnf", "cnn"] as const) {
          for (const [input, x] of [["clean", clean], ["adv", adv]] as const) {
            const cycles = kind === "cnnf" ? r.cycles : 0;
            const want = (await readAll(ref[kind].runAll(x, cycles))).map(
              (a) => Array.from(a),
            );
            const got = r[kind][input];
            assert.equal(got.length, want.length);
            const d0 = maxDiff(got[0], want[0]);
            firstDiff = Math.max(firstDiff, d0);
            assert.ok(
              d0 < 1e-4,
              `[${backend}] ${kind} ${input} first pass differs by ${d0}`,
            );
            for (let p = 1; p < want.length; p++) {
              feedbackDiff = Math.max(feedbackDiff, maxDiff(got[p], want[p]));
            }
            // The classes the page shows are Deno's (unless a near-tie
            // within the tolerance makes either answer right).
            const rows = want.length > 1
              ? [
                ...want.map((w, p) => [String(p), w] as const),
                [
                  "avg",
                  meanOf(want),
                ] as const,
              ]
              : [["0", want[0]] as const];
            for (const [key, w] of rows) {
              const shown = r.shown[`${kind}/${input}/${key}`];
              assert.ok(
                shown !== undefined,
                `no chart ${kind}/${input}/${key}`,
              );
              if (margin(w) > 1e-4 || backend === "cpu") {
                assert.equal(
                  shown,
                  argmax(w),
                  `[${backend}] ${kind} ${input} pass ${key}: page shows ${shown}, Deno ${
                    argmax(w)
                  }`,
                );
              } else {
                console.log(`[${backend}] near-tie in ${kind} ${input} ${key}`);
              }
            }
          }
        }
        // Routing decisions of CNN-F on the adversarial image.
        const pageRoute = await page.evaluate<Record<string, number[]>>(
          `demo.routing(${JSON.stringify(r.adv)}, ${r.cycles})`,
        );
        const denoRoute = await routing(ref.cnnf, adv, r.cycles);
        let flipped = 0, total = 0;
        for (const [k, v] of Object.entries(denoRoute)) {
          const g = pageRoute[k];
          assert.ok(g && g.length === v.length, `routing ${k} missing`);
          for (let i = 0; i < v.length; i++) if (g[i] !== v[i]) flipped++;
          total += v.length;
        }
        console.log(
          `[${backend}] first pass max |Δlogit| ${
            firstDiff.toExponential(2)
          }; ` +
            `feedback passes max |Δlogit| ${feedbackDiff.toExponential(2)}; ` +
            `routing flips ${flipped}/${total} (${
              (100 * flipped / total).toFixed(4)
            }%)`,
        );
        if (backend === "cpu") {
          // The same TypeScript kernels in Chromium and Deno: bit-identical.
          assert.equal(feedbackDiff, 0);
          assert.equal(flipped, 0);
        }
        adv.dispose();
        clean.dispose();
        const shot = `${shots}-${backend}.png`;
        await Deno.writeFile(shot, await screenshot(page));
        console.log(`screenshot: ${shot}`);
        if (backend === "cpu") {
          // Two training steps in the page against the same steps in Deno
          // (on the CPU backend only: SwiftShader takes minutes per step).
          const steps = { steps: 2, lr: 0.01 };
          const pageTrain = await page.evaluate<{ losses: number[] }>(
            `demo.train(${JSON.stringify(steps)})`,
          );
          const fresh = loadModel(server.weights.cnnf, "cnnf", c, "cnnf");
          const px = server.train.pixels;
          const denoLosses = await trainSteps(
            fresh,
            server.train.label.map((_, k) =>
              scalePixels(px.subarray(k * 784, (k + 1) * 784))
            ),
            server.train.label,
            { ...steps, batchSize: 16 },
          );
          fresh.parameters().forEach((p) => p.dispose());
          const lossDiff = maxDiff(pageTrain.losses, denoLosses);
          console.log(
            `[${backend}] training losses page ${
              pageTrain.losses.join(", ")
            }; ` +
              `Deno ${denoLosses.join(", ")}`,
          );
          assert.equal(lossDiff, 0);
        }
      }
      const errors = page.log.filter((l) => l.startsWith("exception"));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      if (!Deno.env.get("DEMO_WEIGHTS")) {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test("the demo refuses a weights folder without both models, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "demo_empty_" });
  try {
    await assert.rejects(
      () => loadDemoWeights(dir),
      (e: Error) =>
        e.message.includes(dir) && e.message.includes("cnn.safetensors"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ProgressPGD crafts exactly what LinfPGD crafts", async () => {
  await init({ backend: "cpu", seed: 3 });
  const model = new CNNF({ ind: 2, cycles: 1, resParam: 0.1 });
  manualSeed(5);
  const x = tensor(
    Float32Array.from({ length: 2 * 784 }, (_, i) => Math.sin(i * 0.37)),
    [2, 1, 28, 28],
  );
  const y = tensor([1, 4], [2], { dtype: "int32" });
  const o = { eps: 0.1, epsIter: 0.03, nbIter: 3, seed: 11 };
  const steps: number[] = [];
  const a = await new LinfPGD(cnnfTarget(model, "e2eAvg"), o).perturb(x, y);
  const b = await new ProgressPGD(
    cnnfTarget(model, "e2eAvg"),
    o,
    (p) => void steps.push(p.iteration),
  ).perturb(x, y);
  const [ha, hb] = await readAll([a.adv, b.adv]);
  assert.deepEqual(Array.from(hb), Array.from(ha));
  assert.deepEqual(Array.from(b.success), Array.from(a.success));
  assert.deepEqual(steps, [1, 2, 3]);
  assert.ok(maxDiff(ha, await x.data()) > 0);
  [a.adv, b.adv, x, y].forEach((t) => t.dispose());
  model.parameters().forEach((p) => p.dispose());
});
