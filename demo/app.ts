/**
 * The demo page's script (bundled by the server with esbuild): picks a
 * backend, loads both models from the server's safetensors, shows the test
 * images, runs PGD with progress, and draws the adversarial image, the
 * perturbation, every pass's class probabilities for both models and the
 * reconstructions of CNN-F's feedback cycles.
 *
 * It also trains CNN-F a few steps in the page on request.
 *
 * `globalThis.demo` exposes `ready`, `run(options)`, `train(options)` and
 * `routing(pixels, cycles)` for the browser test.
 *
 * @module
 */

/// <reference lib="dom" />

import { cnnfTarget } from "../attacks/targets.ts";
import type { CNNF } from "../cnnf/fmnist.ts";
import { tensor } from "../tensor/creation.ts";
import { init, probeWebGpu, webgpuBackend } from "../tensor/engine.ts";
import { scalePixels } from "../train/data/dataset.ts";
import {
  loadModel,
  type ModelSettings,
  passes,
  type PassView,
  ProgressPGD,
  routing,
  trainSteps,
} from "./engine.ts";
import {
  argmax,
  diverging,
  draw,
  grey,
  mean,
  renderCard,
  renderRecons,
} from "./render.ts";

interface Config extends ModelSettings {
  eps: number;
  source: string;
  classes: string[];
}

/** Options of one attack, as the controls hold them. */
export interface RunOptions {
  /** Index into the gallery. */
  image?: number;
  /** "first" / "e2eAvg" on CNN-F, or "cnn". */
  mode?: "first" | "e2eAvg" | "cnn";
  /** L∞ radius. */
  eps?: number;
  /** Iterations. */
  iters?: number;
  /** Step size as a fraction of ε. */
  step?: number;
  /** Feedback cycles shown. */
  cycles?: number;
}

/** What a run shows, for the test. */
export interface RunReport {
  backend: string;
  label: number;
  clean: number[];
  adv: number[];
  cycles: number;
  cnnf: { clean: number[][]; adv: number[][] };
  cnn: { clean: number[][]; adv: number[][] };
  /** Predicted class per chart on the page, keyed model/input/pass. */
  shown: Record<string, number>;
  /** The progress lines the page showed, one per iteration. */
  progress: string[];
  seconds: number;
}

const $ = <T extends HTMLElement>(id: string) =>
  document.getElementById(id) as T;

let cfg: Config;
let models: { cnnf: CNNF; cnn: CNNF };
let images: Float32Array[] = [];
let labels: number[] = [];
let selected = 0;
let busy = false;

function status(text: string, fraction?: number): void {
  $("status").textContent = text;
  if (fraction !== undefined) $("bar").style.width = `${100 * fraction}%`;
}

/** Lets the browser paint (CPU kernels otherwise hold the thread). */
const frame = () => new Promise((r) => setTimeout(r, 0));

function options(): Required<RunOptions> {
  return {
    image: selected,
    mode: ($("mode") as HTMLSelectElement).value as Required<
      RunOptions
    >["mode"],
    eps: Number(($("eps") as HTMLInputElement).value),
    iters: Number(($("iters") as HTMLInputElement).value),
    step: Number(($("step") as HTMLInputElement).value),
    cycles: Number(($("cycles") as HTMLInputElement).value),
  };
}

function setOptions(o: RunOptions): void {
  if (o.image !== undefined) select(o.image);
  const set = (id: string, v: unknown) => {
    if (v !== undefined) ($(id) as HTMLInputElement).value = String(v);
  };
  set("mode", o.mode);
  set("eps", o.eps);
  set("iters", o.iters);
  set("step", o.step);
  set("cycles", o.cycles);
  $("eps-out").textContent = Number(($("eps") as HTMLInputElement).value)
    .toFixed(2);
}

async function show(
  x: Float32Array,
  adv: Float32Array | null,
  o: Required<RunOptions>,
) {
  const truth = labels[o.image];
  const batch = tensor(x, [1, 1, 28, 28]);
  const advT = adv ? tensor(adv, [1, 1, 28, 28]) : null;
  try {
    const view = {
      cnnf: {
        clean: await passes(models.cnnf, batch, o.cycles),
        adv: advT ? await passes(models.cnnf, advT, o.cycles) : null,
      },
      cnn: {
        clean: await passes(models.cnn, batch, 0),
        adv: advT ? await passes(models.cnn, advT, 0) : null,
      },
    };
    draw($("img-clean"), x, grey);
    $("cap-clean").innerHTML = `clean · label <b>${cfg.classes[truth]}</b>`;
    const delta = adv ? adv.map((v, i) => v - x[i]) : new Float32Array(784);
    draw($("img-adv"), adv ?? x, grey);
    draw($("img-delta"), delta, diverging(o.eps));
    const linf = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    $("cap-adv").textContent = adv
      ? `adversarial · PGD-${o.iters} on ${
        o.mode === "cnn"
          ? "the CNN"
          : `CNN-F (${o.mode === "first" ? "first pass" : "end to end"})`
      }`
      : "adversarial (run an attack)";
    $("cap-delta").textContent = `perturbation · ‖δ‖∞ = ${
      linf.toFixed(3)
    } (blue −, red +)`;
    renderCard(
      $("card-cnnf"),
      "cnnf",
      view.cnnf.clean,
      view.cnnf.adv,
      truth,
      cfg.classes,
    );
    renderCard(
      $("card-cnn"),
      "cnn",
      view.cnn.clean,
      view.cnn.adv,
      truth,
      cfg.classes,
    );
    renderRecons(
      $("recons"),
      $("recon-note"),
      view.cnnf.clean,
      view.cnnf.adv,
      cfg.ind,
    );
    return view;
  } finally {
    batch.dispose();
    advT?.dispose();
  }
}

