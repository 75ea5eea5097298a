/**
 * A small headless-Chromium driver for tests, over the DevTools protocol
 * and Deno's WebSocket (no npm dependency): launch Debian's chromium with
 * WebGPU on SwiftShader/Vulkan, open a page, evaluate expressions in it,
 * collect its console and errors, and take screenshots.
 */

/** Where Debian puts Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether a Chromium binary exists here. */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** The flags that expose WebGPU in headless Chromium. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan,VulkanFromANGLE",
  "--use-angle=vulkan",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--window-size=1400,1000",
];

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** A Chromium process with one page attached. */
export class Browser {
  readonly #proc: Deno.ChildProcess;
  readonly #ws: WebSocket;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  /** Console lines and uncaught errors of the page, in order. */
  readonly log: string[] = [];

  private constructor(proc: Deno.ChildProcess, ws: WebSocket, dir: string) {
    this.#proc = proc;
    this.#ws = ws;
    this.#dir = dir;
    ws.onmessage = (ev) => this.#onMessage(JSON.parse(ev.data as string));
  }

  /** Starts Chromium and attaches to its first page. */
  static async launch(): Promise<Browser> {
    const dir = await Deno.makeTempDir({ prefix: "cdp_" });
    const proc = new Deno.Command(CHROMIUM, {
      args: [
        ...FLAGS,
        `--user-data-dir=${dir}`,
        "--remote-debugging-port=0",
        "about:blank",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chromium prints the browser's WebSocket address on stderr.
    const reader = proc.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    let port = "";
    const deadline = Date.now() + 30_000;
    while (!port) {
      if (Date.now() > deadline) {
        throw new Error(`chromium did not start: ${text.slice(-2000)}`);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited: ${text.slice(-2000)}`);
      text += value;
      port = text.match(/ws:\/\/127\.0\.0\.1:(\d+)\//)?.[1] ?? "";
    }
    // Keep draining stderr so Chromium never blocks on a full pipe.
    (async () => {
      try {
        while (!(await reader.read()).done) { /* drain */ }
      } catch { /* closed */ }
    })();
    let url = "";
    for (let i = 0; i < 50 && !url; i++) {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`))
        .json() as { type: string; webSocketDebuggerUrl: string }[];
      url = list.find((t) => t.type === "page")?.webSocketDebuggerUrl ?? "";
      if (!url) await new Promise((r) => setTimeout(r, 100));
    }
    if (!url) throw new Error("chromium: no page target");
    const ws = new WebSocket(url);
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = () => rej(new Error(`cannot connect to ${url}`));
    });
    const b = new Browser(proc, ws, dir);
    await b.send("Runtime.enable");
    await b.send("Page.enable");
    return b;
  }

  #onMessage(m: Record<string, unknown>): void {
    if (typeof m.id === "number") {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      const err = m.error as { message: string } | undefined;
      if (err) p.reject(new Error(`${p.method}: ${err.message}`));
      else p.resolve(m.result as Record<string, unknown>);
      return;
    }
    const params = m.params as Record<string, unknown>;
    if (m.method === "Runtime.consoleAPICalled") {
      const args = params.args as { value?: unknown; description?: string }[];
      this.log.push(
        `[${params.type}] ` +
          args.map((a) => String(a.value ?? a.description ?? "")).join(" "),
      );
    } else if (m.method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      this.log.push(`[exception] ${d.exception?.description ?? d.text}`);
    }
  }

  /** Sends one protocol command and waits for its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Navigates and waits for the load event. */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((res) => {
      const prev = this.#ws.onmessage;
      this.#ws.onmessage = (ev) => {
        prev?.call(this.#ws, ev);
        if (JSON.parse(ev.data as string).method === "Page.loadEventFired") {
          this.#ws.onmessage = prev;
          res();
        }
      };
    });
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /**
   * Evaluates an expression in the page (awaiting a promise) and returns
   * its JSON value; a page-side exception becomes an Error here.
   */
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const ex = r.exceptionDetails as
      | { text: string; exception?: { description?: string } }
      | undefined;
    if (ex) {
      throw new Error(`in page: ${ex.exception?.description ?? ex.text}`);
    }
    return (r.result as { value: T }).value;
  }

  /** Waits until `expression` is truthy in the page; returns its value. */
  async waitFor<T>(expression: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const v = await this.eval<T>(expression);
      if (v) return v;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${expression}; page log:\n${
            this.log.slice(-20).join("\n")
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Uint8Array> {
    const m = await this.eval<{ w: number; h: number }>(
      "({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})",
    );
    await this.send("Emulation.setDeviceMetricsOverride", {
      width: Math.max(1200, m.w),
      height: m.h,
      deviceScaleFactor: 1,
      mobile: false,
    });
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the page, stops Chromium and removes its profile. */
  async close(): Promise<void> {
    try {
      await Promise.race([
        this.send("Browser.close"),
        new Promise((r) => setTimeout(r, 2000)),
      ]);
    } catch { /* already gone */ }
    this.#ws.close();
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#proc.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
