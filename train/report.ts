/**
 * The self-contained HTML report of a run: loss and accuracy curves (inline
 * SVG), the evaluation table, and a grid of clean versus adversarial
 * examples with predictions (and reconstructions when ind = 0). No scripts,
 * no external resources.
 *
 * @module
 */

/** One point of a training curve. */
export interface CurvePoint {
  /** Epoch (may be fractional for partial epochs). */
  epoch: number;
  /** Training loss. */
  loss: number;
  /** Training accuracy in [0, 1]. */
  trainAcc: number;
  /** Clean test accuracy in [0, 1], when evaluated. */
  testAcc?: number;
}

/** One example shown in the grid. */
export interface ReportExample {
  /** PNG data URL of the clean input. */
  clean: string;
  /** PNG data URL of the adversarial input. */
  adv: string;
  /** PNG data URL of the reconstruction, if any. */
  recon?: string;
  /** True label. */
  label: string;
  /** Prediction on the clean input. */
  predClean: string;
  /** Prediction on the adversarial input. */
  predAdv: string;
}

/** Everything the report shows. */
export interface ReportData {
  /** Title. */
  title: string;
  /** Lines describing the run (command, backend, adapter, dataset). */
  about: string[];
  /** Curves per model. */
  curves: { name: string; points: CurvePoint[] }[];
  /** Table columns (attack names). */
  columns: string[];
  /** Table rows: model, decision rule, accuracy per column in [0, 1], and the examples behind each. */
  rows: {
    model: string;
    rule: string;
    values: Record<string, number>;
    examples?: Record<string, number>;
  }[];
  /** Example grids per model. */
  examples: { name: string; attack: string; items: ReportExample[] }[];
}

const esc = (s: string) =>
  s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]!),
  );
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

function chart(
  title: string,
  series: { name: string; pts: [number, number][] }[],
  yLabel: string,
): string {
  const W = 460, H = 260, L = 50, R = 12, T = 28, B = 36;
  const all = series.flatMap((s) => s.pts);
  if (all.length === 0) return `<p>${esc(title)}: no data</p>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1e-9);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const grid = ticks.map((v) =>
    `<line x1="${L}" x2="${W - R}" y1="${sy(v).toFixed(1)}" y2="${
      sy(v).toFixed(1)
    }" stroke="#ddd"/>` +
    `<text x="${L - 6}" y="${
      (sy(v) + 4).toFixed(1)
    }" text-anchor="end" font-size="11">${v.toPrecision(3)}</text>`
  ).join("");
  const lines = series.map((s, i) => {
    const c = COLORS[i % COLORS.length];
    const d = s.pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join(" ");
    const dots = s.pts.length < 60
      ? s.pts.map((p) =>
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${
          sy(p[1]).toFixed(1)
        }" r="2.5" fill="${c}"/>`
      ).join("")
      : "";
    return `<polyline fill="none" stroke="${c}" stroke-width="2" points="${d}"/>${dots}` +
      `<text x="${W - R - 4}" y="${
        T + 14 + 14 * i
      }" text-anchor="end" font-size="12" fill="${c}">${esc(s.name)}</text>`;
  }).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${
    esc(title)
  }">
<text x="${
    W / 2
  }" y="16" text-anchor="middle" font-size="14" font-weight="bold">${
    esc(title)
  }</text>
${grid}<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>
<text x="${L}" y="${H - B + 16}" font-size="11">${x0.toPrecision(3)}</text>
<text x="${W - R}" y="${H - B + 16}" text-anchor="end" font-size="11">${
    x1.toPrecision(3)
  }</text>
<text x="${(W + L) / 2}" y="${
    H - 6
  }" text-anchor="middle" font-size="12">epoch</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${
    H / 2
  })" text-anchor="middle" font-size="12">${esc(yLabel)}</text>
