/**
 * Progress rendering and the run plan: rates are measured per phase (a
 * label reused by a later phase starts a new timer), lines fit the terminal
 * without cutting a number, and the whole-run ETA follows the plan's work.
 */

import assert from "node:assert/strict";
import { PRESETS } from "../../train/config.ts";
import { describePlan, planRun, RunClock } from "../../train/plan.ts";
import { fitLine, ProgressPrinter } from "../../train/progress.ts";

function printer(o: { tty?: boolean; columns?: number } = {}) {
  let t = 0;
  const out: string[] = [];
  const p = new ProgressPrinter({
    tty: o.tty ?? false,
    interval: 0,
    columns: o.columns,
    now: () => t,
    write: (s) => out.push(s),
  });
  return { p, out, at: (s: number) => (t = s) };
}

Deno.test("a label reused by a later phase measures its own rate", () => {
  const { p, out, at } = printer();
  at(0);
  p.update({ label: "test pass", done: 1, total: 2, unit: "batch" });
  at(2);
  p.update({ label: "test pass", done: 2, total: 2, unit: "batch" });
  // A long training phase in between, then the label again.
  at(1000);
  p.update({ label: "train", done: 5, total: 5, unit: "batch" });
  at(1001);
  p.update({ label: "test pass", done: 1, total: 2, unit: "batch" });
  assert.match(out.at(-1)!, /test pass {2}50% {2}1\/2 {2}1\.0 batch\/s/);
});

Deno.test("a phase's first event shows a real rate, not 0.0 and eta ?", () => {
  const { p, out, at } = printer();
  at(10);
  p.update({ label: "train", done: 5, total: 5, unit: "batch" });
  at(20);
  p.update({
    label: "eval cnnf pgd-first",
    done: 100,
    total: 200,
    unit: "img",
  });
  assert.match(out.at(-1)!, /10\.0 img\/s {2}eta 0:10/);
});

Deno.test("a start event sets the baseline of a resumed epoch", () => {
  const { p, out, at } = printer();
  at(0);
  p.update({ label: "train", done: 40, total: 50, unit: "batch", start: true });
  at(4);
  p.update({ label: "train", done: 42, total: 50, unit: "batch" });
  assert.match(out.at(-1)!, /2\.0 s\/batch {2}eta 0:16/);
});

Deno.test("lines fitted to the terminal drop whole fields and shorten words, never digits", () => {
  const parts = [
    "eval cnnf spsa-e2e (clean pass)",
    "155/200  3.2 img/s  eta 0:14",
    "run eta 9:41",
    "[##########----------] 77%",
    "robust 155",
  ];
  for (let w = 20; w <= 140; w++) {
    const line = fitLine(parts, w);
    assert.ok(line.length <= w || line === parts[1], `${w}`);
    for (const n of line.match(/[\d.:\/]+/g) ?? []) {
      assert.ok(parts.join(" ").includes(n), `width ${w}: '${n}' was cut`);
    }
    if (line.includes("robust")) assert.match(line, /robust 155$/);
  }
  const { p, out } = printer({ tty: true, columns: 60 });
  p.update({
    label: "eval cnnf spsa-e2e",
    done: 155,
    total: 200,
    unit: "img",
    fields: { robust: 155 },
  });
  const shown = out.join("").replace("\r\x1b[K", "");
  assert.ok(shown.length <= 60, shown);
  assert.match(shown, /155\/200/);
});

Deno.test("the plan lists every phase and the whole-run ETA follows measured work", () => {
  const cfg = { ...PRESETS.quick };
  const phases = planRun(cfg, { train: 3200, test: 200 });
  assert.deepEqual(phases.map((p) => p.key), [
    "train cnn",
    "train cnnf",
    "eval cnnf clean",
    "eval cnnf pgd-first",
    "eval cnnf pgd-e2e",
    "eval cnnf spsa-first",
    "eval cnnf spsa-e2e",
    "eval cnnf transfer",
    "eval cnn clean",
    "eval cnn pgd-first",
    "eval cnn spsa-first",
  ]);
  assert.equal(phases[0].units, 100);
  assert.equal(phases.find((p) => p.key === "eval cnnf spsa-e2e")!.units, 20);
  const text = describePlan(phases, cfg).join("\n");
  assert.match(text, /training cnn 1 epoch\(s\) × 100 steps, then cnnf/);
  assert.match(text, /evaluate cnnf: clean ×200, pgd-first ×200/);
  let t = 0;
  const clock = new RunClock(phases, () => t);
  assert.ok(Number.isNaN(clock.eta()), "no rate before any work");
  clock.start();
  t = 10;
  clock.advance("train cnn", 10);
  // A tenth of the first phase in 10 s: the rest at that work rate.
  const w = phases[0].cost * 10;
  const expect = (clock.total() - w) / (w / 10);
  assert.ok(Math.abs(clock.eta() - expect) < 1e-6);
  // A resumed run counts its finished steps as done, not as measured.
  const resumed = new RunClock(
    planRun(cfg, { train: 3200, test: 200 }, { cnn: 50 }),
    () => t,
  );
  t = 0;
  resumed.start();
  t = 10;
  resumed.advance("train cnn", 60);
  assert.ok(Math.abs(resumed.work() - phases[0].cost * 60) < 1e-6);
  assert.ok(
    Math.abs(resumed.eta() - (clock.total() - phases[0].cost * 60) / w * 10) <
      1e-6,
  );
});

Deno.test("plain output prints each phase's first line at once, then at most every interval", () => {
  let t = 0;
  const out: string[] = [];
  const p = new ProgressPrinter({
    tty: false,
    interval: 10,
    now: () => t,
    write: (s) => out.push(s),
  });
  p.update({ label: "train", done: 1, total: 9 });
  t = 1;
  p.update({ label: "train", done: 2, total: 9 });
  t = 2;
  p.update({ label: "eval cnn clean", done: 1, total: 9 });
  t = 3;
  p.update({ label: "eval cnn clean", done: 2, total: 9 });
  t = 13;
  p.update({ label: "eval cnn clean", done: 3, total: 9 });
  assert.deepEqual(out.map((l) => l.split("  ").slice(0, 3).join(" ")), [
    "train 11% 1/9",
    "eval cnn clean 11% 1/9",
    "eval cnn clean 33% 3/9",
  ]);
});