function shownPredictions(): Record<string, number> {
  const out: Record<string, number> = {};
  document.querySelectorAll<HTMLElement>(".chart").forEach((el) => {
    out[el.dataset.key!] = Number(el.dataset.pred);
  });
  return out;
}

/** Runs PGD with the given (or current) settings and shows the result. */
async function run(o: RunOptions = {}): Promise<RunReport> {
  if (busy) throw new Error("an attack is already running");
  busy = true;
  ($("run") as HTMLButtonElement).disabled = true;
  setOptions(o);
  const opt = options();
  const t0 = performance.now();
  const progress: string[] = [];
  const x = images[opt.image];
  const xT = tensor(x, [1, 1, 28, 28]);
  const y = tensor([labels[opt.image]], [1], { dtype: "int32" });
  try {
    const target = opt.mode === "cnn"
      ? cnnfTarget(models.cnn, "first", { decision: "first" })
      : cnnfTarget(models.cnnf, opt.mode, { cycles: opt.cycles });
    const pgd = new ProgressPGD(target, {
      eps: opt.eps,
      nbIter: opt.iters,
      epsIter: opt.eps * opt.step,
      seed: 0,
    }, async (p) => {
      status(
        `PGD iteration ${p.iteration}/${p.total} · loss ${p.loss.toFixed(3)}`,
        p.iteration / p.total,
      );
      progress.push($("status").textContent ?? "");
      await frame();
    });
    status(`PGD iteration 0/${opt.iters}`, 0);
    await frame();
    const { adv } = await pgd.perturb(xT, y);
    const advHost = (await adv.data()) as Float32Array;
    adv.dispose();
    const view = await show(x, advHost, opt);
    const seconds = (performance.now() - t0) / 1000;
    const flipped = argmax(mean(view.cnnf.adv!.logits)) !== labels[opt.image];
    status(
      `done in ${seconds.toFixed(1)} s · CNN-F ${
        flipped ? "fooled" : "holds"
      } · CNN ${
        argmax(view.cnn.adv!.logits[0]) !== labels[opt.image]
          ? "fooled"
          : "holds"
      }`,
      1,
    );
    const arr = (v: PassView) => v.logits.map((l) => Array.from(l));
    return {
      backend: backendName,
      label: labels[opt.image],
      clean: Array.from(x),
      adv: Array.from(advHost),
      cycles: opt.cycles,
      cnnf: { clean: arr(view.cnnf.clean), adv: arr(view.cnnf.adv!) },
      cnn: { clean: arr(view.cnn.clean), adv: arr(view.cnn.adv!) },
      shown: shownPredictions(),
      progress,
      seconds,
    };
  } catch (e) {
    status(`error: ${(e as Error).message}`);
    throw e;
  } finally {
    xT.dispose();
    y.dispose();
    busy = false;
    ($("run") as HTMLButtonElement).disabled = false;
  }
}

function select(i: number): void {
  selected = i;
  document.querySelectorAll("#gallery canvas").forEach((c, k) =>
    c.classList.toggle("selected", k === i)
  );
}

let backendName = "";

