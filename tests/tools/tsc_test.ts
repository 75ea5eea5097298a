/**
 * TypeScript outside Deno: plain `tsc` (pinned, from npm) with the DOM
 * library and `@webgpu/types` (the dev dependency declared in
 * tools/tsc/package.json) type-checks the browser entry `web.ts`. The pinned
 * packages come from Deno's npm cache (and deno.lock), linked into a
 * throw-away `node_modules` beside a tsconfig that extends
 * tools/tsc/tsconfig.json.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const pins = JSON.parse(
  await Deno.readTextFile(`${ROOT}tools/tsc/package.json`),
).devDependencies as Record<string, string>;

async function run(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

Deno.test({
  name: "tsc with lib dom and @webgpu/types type-checks web.ts",
  sanitizeResources: false,
  fn: async () => {
    const types = `npm:@webgpu/types@${pins["@webgpu/types"]}`;
    const cache = await run(["cache", types], ROOT);
    assert.ok(cache.ok, cache.text);
    const info = JSON.parse((await run(["info", "--json"], ROOT)).text);
    const pkg = `${info.npmCache}/registry.npmjs.org/@webgpu/types/${
      pins["@webgpu/types"]
    }`;
    const dir = await Deno.makeTempDir({ prefix: "cnnf-tsc-" });
    try {
      await Deno.mkdir(`${dir}/node_modules/@webgpu`, { recursive: true });
      await Deno.symlink(pkg, `${dir}/node_modules/@webgpu/types`);
      await Deno.writeTextFile(
        `${dir}/tsconfig.json`,
        JSON.stringify({ extends: `${ROOT}tools/tsc/tsconfig.json` }),
      );
      const tsc = await run([
        "run",
        "-A",
        `npm:typescript@${pins.typescript}/tsc`,
        "-p",
        "tsconfig.json",
        "--listFilesOnly",
      ], dir);
      assert.ok(tsc.ok, tsc.text);
      // The check really covered the library and the WebGPU types.
      assert.match(tsc.text, /web\.ts/);
      assert.match(tsc.text, /tensor\/engine\.ts/);
      assert.match(tsc.text, /@webgpu\/types\/(\S+\/)?dist\/index\.d\.ts/);
      const check = await run([
        "run",
        "-A",
        `npm:typescript@${pins.typescript}/tsc`,
        "-p",
        "tsconfig.json",
      ], dir);
      assert.ok(check.ok, `tsc found errors:\n${check.text}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
