/**
 * Terminal rendering of progress events: on a TTY one status line redrawn in
 * place (with rate and ETA), otherwise plain log lines at a bounded rate.
 * Library code reports through callbacks; only the CLI creates one of these.
 *
 * @module
 */

/** A progress event from a long-running job. */
export interface ProgressEvent {
  /** What is running (e.g. "train cnnf epoch 2/5"). */
  label: string;
  /** Units done. */
  done: number;
  /** Units in total. */
  total: number;
  /** Unit name for the rate (e.g. "img"). */
  unit?: string;
  /** Extra fields shown after the bar (e.g. loss, acc). */
  fields?: Record<string, string | number>;
  /**
   * First event of a phase, sent before its first unit: `done` units were
   * finished earlier (a resumed epoch), so rates count from here.
   */
  start?: boolean;
  /** The run-plan phase this event advances (see `planRun`). */
  phase?: string;
  /** Units of that phase done (all epochs, resumed ones included). */
  phaseDone?: number;
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

/**
 * Fits parts into `width` columns by dropping whole parts from the end and
 * then shortening the first (the label) word by word: never cuts a number.
 */
export function fitLine(parts: string[], width: number): string {
  const keep = parts.filter(Boolean);
  while (keep.length > 2 && keep.join("  ").length > width) keep.pop();
  let line = keep.join("  ");
  if (line.length <= width) return line;
  const rest = keep.slice(1).join("  ");
  const words = keep[0].split(" ");
  while (words.length > 1 && `${words.join(" ")}…  ${rest}`.length > width) {
    words.pop();
  }
  line = `${words.join(" ")}…  ${rest}`;
  return line.length <= width ? line : rest;
}

/** Renders progress events to stderr. */
export class ProgressPrinter {
  #tty: boolean;
  // The first line shows at once; later ones at most every `interval`.
  #last = -Infinity;
  #lastEvent = 0;
  #start = new Map<
    string,
    { t: number; done: number; last: number; shown: boolean }
  >();
  #open = false;
  #quiet: boolean;
  #enc = new TextEncoder();
  #runEta?: () => number;
  #sink?: (text: string) => void;
  #columns?: number;
  #now: () => number;
  /** Minimum seconds between plain lines. */
  readonly interval: number;

  /**
   * Creates the printer.
   * @param o quiet: print nothing; tty: override terminal detection;
   *   interval: seconds between plain lines (default 10); runEta: seconds
   *   left in the whole run, shown on every line; write: where text goes
   *   (default stderr); now: clock in seconds; columns: terminal width
   *   (default: the console's).
   */
  constructor(
    o: {
      quiet?: boolean;
      tty?: boolean;
      interval?: number;
      runEta?: () => number;
      write?: (text: string) => void;
      now?: () => number;
      columns?: number;
    } = {},
  ) {
    this.#quiet = o.quiet ?? false;
    this.#tty = o.tty ?? Deno.stderr.isTerminal();
    this.interval = o.interval ?? 10;
    this.#runEta = o.runEta;
    this.#sink = o.write;
    this.#columns = o.columns;
    this.#now = o.now ?? (() => performance.now() / 1000);
    this.#lastEvent = this.#now();
  }

  #write(s: string): void {
    if (this.#sink) this.#sink(s);
    else Deno.stderr.writeSync(this.#enc.encode(s));
  }

  /** Shows a progress event. */
  update(e: ProgressEvent): void {
    if (this.#quiet) return;
    const now = this.#now();
    const prev = this.#lastEvent;
    this.#lastEvent = now;
    let st = this.#start.get(e.label);
    // A new phase (or a label reused by a later one) measures its own rate:
    // from its start event, else from the previous event of any phase.
    if (e.start) {
      this.#start.set(e.label, {
        t: now,
        done: e.done,
        last: e.done,
        shown: false,
      });
      return;
    }
    if (!st || e.done < st.last) {
      this.#start.set(
        e.label,
        st = { t: prev, done: 0, last: e.done, shown: false },
      );
    }
    st.last = e.done;
    const finished = e.done >= e.total;
    const minGap = this.#tty ? 0.1 : this.interval;
    // A phase's first line shows at once: it says what runs now.
    if (st.shown && !finished && now - this.#last < minGap) return;
    st.shown = true;
    this.#last = now;
    const el = now - st.t;
    const rate = el > 0 ? (e.done - st.done) / el : 0;
    const eta = rate > 0 ? (e.total - e.done) / rate : NaN;
    const fields = Object.entries(e.fields ?? {}).map(([k, v]) =>
      `${k} ${typeof v === "number" ? fmtNum(v) : v}`
    );
    const pct = e.total ? Math.floor((100 * e.done) / e.total) : 100;
    // Slow steps (a minute each on a CPU) read better as seconds per unit.
    const unit = e.unit ?? "it";
    const speed = rate >= 1 || rate === 0
      ? `${rate.toFixed(1)} ${unit}/s`
      : `${(1 / rate).toFixed(1)} s/${unit}`;
    const stats = `${e.done}/${e.total}  ${speed}  eta ${formatDuration(eta)}`;
    const run = this.#runEta ? `run eta ${formatDuration(this.#runEta())}` : "";
    if (this.#tty) {
      const width = 20;
      const fill = Math.round((width * pct) / 100);
      const bar = `[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${pct}%`;
      let columns = this.#columns ?? Infinity;
      if (this.#columns === undefined) {
        try {
          columns = Deno.consoleSize().columns - 1;
        } catch { /* not a console */ }
      }
      const line = fitLine([e.label, stats, run, bar, ...fields], columns);
      this.#write(`\r\x1b[K${line}`);
      this.#open = true;
      if (finished) this.done();
    } else {
      this.#write(
        `${
          [e.label, `${pct}%`, stats, run, ...fields].filter(Boolean).join("  ")
        }\n`,
      );
    }
  }

  /** Prints a log line (ending any open status line first). */
  log(line: string): void {
    if (this.#quiet) return;
    this.done();
    this.#write(`${line}\n`);
  }

  /** Ends the status line. */
  done(): void {
    if (this.#open) {
      this.#write("\n");
      this.#open = false;
    }
  }
}

function fmtNum(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}