${lines}</svg>`;
}

/**
 * Renders the report as one HTML document.
 * @example
 * ```ts
 * import { renderReport } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const html = renderReport({
 *   title: "toy run",
 *   about: ["backend: cpu"],
 *   curves: [{
 *     name: "cnnf",
 *     points: [{ epoch: 0.5, loss: 2.1, trainAcc: 0.3 }, {
 *       epoch: 1,
 *       loss: 1.2,
 *       trainAcc: 0.6,
 *       testAcc: 0.55,
 *     }],
 *   }],
 *   columns: ["clean"],
 *   rows: [{ model: "cnnf", rule: "average", values: { clean: 0.55 } }],
 *   examples: [],
 * });
 * assert.match(html, /^<!DOCTYPE html>/i);
 * assert.match(html, /toy run/);
 * assert.match(html, /<svg/); // the loss and accuracy charts
 * ```
 */
export function renderReport(d: ReportData): string {
  // Points carry NaN for what they do not measure (test-only points).
  const finite = (pts: [number, number][]) =>
    pts.filter((p) => Number.isFinite(p[1]));
  const lossChart = chart(
    "Training loss",
    d.curves.map((c) => ({
      name: c.name,
      pts: finite(c.points.map((p) => [p.epoch, p.loss])),
    })),
    "loss",
  );
  const accSeries = d.curves.flatMap((c) => [
    {
      name: `${c.name} train`,
      pts: finite(c.points.map((p) => [p.epoch, 100 * p.trainAcc])),
    },
    {
      name: `${c.name} test`,
      pts: c.points.filter((p) => p.testAcc !== undefined).map((p) =>
        [p.epoch, 100 * p.testAcc!] as [number, number]
      ),
    },
  ]);
  const accChart = chart("Accuracy (%)", accSeries, "accuracy %");
  const head = `<tr><th>model</th><th>rule</th>${
    d.columns.map((c) => `<th>${esc(c)}</th>`).join("")
  }</tr>`;
  const body = d.rows.map((r) =>
    `<tr><td>${esc(r.model)}</td><td>${esc(r.rule)}</td>${
      d.columns.map((c) =>
        `<td>${
          r.values[c] === undefined ? "—" : (100 * r.values[c]).toFixed(2)
        }</td>`
      ).join("")
    }</tr>`
  ).join("\n");
  const grids = d.examples.map((g) => {
    const cells = g.items.map((e) => {
      const ok = e.predAdv === e.label;
      return `<figure><img src="${e.clean}" alt="clean"/><img src="${e.adv}" alt="adversarial"/>${
        e.recon ? `<img src="${e.recon}" alt="reconstruction"/>` : ""
      }<figcaption>label ${esc(e.label)}<br>clean → ${
        esc(e.predClean)
      }<br><span class="${ok ? "ok" : "bad"}">${esc(g.attack)} → ${
        esc(e.predAdv)
      }</span></figcaption></figure>`;
    }).join("");
    return `<h3>${esc(g.name)}: clean | adversarial${
      g.items.some((e) => e.recon) ? " | reconstruction" : ""
    }</h3><div class="grid">${cells}</div>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}th{background:#f2f2f2}
.charts{display:flex;flex-wrap:wrap;gap:16px}.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;padding:6px;border:1px solid #ddd;font-size:12px;text-align:center}
figure img{width:56px;height:56px;image-rendering:pixelated;margin:1px}
.ok{color:#2a7a2a}.bad{color:#c62828;font-weight:bold}code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>${esc(d.title)}</h1>
<ul>${d.about.map((a) => `<li>${esc(a)}</li>`).join("")}</ul>
<h2>Training curves</h2><div class="charts">${lossChart}${accChart}</div>
<h2>Evaluation (accuracy %)</h2><table>${head}\n${body}</table>
<p>Examples per column: ${
    esc(
      d.columns.map((c) =>
        `${c} ${
          [
            ...new Set(
              d.rows.map((r) => r.examples?.[c]).filter((v) => v !== undefined),
            ),
          ].join("/") || "—"
        }`
      )
        .join(", "),
    )
  }.</p>
<h2>Examples</h2>${grids || "<p>none</p>"}
</body></html>
`;
}
