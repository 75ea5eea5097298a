/**
 * `deno task bundle`: bundles the browser entry `web.ts` with esbuild into
 * one minified ES module, `dist/web.js`, with its source map, and prints
 * the minified and gzip sizes. The bundle must pull in no package: every
 * input is a file of this repository (checked from esbuild's metafile).
 *
 * The tests reuse `bundleFiles` to bundle their own entries (the browser
 * test page, the Node.js script).
 *
 * @module
 */

import * as esbuild from "npm:esbuild@0.28.2";

const ROOT = new URL("../", import.meta.url).pathname;

/** Options of `bundleFiles`. */
export interface BundleOptions {
  /**
   * Entry files, relative to the repository root; as a record, output names
   * (without `.js`) to files.
   */
  entryPoints: string[] | Record<string, string>;
  /** Output folder. */
  outdir: string;
  /** Minify (default true). */
  minify?: boolean;
  /** Module specifiers to replace by files (e.g. "node:assert/strict"). */
  alias?: Record<string, string>;
  /** "browser" (default) or "node". */
  platform?: "browser" | "node";
}

/** What `bundleFiles` wrote. */
export interface BundleOutput {
  /** Output files with their sizes in bytes. */
  files: { path: string; bytes: number }[];
  /** Input files that are not part of this repository (should be none). */
  foreignInputs: string[];
}

/**
 * Bundles `entryPoints` into ES modules with external source maps.
 * @param o Entries, output folder, minification, aliases, platform.
 */
export async function bundleFiles(o: BundleOptions): Promise<BundleOutput> {
  const r = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: o.entryPoints,
    outdir: o.outdir,
    bundle: true,
    format: "esm",
    platform: o.platform ?? "browser",
    target: "es2022",
    minify: o.minify ?? true,
    sourcemap: "external",
    metafile: true,
    alias: o.alias,
    logLevel: "error",
  });
  const files = Object.entries(r.metafile.outputs).map(([path, out]) => ({
    path,
    bytes: out.bytes,
  }));
  const foreignInputs = Object.keys(r.metafile.inputs).filter((p) =>
    p.includes("node_modules") || /^(npm|node|jsr|https?):/.test(p)
  );
  return { files, foreignInputs };
}

/** Stops esbuild's service so the process can exit. */
export async function stopBundler(): Promise<void> {
  await esbuild.stop();
}

async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

if (import.meta.main) {
  try {
    const out = await bundleFiles({ entryPoints: ["web.ts"], outdir: "dist" });
    if (out.foreignInputs.length) {
      throw new Error(
        `the bundle pulls in packages: ${out.foreignInputs.join(", ")}`,
      );
    }
    const js = await Deno.readFile(`${ROOT}dist/web.js`);
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    console.log(
      `dist/web.js: ${kib(js.length)} minified, ${
        kib(await gzipSize(js))
      } gzip (+ dist/web.js.map)`,
    );
  } finally {
    await stopBundler();
  }
}
