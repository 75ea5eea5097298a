/**
 * `cli.ts train` as a subprocess on tiny runs: interrupts (SIGINT, SIGTERM)
 * checkpoint and resume exactly, validation happens before any work, a
 * resume with another configuration is refused, and `eval` reproduces the
 * training run's table from the run's folder alone.
 */

import assert from "node:assert/strict";
import { loadSafetensors, saveSafetensors } from "../../train/files.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** Tiny training: the plain CNN, 6 steps of 16 images, cpu. */
const TINY = [
  "--standard",
  "--models",
  "cnn",
  "--train-limit",
  "96",
  "--batch-size",
  "16",
  "--test-limit",
  "8",
  "--attacks",
  "clean",
  "--backend",
  "cpu",
];

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function cli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  const out = await spawn(args).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Collects a stream's text; resolves `seen` once `re` matches it. */
function watch(
  stream: ReadableStream<Uint8Array>,
  re: RegExp,
): { seen: Promise<void>; text: Promise<string> } {
  let found = () => {};
  const seen = new Promise<void>((r) => (found = r));
  const text = (async () => {
    let all = "";
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      all += dec.decode(chunk, { stream: true });
      if (re.test(all)) found();
    }
    found();
    return all;
  })();
  return { seen, text };
}

async function weightsOf(path: string): Promise<Record<string, number[]>> {
  const { tensors } = await loadSafetensors(path);
  return Object.fromEntries(
    Object.entries(tensors).map(([k, t]) => [k, Array.from(t.data)]),
  );
}

