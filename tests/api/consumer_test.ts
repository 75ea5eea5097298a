/**
 * The package as a separate project meets it: a temporary folder with its
 * own deno.json that resolves `@cnnf/webgpu` through this repository's
 * exports map (deno.json `links`, Deno's local stand-in for a JSR package,
 * so `jsr:@cnnf/webgpu` never reaches the registry), and a program that
 * uses only root exports. It runs type-checked, with permission to read and
 * write its own folder and nothing else.
 */

import assert from "node:assert/strict";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

const PROGRAM = `
import {
  CNNF, cnnfAdvLoss, cnnfTarget, init, LinfPGD, load, memoryStats, optim,
  rand, randint, save, step, tidy,
} from "@cnnf/webgpu";

const dir = Deno.args[0];
await init({ backend: "cpu", seed: 0 });
const model = new CNNF({ numClasses: 10, ind: 2, cycles: 1, resParam: 0.1 });
const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const x = rand([2, 1, 28, 28]).mul(2).sub(1);
const y = randint(0, 10, [2]);
const pgd = new LinfPGD(cnnfTarget(model, "e2eAvg"), {
  eps: 0.1, epsIter: 0.05, nbIter: 2,
});
const losses: number[] = [];
for (let i = 0; i < 3; i++) {
  const { adv } = await pgd.perturb(x, y);
  losses.push(await step(() => {
    const { loss } = cnnfAdvLoss(model, x, adv, y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  }));
  adv.dispose();
}
await save(model, dir + "/cnnf.safetensors");
const copy = new CNNF({ numClasses: 10, ind: 2, cycles: 1, resParam: 0.1 });
await load(copy, dir + "/cnnf.safetensors");
model.eval();
copy.eval();
const [a, b] = tidy(() => [model.runAverage(x), copy.runAverage(x)]);
const same = String(await a.data()) === String(await b.data());
a.dispose();
b.dispose();
const { adv, success } = await new LinfPGD(cnnfTarget(copy, "first"), {
  eps: 0.1, epsIter: 0.05, nbIter: 3,
}).perturb(x, y);
const gap = await tidy(() => adv.sub(x).abs().max()).item();
adv.dispose();
console.log(JSON.stringify({
  losses, same, gap, success: success.length, live: memoryStats().liveBuffers,
  printed: String(copy).split("\\n").pop(),
}));
`;

Deno.test("a separate project uses the package through its exports map", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cnnf_consumer_" });
  await Deno.writeTextFile(
    `${dir}/deno.json`,
    JSON.stringify({
      links: [REPO],
      imports: { "@cnnf/webgpu": "jsr:@cnnf/webgpu@^0.1.0" },
    }),
  );
  await Deno.writeTextFile(`${dir}/main.ts`, PROGRAM);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--check",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "main.ts",
      dir,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, err);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(r.losses.length, 3);
  assert.ok(r.losses.every(Number.isFinite), String(r.losses));
  assert.equal(r.same, true, "reloaded model gives the same logits");
  assert.ok(
    r.gap > 0 && r.gap <= 0.1 + 1e-6,
    `PGD stays in the ball: ${r.gap}`,
  );
  assert.equal(r.success, 2);
  assert.equal(r.printed, "3,298,962 parameters");
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name).sort().filter((n) =>
      n !== "deno.lock"
    ),
    ["cnnf.safetensors", "deno.json", "main.ts"],
  );
  await Deno.remove(dir, { recursive: true });
});
