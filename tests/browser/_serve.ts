/**
 * A static file server on 127.0.0.1 (a random port) for the browser tests:
 * serves one folder, and a blank page at `/` so the page has an origin
 * that counts as secure (WebGPU needs one).
 */

const TYPES: Record<string, string> = {
  js: "text/javascript",
  map: "application/json",
  html: "text/html",
};

/** A running server. */
export interface StaticServer {
  /** Base URL, e.g. "http://127.0.0.1:40123". */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Serves the files of `dir` (flat) on 127.0.0.1. */
export function serveDir(dir: string): Promise<StaticServer> {
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}`,
          close: () => server.shutdown(),
        }),
    }, async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      if (name === "") {
        return new Response("<!doctype html><title>cnnf tests</title>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (!/^[\w.-]+$/.test(name)) return new Response(null, { status: 404 });
      try {
        const body = await Deno.readFile(`${dir}/${name}`);
        const ext = name.split(".").pop()!;
        return new Response(body, {
          headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
        });
      } catch {
        return new Response(null, { status: 404 });
      }
    });
  });
}
