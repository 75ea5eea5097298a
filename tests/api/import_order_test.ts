/**
 * Autograd works whichever entry point a program imports first: each case
 * runs in a fresh process that imports one entry point and nothing else.
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

async function runAlone(entry: string, body: string): Promise<string> {
  const code = `import * as m from "${new URL(entry, root)}";\n${body}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${entry}: ${err}`);
  return new TextDecoder().decode(out.stdout).trim();
}

const CASES: [string, string][] = [
  [
    "tensor/mod.ts",
    `const x = m.tensor([1, 2, 3], [3], { requiresGrad: true });
x.mul(x).sum().backward();
console.log([...await x.grad.data()].join(","));`,
  ],
  [
    "nn/mod.ts",
    `const fc = new m.Linear(3, 1);
fc.weight.sum().backward();
console.log([...await fc.weight.grad.data()].join(","));`,
  ],
  [
    "cnnf/mod.ts",
    `const b = new m.Bias([3]);
b.bias.mul(2).sum().backward();
console.log([...await b.bias.grad.data()].join(","));`,
  ],
  [
    "internals.ts",
    `const x = m.randomAt("uniform", [3], 1, 0);
x.requiresGrad = true;
x.mul(2).sum().backward();
console.log([...await x.grad.data()].join(","));`,
  ],
];

for (const [entry, body] of CASES) {
  Deno.test(`backward() works when ${entry} is the only import`, async () => {
    const out = await runAlone(entry, body);
    assert.match(out, /^[-0-9.e]+(,[-0-9.e]+)*$/, out);
    if (entry === "tensor/mod.ts") assert.equal(out, "2,4,6");
    if (entry === "nn/mod.ts") assert.equal(out, "1,1,1");
    if (entry !== "nn/mod.ts" && entry !== "tensor/mod.ts") {
      assert.ok(out.split(",").every((v) => Number(v) === 2), out);
    }
  });
}
