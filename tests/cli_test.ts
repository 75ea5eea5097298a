import assert from "node:assert/strict";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

async function cli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("cli --help on every command prints usage and exits 0", async () => {
  for (const cmd of ["train", "eval", "attack", "info"]) {
    const r = await cli(cmd, "--help");
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: deno run -A cli.ts ${cmd}`));
  }
  const top = await cli("--help");
  assert.equal(top.code, 0);
  assert.match(top.stdout, /commands:\n {2}train/);
  const none = await cli();
  assert.equal(none.code, 2, "no command is bad usage");
});

Deno.test("cli rejects unknown commands and flags with exit code 2", async () => {
  const a = await cli("fly");
  assert.equal(a.code, 2);
  assert.match(a.stderr, /unknown command 'fly'/);
  const b = await cli("train", "--bogus");
  assert.equal(b.code, 2);
  assert.match(b.stderr, /Unknown option '--bogus'/);
  assert.match(b.stderr, /cli\.ts train --help/);
});

Deno.test("cli names the flag and the value when a value is bad", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--lr", "fast"], /--lr: expected a number, got 'fast'/],
    [
      ["train", "--batch-size", "2.5"],
      /--batch-size: expected an integer, got '2\.5'/,
    ],
    [
      ["train", "--batch-size", "0"],
      /--batch-size: must be a positive integer, got 0/,
    ],
    [["train", "--eps=-1"], /--eps: must be a non-negative number, got -1/],
    [
      ["train", "--schedule", "step"],
      /--schedule: must be poly or cos, got 'step'/,
    ],
    [["train", "--preset", "huge"], /--preset: unknown preset 'huge'/],
    [
      ["train", "--ind", "3"],
      /--ind: must be 0, 1 or 2 for the Fashion-MNIST model, got 3/,
    ],
    [
      ["train", "--backend", "tpu"],
      /--backend: must be auto, cpu or webgpu, got 'tpu'/,
    ],
    [
      ["info", "--backend", "tpu"],
      /--backend: must be auto, cpu or webgpu, got 'tpu'/,
    ],
    [["eval"], /--weights: required/],
    [["train", "--dataset", "cifar10"], /--data: CIFAR-10 needs a folder/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

Deno.test("cli reports missing data and missing weights with the path, exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  const a = await cli(
    "train",
    "--data",
    `${dir}/nothing`,
    "--out",
    `${dir}/out`,
    "-q",
  );
  assert.equal(a.code, 1, a.stderr);
  assert.match(a.stderr, new RegExp(`${dir}/nothing`));
  const b = await cli("eval", "--weights", `${dir}/missing.safetensors`);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /file not found: .*missing\.safetensors/);
  await Deno.writeFile(`${dir}/bad.safetensors`, new Uint8Array([9, 9, 9]));
  const c = await cli("eval", "--weights", `${dir}/bad.safetensors`);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /bad\.safetensors: truncated/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli info prints the backend and adapter, and JSON with --json", async () => {
  const r = await cli("info", "--backend", "cpu", "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.backend, "cpu");
  assert.ok("adapter" in j);
});