async function start(): Promise<{ backend: string; adapter: string }> {
  const want = new URLSearchParams(location.search).get("backend") ?? "auto";
  ($("backend-choice") as HTMLSelectElement).value = want;
  $("backend-choice").addEventListener("change", (e) => {
    const u = new URL(location.href);
    u.searchParams.set("backend", (e.target as HTMLSelectElement).value);
    location.href = u.href;
  });
  const probe = await probeWebGpu().catch(() => null);
  backendName = await init({
    backend: want as "auto" | "cpu" | "webgpu",
    seed: 0,
  });
  let adapter = probe?.available
    ? `${probe.description}${probe.fallback ? " (software)" : ""}`
    : "no WebGPU adapter";
  if (backendName === "webgpu") {
    const s = (await webgpuBackend()).runtime.summary();
    adapter = `${s.description}${s.isFallbackAdapter ? " (software)" : ""}`;
  }
  const badge = $("backend");
  badge.textContent = backendName === "webgpu"
    ? `WebGPU · ${adapter}`
    : `CPU (TypeScript) · WebGPU: ${adapter}`;
  badge.classList.toggle("cpu", backendName === "cpu");
  status("loading models…");
  const [config, samples, wf, wc] = await Promise.all([
    fetch("/api/config.json").then((r) => r.json()),
    fetch("/api/samples.json").then((r) => r.json()),
    fetch("/weights/cnnf.safetensors").then((r) => r.arrayBuffer()),
    fetch("/weights/cnn.safetensors").then((r) => r.arrayBuffer()),
  ]);
  cfg = config;
  models = {
    cnnf: loadModel(new Uint8Array(wf), "cnnf", cfg, "cnnf.safetensors"),
    cnn: loadModel(new Uint8Array(wc), "cnn", cfg, "cnn.safetensors"),
  };
  const bytes = Uint8Array.from(
    atob(samples.pixels),
    (c) => c.charCodeAt(0),
  );
  labels = samples.label;
  images = labels.map((_, k) =>
    scalePixels(bytes.subarray(k * 784, (k + 1) * 784))
  );
  const gallery = $("gallery");
  images.forEach((im, k) => {
    const cv = document.createElement("canvas");
    cv.width = cv.height = 28;
    cv.title = `${cfg.classes[labels[k]]} (test image ${samples.index[k]})`;
    draw(cv, im, grey);
    cv.addEventListener("click", () => {
      if (busy) return;
      select(k);
      show(images[k], null, options()).catch((e) => status(String(e)));
    });
    gallery.append(cv);
  });
  $("about").textContent = `Weights: ${cfg.source} (ind ${cfg.ind}, ` +
    `${cfg.cycles} cycle(s), residual step ${cfg.resParam}). Images: ${samples.source}.`;
  setOptions({ eps: cfg.eps, cycles: cfg.cycles, image: 0 });
  $("eps").addEventListener(
    "input",
    () =>
      $("eps-out").textContent = Number(($("eps") as HTMLInputElement).value)
        .toFixed(2),
  );
  $("train-form").addEventListener("submit", (e) => {
    e.preventDefault();
    train().catch(() => {});
  });
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    run().catch(() => {});
  });
  await show(images[0], null, options());
  status("pick an image and run PGD");
  return { backend: backendName, adapter };
}

let trainSet: { images: Float32Array[]; labels: number[] } | null = null;
let trainOffset = 0;

/**
 * Trains the page's CNN-F a few steps (the CLI's standard loss) on the
 * server's training sample, then redraws the selected image's predictions.
 */
async function train(
  o: { steps?: number; lr?: number } = {},
): Promise<{ losses: number[]; offset: number }> {
  if (busy) throw new Error("busy: an attack or training is running");
  busy = true;
  const buttons = ["run", "train"].map((id) => $<HTMLButtonElement>(id));
  buttons.forEach((b) => (b.disabled = true));
  if (o.steps !== undefined) {
    $<HTMLInputElement>("train-steps").value = `${o.steps}`;
  }
  if (o.lr !== undefined) $<HTMLInputElement>("train-lr").value = `${o.lr}`;
  const steps = Number($<HTMLInputElement>("train-steps").value);
  const lr = Number($<HTMLInputElement>("train-lr").value);
  const say = (t: string) => ($("train-status").textContent = t);
  try {
    if (!trainSet) {
      say("fetching training images…");
      const t = await fetch("/api/train.json").then((r) => r.json());
      const bytes = Uint8Array.from(atob(t.pixels), (c) => c.charCodeAt(0));
      trainSet = {
        labels: t.label,
        images: t.label.map((_: number, k: number) =>
          scalePixels(bytes.subarray(k * 784, (k + 1) * 784))
        ),
      };
    }
    const offset = trainOffset;
    say(`step 0/${steps}`);
    await frame();
    const t0 = performance.now();
    const losses = await trainSteps(
      models.cnnf,
      trainSet.images,
      trainSet.labels,
      {
        steps,
        batchSize: 16,
        lr,
        offset,
        onStep: async (s, loss) => {
          say(`step ${s}/${steps} · loss ${loss.toFixed(4)}`);
          await frame();
        },
      },
    );
    trainOffset += steps * 16;
    say(
      `${steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s · ` +
        `loss ${losses[0].toFixed(3)} → ${
          losses[losses.length - 1].toFixed(3)
        }`,
    );
    busy = false;
    await show(images[selected], null, options());
    return { losses, offset };
  } catch (e) {
    say(`error: ${(e as Error).message}`);
    throw e;
  } finally {
    busy = false;
    buttons.forEach((b) => (b.disabled = false));
  }
}

/** CNN-F's routing decisions on some pixels (for the browser test). */
async function routingOf(
  pixels: number[],
  cycles: number,
): Promise<Record<string, number[]>> {
  const x = tensor(Float32Array.from(pixels), [1, 1, 28, 28]);
  try {
    const r = await routing(models.cnnf, x, cycles);
    return Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k, Array.from(v)]),
    );
  } finally {
    x.dispose();
  }
}

const ready = start().catch((e) => {
  status(`error: ${(e as Error).message}`);
  throw e;
});
Object.assign(globalThis, { demo: { ready, run, train, routing: routingOf } });
