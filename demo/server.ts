/**
 * `deno task demo`: serves the in-browser robustness demo on 127.0.0.1.
 * On start it bundles the page's script (`demo/app.ts`) with esbuild,
 * prepares the two models' weights (see `weights.ts`) and picks a few
 * Fashion-MNIST test images (three per class, in file order) for the page.
 *
 * Routes: `/` (the page), `/app.js` (+ `.map`), `/style.css`,
 * `/api/config.json`, `/api/samples.json`, `/api/train.json` (the first
 * 512 training images, for training in the page),
 * `/weights/cnnf.safetensors`, `/weights/cnn.safetensors`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { bundleFiles, stopBundler } from "../tools/bundle.ts";
import { FASHION_MNIST_CLASSES } from "../train/data/idx.ts";
import { loadFashionMnist } from "../train/data/idx_files.ts";
import { type DemoWeights, loadDemoWeights } from "./weights.ts";

const HERE = new URL("./", import.meta.url).pathname;

/** Options of `startDemo`. */
export interface DemoOptions {
  /** Port (0: any free one). */
  port: number;
  /** A run folder with cnnf.safetensors and cnn.safetensors. */
  weights: string;
  /** Train the pair into `weights` when it is missing (default false). */
  train?: boolean;
  /** Fashion-MNIST folder (default: the Debian package's). */
  data?: string;
  /** Test images per class shown (default 3). */
  perClass?: number;
}

/** A running demo server. */
export interface DemoServer {
  /** The page's address. */
  url: string;
  /** The test images served (t10k indices, labels, pixels). */
  samples: { index: number[]; label: number[]; pixels: Uint8Array };
  /** The training images served (for training in the page). */
  train: { label: number[]; pixels: Uint8Array };
  /** The weights served. */
  weights: DemoWeights;
  /** Stops serving. */
  shutdown(): Promise<void>;
}

/** The first `perClass` test images of every class, in file order. */
async function pickSamples(dir: string | undefined, perClass: number) {
  const test = await loadFashionMnist({ split: "test", dir, fallback: false });
  const index: number[] = [];
  const counts = new Array(10).fill(0);
  for (let i = 0; i < test.n && index.length < 10 * perClass; i++) {
    const l = test.labels[i];
    if (counts[l] < perClass) {
      counts[l]++;
      index.push(i);
    }
  }
  index.sort((a, b) => test.labels[a] - test.labels[b] || a - b);
  const pixels = new Uint8Array(index.length * 784);
  index.forEach((i, k) =>
    pixels.set(test.images.subarray(i * 784, (i + 1) * 784), k * 784)
  );
  return {
    index,
    label: index.map((i) => test.labels[i]),
    pixels,
    source: test.source,
  };
}

/** The first `n` training images, for training a few steps in the page. */
async function pickTrain(dir: string | undefined, n: number) {
  const train = await loadFashionMnist({
    split: "train",
    dir,
    fallback: false,
  });
  n = Math.min(n, train.n);
  return {
    label: Array.from(train.labels.subarray(0, n)),
    pixels: train.images.slice(0, n * 784),
  };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bundles the page's script into memory (esbuild, via tools/bundle.ts). */
async function bundlePage(): Promise<
  { js: Uint8Array<ArrayBuffer>; map: Uint8Array<ArrayBuffer> }
> {
  const out = await Deno.makeTempDir({ prefix: "cnnf_demo_" });
  try {
    await bundleFiles({
      entryPoints: ["demo/app.ts"],
      outdir: out,
      minify: false,
    });
    return {
      js: await Deno.readFile(`${out}/app.js`),
      map: await Deno.readFile(`${out}/app.js.map`),
    };
  } finally {
    await stopBundler();
    await Deno.remove(out, { recursive: true });
  }
}

/**
 * Bundles the page, prepares weights and samples, and starts serving.
 * @param o Port, weights folder, data folder.
 */
export async function startDemo(o: DemoOptions): Promise<DemoServer> {
  const [page, weights, samples, train] = await Promise.all([
    bundlePage(),
    loadDemoWeights(o.weights, { train: o.train }),
    pickSamples(o.data, o.perClass ?? 3),
    pickTrain(o.data, 512),
  ]);
  const config = JSON.stringify({
    ...weights.config,
    classes: FASHION_MNIST_CLASSES,
  });
  const samplesJson = JSON.stringify({
    index: samples.index,
    label: samples.label,
    pixels: base64(samples.pixels),
    source: samples.source,
  });
  const trainJson = JSON.stringify({
    label: train.label,
    pixels: base64(train.pixels),
  });
  const cnnf = new Uint8Array(weights.cnnf);
  const cnn = new Uint8Array(weights.cnn);
  const files: Record<
    string,
    () => Promise<[Uint8Array<ArrayBuffer> | string, string]>
  > = {
    "/": async () => [await Deno.readFile(`${HERE}index.html`), "text/html"],
    "/style.css": async () => [
      await Deno.readFile(`${HERE}style.css`),
      "text/css",
    ],
    "/app.js": () => Promise.resolve([page.js, "text/javascript"]),
    "/app.js.map": () => Promise.resolve([page.map, "application/json"]),
    "/api/config.json": () => Promise.resolve([config, "application/json"]),
    "/api/samples.json": () =>
      Promise.resolve([samplesJson, "application/json"]),
    "/api/train.json": () => Promise.resolve([trainJson, "application/json"]),
    "/weights/cnnf.safetensors": () =>
      Promise.resolve([cnnf, "application/octet-stream"]),
    "/weights/cnn.safetensors": () =>
      Promise.resolve([cnn, "application/octet-stream"]),
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: o.port,
    onListen: () => {},
  }, async (req) => {
    const route = files[new URL(req.url).pathname];
    if (!route) return new Response("not found", { status: 404 });
    const [body, type] = await route();
    return new Response(body, {
      headers: { "content-type": type, "cache-control": "no-store" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    samples,
    train,
    weights,
    shutdown: () => server.shutdown(),
  };
}

const USAGE =
  `usage: deno task demo [--port N] [--weights runs/NAME] [--data DIR]

Serves the CNN-F robustness demo on 127.0.0.1.
  --port N          port (default 8000; 0 picks a free one)
  --weights DIR     a training run's folder (cnnf.safetensors, cnn.safetensors);
                    default runs/demo, trained by a short CLI run when empty
  --data DIR        Fashion-MNIST IDX folder (default the Debian package's)`;

if (import.meta.main) {
  const { values: f } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "8000" },
      weights: { type: "string" },
      data: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (f.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`demo: --port must be an integer 0..65535, got ${f.port}`);
    Deno.exit(2);
  }
  try {
    const s = await startDemo({
      port,
      weights: f.weights ?? "runs/demo",
      train: f.weights === undefined,
      data: f.data,
    });
    console.error(
      `demo: weights from ${s.weights.config.source}; ${s.samples.index.length} test images`,
    );
    console.log(`demo: serving on ${s.url}`);
  } catch (e) {
    console.error(`demo: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
