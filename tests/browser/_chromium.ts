/**
 * Headless Chromium for the browser tests: launches `/usr/bin/chromium`
 * with WebGPU on SwiftShader (the flags headless Chromium needs for it),
 * finds the page target over the DevTools HTTP endpoint and drives it with
 * a minimal Chrome DevTools Protocol client over Deno's built-in WebSocket.
 */

/** Where Chromium is looked for (override with `CHROMIUM`). */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Whether the Chromium binary exists. */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/** Chromium's version line, e.g. "Chromium 156.0.8078.114 ...". */
export async function chromiumVersion(): Promise<string> {
  const out = await new Deno.Command(CHROMIUM_PATH, {
    args: ["--version"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** A DevTools-protocol session with one page. */
export class CdpPage {
  #ws: WebSocket;
  #next = 1;
  #waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  /** Console lines and exceptions the page produced. */
  readonly log: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        const w = this.#waiting.get(msg.id);
        this.#waiting.delete(msg.id);
        if (msg.error) w?.reject(new Error(JSON.stringify(msg.error)));
        else w?.resolve(msg.result);
      } else if (msg.method === "Runtime.consoleAPICalled") {
        const args = msg.params.args as { value?: unknown }[];
        this.log.push(
          `console.${msg.params.type}: ${
            args.map((a) => String(a.value ?? "")).join(" ")
          }`,
        );
      } else if (msg.method === "Runtime.exceptionThrown") {
        const d = msg.params.exceptionDetails;
        this.log.push(`exception: ${d.exception?.description ?? d.text}`);
      }
    };
  }

  /** Connects to a page target's WebSocket URL. */
  static async connect(url: string): Promise<CdpPage> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const page = new CdpPage(ws);
    await page.send("Runtime.enable");
    await page.send("Page.enable");
    return page;
  }

  /** Sends a command and waits for its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<
    // deno-lint-ignore no-explicit-any
    any
  > {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) =>
      this.#waiting.set(id, { resolve, reject })
    );
  }

  /**
   * Evaluates an expression in the page, awaits it, and returns its value
   * (JSON-serialisable); a page exception becomes an Error.
   */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error(`page: ${d.exception?.description ?? d.text}`);
    }
    return r.result.value as T;
  }

  /** Closes the connection. */
  close(): void {
    this.#ws.close();
  }
}

/** A running headless Chromium with one page connected over CDP. */
export interface Browser {
  /** The page. */
  page: CdpPage;
  /**
   * CPU seconds (user + system) used so far by Chromium's live processes,
   * from /proc (null elsewhere): a figure that does not depend on how busy
   * the machine is, unlike wall time.
   */
  cpuSeconds(): number | null;
  /** Closes the page, kills Chromium and removes its profile. */
  close(): Promise<void>;
}

/** Launches headless Chromium on `about:blank` and connects to its page. */
export async function launchChromium(): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "cnnf-chromium-" });
  const child = new Deno.Command(CHROMIUM_PATH, {
    args: [
      "--headless",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--enable-features=Vulkan,VulkanFromANGLE",
      "--use-angle=vulkan",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const cleanup = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const port = await devtoolsPort(child.stderr);
    let target: { type: string; webSocketDebuggerUrl: string } | undefined;
    for (let i = 0; i < 100 && !target; i++) {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`))
        .json() as { type: string; webSocketDebuggerUrl: string }[];
      target = list.find((t) => t.type === "page");
      if (!target) await new Promise((r) => setTimeout(r, 100));
    }
    if (!target) throw new Error("chromium: no page target");
    const page = await CdpPage.connect(target.webSocketDebuggerUrl);
    return {
      page,
      cpuSeconds: () => treeCpuSeconds(child.pid),
      close: async () => {
        page.close();
        await cleanup();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Reads stderr until "DevTools listening on ws://host:port/...". */
async function devtoolsPort(
  stderr: ReadableStream<Uint8Array>,
): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => reader.cancel(), 30_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      const m = text.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//);
      if (m) {
        // Keep draining so Chromium never blocks on a full stderr pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* discard */ }
          } catch { /* closed */ }
        })();
        return Number(m[1]);
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`chromium did not start:\n${text.slice(-2000)}`);
}

/** Sums utime + stime over `root` and its descendants (Linux /proc). */
function treeCpuSeconds(root: number): number | null {
  try {
    const procs = new Map<number, { ppid: number; ticks: number }>();
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        // Fields after the parenthesised command: state ppid ... utime stime.
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        procs.set(Number(e.name), {
          ppid: Number(f[1]),
          ticks: Number(f[11]) + Number(f[12]),
        });
      } catch { /* exited meanwhile */ }
    }
    let ticks = 0;
    for (const [pid, p] of procs) {
      let q: number | undefined = pid;
      while (q !== undefined && q !== root && q > 1) q = procs.get(q)?.ppid;
      if (q === root) ticks += p.ticks;
    }
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