Deno.test("SIGINT and SIGTERM stop a CPU run within two steps, checkpoint, and resume bit-identically", async () => {
  const dir = await Deno.makeTempDir();
  const full = await cli("train", ...TINY, "--out", `${dir}/full`, "-q");
  assert.equal(full.code, 0, full.stderr);
  const want = await weightsOf(`${dir}/full/cnn.safetensors`);
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const out = `${dir}/${sig}`;
    const child = spawn(["train", ...TINY, "--out", out]);
    // The first progress line is printed after the first step.
    const err = watch(child.stderr, /train cnn epoch 1\/1 .*1\/6/);
    const stdout = new Response(child.stdout).text();
    await err.seen;
    const sent = performance.now();
    child.kill(sig);
    const status = await child.status;
    const seconds = (performance.now() - sent) / 1000;
    const text = await stdout;
    const stderr = await err.text;
    assert.equal(status.code, code, `${sig}: ${stderr}\n${text}`);
    const m = text.match(/interrupted \((\w+)\) after (\d+) steps/);
    assert.ok(m, `${sig}: no stop message in ${text}`);
    assert.equal(m[1], sig);
    const steps = Number(m[2]);
    assert.ok(steps >= 1 && steps < 6, `${sig}: stopped mid-epoch (${steps})`);
    assert.match(text, /resume with: deno run -A cli\.ts train .*--resume/);
    // Within two steps' time, as the run measured its steps, plus the
    // checkpoint write and process exit (bounded, generous: loaded machine).
    const perStep = Number(text.match(/cnn: ([\d.]+) s\/step/)![1]);
    assert.ok(
      seconds < 2 * perStep + 3,
      `${sig}: exited ${
        seconds.toFixed(2)
      } s after the signal; a step takes ${perStep} s`,
    );
    const ck = await loadCheckpoint(`${out}/cnn.ckpt.safetensors`);
    assert.equal(ck.meta.step, steps, "checkpoint at the step reached");
    assert.equal(ck.meta.batch, steps);
    const resumed = await cli(
      "train",
      ...TINY,
      "--out",
      out,
      "--resume",
      "-q",
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      await weightsOf(`${out}/cnn.safetensors`),
      want,
      `${sig}: resumed weights equal the uninterrupted run's`,
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("Ctrl-C during the final evaluation quits at once: the weights are saved already", async () => {
  const dir = await Deno.makeTempDir();
  const child = spawn([
    "train",
    ...TINY,
    "--train-limit",
    "16",
    "--test-limit",
    "64",
    "--test-batch-size",
    "4",
    "--attacks",
    "clean,pgd-first",
    "--out",
    dir,
  ]);
  const err = watch(child.stderr, /eval cnn pgd-first/);
  const stdout = new Response(child.stdout).text();
  await err.seen;
  const sent = performance.now();
  child.kill("SIGINT");
  const status = await child.status;
  const seconds = (performance.now() - sent) / 1000;
  const stderr = await err.text;
  await stdout;
  assert.equal(status.code, 130, stderr);
  assert.match(
    stderr,
    /SIGINT: evaluation stopped; the trained weights are in/,
  );
  assert.doesNotMatch(stderr, /eval cnn pgd-first {2}100%/, "not finished");
  assert.ok(seconds < 30, `${seconds.toFixed(1)} s`);
  assert.ok(await Deno.stat(`${dir}/cnn.safetensors`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad attacks, attack parameters and batch sizes exit 2 in under 5 s with nothing trained", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/out`;
  const cases: [string[], RegExp][] = [
    [
      ["train", "--attacks", "clean,bogus"],
      /--attacks: unknown attack 'bogus'/,
    ],
    [["train", "--attacks", ","], /--attacks: empty list/],
    [["train", "--spsa-samples", "0"], /--spsa-samples: must be a positive/],
    [["train", "--nb-iter", "0"], /--nb-iter: must be a positive integer/],
    [["train", "--eps", "3"], /--eps: must be at most 2/],
    [["train", "--batch-size", "1e12"], /--batch-size: must be at most 65536/],
    [
      ["train", "--test-batch-size", "100000"],
      /--test-batch-size: must be at most 65536/,
    ],
    [
      ["train", "--train-limit", "10", "--batch-size", "32"],
      /--batch-size: 32 is more than the 10 training examples/,
    ],
    [
      ["attack", "--attack", "nonsense", "--weights", `${dir}/w.safetensors`],
      /--attack: unknown attack 'nonsense'/,
    ],
    [
      ["eval", "--weights", dir, "--attacks", "clean,pgd-everything"],
      /--attacks: unknown attack 'pgd-everything'/,
    ],
    [
      ["train", "--allow-change", "epochs"],
      /--allow-change: only with --resume/,
    ],
    [["train", "--threads", "0"], /--threads: must be an integer from 1/],
    [
      ["eval", "--weights", dir, "--threads", "two"],
      /--threads: must be an integer from 1 to 256, got 'two'/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args, "--out", out, "--backend", "cpu");
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(r.seconds < 5, `${args.join(" ")}: ${r.seconds.toFixed(1)} s`);
    assert.doesNotMatch(r.stderr, /data:|epoch/, "no data read, no step");
  }
  assert.equal(
    await Deno.stat(out).then(() => true, () => false),
    false,
    "nothing written",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--resume with another configuration exits 2 naming every difference; --allow-change accepts more epochs", async () => {
  const dir = await Deno.makeTempDir();
  const base = ["train", ...TINY, "--out", dir, "--max-steps", "1", "-q"];
  const first = await cli(...base);
  assert.equal(first.code, 0, first.stderr);
  const changed = await cli(
    ...base,
    "--resume",
    "--batch-size",
    "8",
    "--lr",
    "0.5",
    "--seed",
    "9",
  );
  assert.equal(changed.code, 2, changed.stderr);
  assert.match(changed.stderr, /different configuration/);
  assert.match(changed.stderr, /--batch-size 16 \(now 8\)/);
  assert.match(changed.stderr, /--lr 0\.02 \(now 0\.5\)/);
  assert.match(changed.stderr, /--seed 1 \(now 9\)/);
  const ck = await loadCheckpoint(`${dir}/cnn.ckpt.safetensors`);
  assert.equal(ck.meta.step, 1, "the refused resume trained nothing");
  const longer = await cli(...base, "--resume", "--epochs", "2");
  assert.equal(longer.code, 2);
  assert.match(longer.stderr, /--epochs 1 \(now 2\).*--allow-change epochs/);
  const allowed = await cli(
    ...base,
    "--resume",
    "--epochs",
    "2",
    "--allow-change",
    "epochs",
  );
  assert.equal(allowed.code, 0, allowed.stderr);
  const after = await loadCheckpoint(`${dir}/cnn.ckpt.safetensors`);
  assert.equal(after.meta.step, 2, "resumed and took one more step");
  const bad = await cli(...base, "--resume", "--allow-change", "lr");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--allow-change: 'lr' may not change/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a stale temporary file of an interrupted write is removed on the next start", async () => {
  const dir = await Deno.makeTempDir();
  const stale = `${dir}/cnn.ckpt.safetensors.tmp-4242-1700000000000`;
  await Deno.writeFile(stale, new Uint8Array(10));
  await Deno.writeFile(`${dir}/notes.tmp-keep.txt`, new Uint8Array(1));
  const r = await cli("train", ...TINY, "--out", dir, "--max-steps", "1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /removed 1 temporary file/);
  assert.equal(await Deno.stat(stale).then(() => true, () => false), false);
  assert.ok(await Deno.stat(`${dir}/notes.tmp-keep.txt`), "others are kept");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("eval of a run's folder reproduces its table with no further flags, for both models", async () => {
  const dir = await Deno.makeTempDir();
  // Settings far from any preset, so eval must read them from the run.
  const run = await cli(
    "train",
    "--standard",
    "--models",
    "cnnf,cnn",
    "--train-limit",
    "32",
    "--batch-size",
    "16",
    "--test-limit",
    "6",
    "--test-batch-size",
    "3",
    "--attacks",
    "clean,pgd-first,pgd-e2e,transfer",
    "--nb-iter",
    "2",
    "--eps",
    "0.05",
    "--backend",
    "cpu",
    "--out",
    dir,
    "--json",
    "-q",
  );
  assert.equal(run.code, 0, run.stderr);
  const trained = JSON.parse(run.stdout);
  const ev = await cli("eval", "--weights", dir, "--json", "-q");
  assert.equal(ev.code, 0, ev.stderr);
  const got = JSON.parse(ev.stdout);
  assert.equal(got.examples, 6);
  assert.equal(got.config.nbIter, 2);
  assert.equal(got.config.eps, 0.05);
  assert.deepEqual(got.table.map((r: { model: string }) => r.model), [
    "cnnf",
    "cnn",
  ]);
  assert.deepEqual(got.table, trained.table);
  // One file alone: its metadata says which model it holds.
  const one = await cli(
    "eval",
    "--weights",
    `${dir}/cnn.safetensors`,
    "--json",
    "-q",
  );
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(JSON.parse(one.stdout).table, [trained.table[1]]);
  // A plain CNN given as a CNN-F is an error, not a silent load.
  const wrong = await cli(
    "eval",
    "--weights",
    `${dir}/cnn.safetensors`,
    "--models",
    "cnnf",
  );
  assert.equal(wrong.code, 1);
  assert.match(
    wrong.stderr,
    /cnn\.safetensors: holds a plain CNN \(metadata model: cnn\), not a CNN-F/,
  );
  // A training checkpoint given as weights: one short line.
  const ck = await cli("eval", "--weights", `${dir}/cnnf.ckpt.safetensors`);
  assert.equal(ck.code, 1);
  assert.match(ck.stderr, /a training checkpoint .* use .*cnnf\.safetensors/);
  assert.doesNotMatch(ck.stderr, /__optim__/);
  assert.ok(ck.stderr.trim().split("\n").length <= 1, ck.stderr);
  // NaN weights: the file and the tensor, not a confusing alias error.
  const w = await loadSafetensors(`${dir}/cnnf.safetensors`);
  w.tensors["fc3.weight"].data[3] = NaN;
  await saveSafetensors(`${dir}/nan.safetensors`, w.tensors, w.metadata);
  const nan = await cli("eval", "--weights", `${dir}/nan.safetensors`);
  assert.equal(nan.code, 1);
  assert.match(
    nan.stderr,
    /nan\.safetensors: fc3\.weight holds 1 NaN or infinite value/,
  );
  // attack --json: perExample arrays and the configuration.
  const at = await cli(
    "attack",
    "--weights",
    `${dir}/cnnf.safetensors`,
    "--attack",
    "fgsm",
    "--json",
    "-q",
  );
  assert.equal(at.code, 0, at.stderr);
  const aj = JSON.parse(at.stdout);
  assert.equal(aj.config.eps, 0.05, "attack defaults from the run");
  assert.equal(aj.cells.length, 3);
  for (const c of aj.cells) {
    assert.ok(Array.isArray(c.perExample));
    assert.equal(c.perExample.length, 6);
  }
  await Deno.remove(dir, { recursive: true });
});

/**
 * Runs the CLI; returns its exit code, its output, and the seconds between
 * the last output chunk and the exit (what shutting down took).
 */
async function exitDelay(
  args: string[],
): Promise<{ code: number; out: string; err: string; tail: number }> {
  const child = spawn(args);
  let last = performance.now();
  const read = async (s: ReadableStream<Uint8Array>) => {
    let text = "";
    const dec = new TextDecoder();
    for await (const chunk of s) {
      last = performance.now();
      text += dec.decode(chunk, { stream: true });
    }
    return text;
  };
  const [out, err] = await Promise.all([
    read(child.stdout),
    read(child.stderr),
  ]);
  const { code } = await child.status;
  return { code, out, err, tail: (performance.now() - last) / 1000 };
}

Deno.test("train and eval on the CPU worker pool exit within a second of their last output, workers and all", async () => {
  const dir = await Deno.makeTempDir();
  // Batch 32 of 28x28 images: the convolutions run on the pool's workers.
  const train = await exitDelay([
    "train",
    "--standard",
    "--models",
    "cnnf",
    "--train-limit",
    "64",
    "--batch-size",
    "32",
    "--test-limit",
    "32",
    "--test-batch-size",
    "32",
    "--attacks",
    "clean",
    "--max-cycles",
    "1",
    "--backend",
    "cpu",
    "--threads",
    "2",
    "--out",
    dir,
  ]);
  assert.equal(train.code, 0, train.err);
  assert.match(train.err, /WebAssembly SIMD[^\n]*, 2 threads/);
  assert.ok(train.tail < 1, `train exited ${train.tail.toFixed(1)} s late`);
  const ev = await exitDelay([
    "eval",
    "--weights",
    dir,
    "--threads",
    "2",
    "--json",
    "-q",
  ]);
  assert.equal(ev.code, 0, ev.err);
  assert.equal(JSON.parse(ev.out).examples, 32);
  assert.ok(ev.tail < 1, `eval exited ${ev.tail.toFixed(1)} s late`);
  await Deno.remove(dir, { recursive: true });
});
