/**
 * Drawing for the demo page: 28x28 images on canvases (scaled up by CSS
 * with nearest-neighbour), the per-pass probability charts of a model's
 * card, and the grid of feedback reconstructions.
 *
 * @module
 */

/// <reference lib="dom" />

import type { PassView } from "./engine.ts";

export function draw(
  canvas: HTMLCanvasElement,
  v: ArrayLike<number>,
  map: (x: number) => [number, number, number],
): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const [r, g, b] = map(v[i]);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** Pixels in [-1, 1] as grey levels. */
export const grey = (x: number): [number, number, number] => {
  const g = Math.round(Math.min(1, Math.max(0, (x + 1) / 2)) * 255);
  return [g, g, g];
};

/** A perturbation in [-ε, ε]: blue (darker) through white to red. */
export function diverging(eps: number) {
  return (d: number): [number, number, number] => {
    const t = Math.max(-1, Math.min(1, d / (eps || 1)));
    const a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? [255, a, a] : [a, a, 255];
  };
}

/** Min-max scaled grey (reconstructions have no fixed range). */
export function drawScaled(canvas: HTMLCanvasElement, v: Float32Array): void {
  let lo = Infinity, hi = -Infinity;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const s = hi > lo ? 2 / (hi - lo) : 0;
  draw(canvas, v, (x) => grey((x - lo) * s - 1));
}

export function softmax(z: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(z));
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export const argmax = (v: ArrayLike<number>) =>
  Array.from(v).reduce((b, x, i, a) => (x > a[b] ? i : b), 0);

export function mean(rows: Float32Array[]): number[] {
  return Array.from(rows[0], (_, j) => {
    let s = 0;
    for (const r of rows) s += r[j];
    return s / rows.length;
  });
}

/** One probability chart: the top class and a bar per class. */
function chart(
  logits: ArrayLike<number>,
  truth: number,
  key: string,
  classes: readonly string[],
): HTMLElement {
  const p = softmax(logits);
  const k = argmax(logits);
  const el = document.createElement("div");
  el.className = "chart";
  el.dataset.key = key;
  el.dataset.pred = String(k);
  const top = document.createElement("div");
  top.className = `top ${k === truth ? "right" : "wrong"}`;
  top.textContent = `${classes[k]} · ${(100 * p[k]).toFixed(1)}%`;
  el.append(top);
  p.forEach((v, c) => {
    const row = document.createElement("div");
    row.className = "row" + (c === truth ? " truth" : "") +
      (c === k ? ` pred${k === truth ? "" : " miss"}` : "");
    row.innerHTML = `<span class="name"></span><span class="track">` +
      `<span class="fill" style="display:block;width:${
        (100 * v).toFixed(2)
      }%"></span></span><span class="pct">${(100 * v).toFixed(1)}</span>`;
    (row.firstChild as HTMLElement).textContent = classes[c];
    el.append(row);
  });
  return el;
}

/** A model's card: rows of passes, clean and adversarial columns. */
export function renderCard(
  card: HTMLElement,
  name: "cnnf" | "cnn",
  clean: PassView,
  adv: PassView | null,
  truth: number,
  classes: readonly string[],
): void {
  const box = card.querySelector(".preds") as HTMLElement;
  box.replaceChildren();
  for (const h of ["", "clean", "adversarial"]) {
    const d = document.createElement("div");
    d.className = "head";
    d.textContent = h;
    box.append(d);
  }
  const rows: {
    label: string;
    key: string;
    pick: (v: PassView) => number[];
  }[] = clean.logits.map((_, i) => ({
    label: i === 0 ? "first pass" : `cycle ${i}`,
    key: String(i),
    pick: (v: PassView) => Array.from(v.logits[i]),
  }));
  if (clean.logits.length > 1) {
    rows.push({
      label: "average (decision)",
      key: "avg",
      pick: (v: PassView) => mean(v.logits),
    });
  }
  for (const r of rows) {
    const l = document.createElement("div");
    l.className = "pass";
    l.textContent = r.label;
    box.append(
      l,
      chart(r.pick(clean), truth, `${name}/clean/${r.key}`, classes),
    );
    if (adv) {
      box.append(chart(r.pick(adv), truth, `${name}/adv/${r.key}`, classes));
    } else box.append(document.createElement("div"));
  }
}

export function renderRecons(
  grid: HTMLElement,
  note: HTMLElement,
  clean: PassView,
  adv: PassView | null,
  ind: number,
): void {
  grid.replaceChildren();
  const n = clean.recons.length;
  note.textContent = n === 0
    ? "Set feedback cycles above 0 to see reconstructions."
    : ind > 0
    ? `Each cycle's top-down reconstruction: where the feedback makes it ` +
      `(conv block ${ind}, mean |value| over channels) and taken on ` +
      `down to pixels through the generative layers; contrast-stretched.`
    : "Each cycle's top-down reconstruction of the image, contrast-stretched.";
  grid.style.setProperty("--cols", String(Math.max(n, 1)));
  const add = (label: string, maps: Float32Array[]) => {
    const l = document.createElement("div");
    l.className = "lbl";
    l.textContent = label;
    grid.append(l);
    maps.forEach((m, c) => {
      const cv = document.createElement("canvas");
      cv.width = cv.height = 28;
      cv.title = `${label}, cycle ${c + 1}`;
      drawScaled(cv, m);
      grid.append(cv);
    });
  };
  if (!n) return;
  grid.append(document.createElement("div"));
  for (let c = 0; c < n; c++) {
    const h = document.createElement("div");
    h.className = "lbl";
    h.textContent = `cycle ${c + 1}`;
    grid.append(h);
  }
  const views: [string, PassView | null][] = [["clean", clean], [
    "adversarial",
    adv,
  ]];
  for (const [name, v] of views) {
    if (!v) continue;
    if (ind > 0) add(`${name}, conv block ${ind}`, v.blockRecons);
    add(`${name}, pixels`, v.recons);
  }
}
