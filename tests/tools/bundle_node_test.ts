/**
 * The browser bundle under Node.js: `web.ts` bundled by esbuild (as `deno
 * task bundle` does) is imported by a plain `.mjs` script run with `node`,
 * which trains three steps of a small CNN-F on the CPU backend; the losses
 * must equal those Deno computes from the sources for the same seed.
 */

import assert from "node:assert/strict";
import { bundleFiles, stopBundler } from "../../tools/bundle.ts";
import * as lib from "../../web.ts";
import { trainThreeSteps } from "./_train_steps.ts";

function haveNode(): boolean {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "the bundle trains three steps under Node.js with Deno's losses",
  ignore: !haveNode(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cnnf-node-" });
    try {
      const built = await bundleFiles({
        entryPoints: { web: "web.ts", steps: "tests/tools/_train_steps.ts" },
        outdir: dir,
      }).finally(stopBundler);
      assert.deepEqual(built.foreignInputs, []);
      await Deno.writeTextFile(
        `${dir}/run.mjs`,
        `import * as lib from "./web.js";
import { trainThreeSteps } from "./steps.js";
console.log(JSON.stringify(await trainThreeSteps(lib)));
`,
      );
      // Node 20 keeps relaxed SIMD behind a flag (on by default from Node
      // 22 and in Deno): with it both runtimes take the fused
      // multiply-add GEMM and the losses can be compared bit for bit.
      const out = await new Deno.Command("node", {
        args: ["--experimental-wasm-relaxed-simd", `${dir}/run.mjs`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `node failed:\n${stderr}`);
      const nodeLosses = JSON.parse(
        new TextDecoder().decode(out.stdout).trim().split("\n").pop()!,
      ) as number[];
      const denoLosses = await trainThreeSteps(lib);
      console.log(`node ${JSON.stringify(nodeLosses)}`);
      console.log(`deno ${JSON.stringify(denoLosses)}`);
      assert.equal(nodeLosses.length, 3);
      assert.ok(denoLosses.every(Number.isFinite));
      assert.notEqual(denoLosses[2], denoLosses[0], "training moves the loss");
      assert.deepEqual(nodeLosses, denoLosses);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
