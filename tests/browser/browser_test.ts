/**
 * The engine's WebGPU tests, run a second time in headless Chromium: its
 * WGSL compiler (Tint) and its WebGPU implementation (Dawn on SwiftShader)
 * differ from Deno's wgpu on lavapipe, so every kernel is compiled and
 * checked against the CPU reference on two implementations. The test
 * modules themselves (tests/tensor, tests/autograd, tests/gpu/runtime) are
 * bundled with esbuild together with a `Deno.test` collector and a browser
 * `node:assert`, served on 127.0.0.1 and driven over the DevTools protocol.
 * The browser bundle (`web.ts`) is also loaded and used on both backends.
 *
 * Without Chromium the test fails under REQUIRE_WEBGPU (CI) and is skipped
 * otherwise.
 */

import assert from "node:assert/strict";
import { bundleFiles, stopBundler } from "../../tools/bundle.ts";
import { chromiumVersion, haveChromium, launchChromium } from "./_chromium.ts";
import { serveDir } from "./_serve.ts";
import type { PageReport } from "./page.ts";

const found = haveChromium();
if (!found && Deno.env.get("REQUIRE_WEBGPU")) {
  throw new Error(
    "REQUIRE_WEBGPU is set but Chromium is missing (set CHROMIUM or install the chromium package)",
  );
}

Deno.test({
  name:
    "[chromium] the WebGPU kernel tests pass in headless Chromium (Tint/Dawn) and the bundle loads",
  ignore: !found,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t0 = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "cnnf-page-" });
    try {
      const built = await bundleFiles({
        entryPoints: { page: "tests/browser/page.ts", web: "web.ts" },
        outdir: dir,
        minify: false,
        alias: { "node:assert/strict": "./tests/browser/assert_shim.ts" },
      }).finally(stopBundler);
      assert.deepEqual(built.foreignInputs, []);
      const server = await serveDir(dir);
      const browser = await launchChromium();
      try {
        const { page } = browser;
        await page.send("Page.navigate", { url: `${server.url}/` });
        await page.evaluate(
          `new Promise((r) => document.readyState === "complete" ? r() : addEventListener("load", r))`,
        );
        const bundle = await page.evaluate<{ cpu: number[]; gpu: number[] }>(
          `import("/web.js").then(async (m) => {
            const run = async (backend) => {
              await m.init({ backend, seed: 7 });
              const data = (n) => Array.from({ length: n }, (_, i) => Math.sin(i));
              const x = m.tensor(data(486), [2, 3, 9, 9]);
              const w = m.tensor(data(108), [4, 3, 3, 3]);
              const y = m.conv2d(x, w, { padding: 1 }).relu().mean([2, 3]);
              return [...await y.data()];
            };
            return { cpu: await run("cpu"), gpu: await run("webgpu") };
          })`,
        );
        assert.equal(bundle.cpu.length, 8);
        bundle.cpu.forEach((v, i) =>
          assert.ok(
            Math.abs(v - bundle.gpu[i]) < 1e-4,
            `web.js conv: cpu ${v} vs webgpu ${bundle.gpu[i]} at ${i}`,
          )
        );
        const tRun = performance.now();
        const report = await page.evaluate<PageReport>(
          `import("/page.js").then((m) => m.runTests("[webgpu]"))`,
        );
        const sec = (performance.now() - tRun) / 1000;
        const cpu = browser.cpuSeconds();
        const dump = Deno.env.get("CNNF_BROWSER_REPORT");
        if (dump) await Deno.writeTextFile(dump, JSON.stringify(report));
        const failed = report.results.filter((r) => !r.ok);
        const version = await chromiumVersion();
        console.log(
          `chromium: ${
            report.results.length - failed.length
          }/${report.results.length} [webgpu] tests passed in ${
            sec.toFixed(1)
          } s wall, Chromium CPU ${
            cpu?.toFixed(0) ?? "?"
          } s (${report.kernels.length} shader modules compiled by Tint, ${report.ignored.length} ignored); ${version}; adapter ${
            JSON.stringify(report.adapter)
          }; total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        const slow = [...report.results].sort((a, b) => b.ms - a.ms)
          .slice(0, 3).map((r) => `${r.name} ${(r.ms / 1000).toFixed(1)} s`);
        console.log(`chromium: slowest: ${slow.join("; ")}`);
        for (const f of failed) console.log(`FAILED ${f.name}\n${f.error}`);
        if (failed.length && browser.page.log.length) {
          console.log(browser.page.log.slice(-20).join("\n"));
        }
        assert.deepEqual(failed.map((f) => f.name), []);
        // reshape is a view of the same storage: it never emits a kernel.
        assert.deepEqual(
          report.opsNotRun.filter((op) => op !== "reshape"),
          [],
          "primitives never run on WebGPU",
        );
        // GEMM loaders in every combination (scalar, vec4, mixed), split-K.
        for (const family of [/:ss:/, /:vv:/, /:(sv|vs):/, /^splitk:/]) {
          assert.ok(
            report.kernels.some((k) => family.test(k)),
            `no kernel matching ${family} was compiled`,
          );
        }
        // Every file's tests ran: far more than a file's worth.
        assert.ok(report.results.length >= 100, `${report.results.length}`);
      } finally {
        await browser.close();
        await server.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
