/**
 * Every exported class and function of every entry point in deno.json's
 * exports map (namespace members such as `optim.Adam` included) carries a
 * runnable `@example`, so `deno test --doc` exercises each callable a user
 * can import. Reads the symbol tables from `deno doc --json <entry>`, one
 * entry at a time, and prints how many callables each entry documents.
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

interface DocTag {
  kind: string;
}
interface DocDecl {
  kind: string;
  location: { filename: string; line: number };
  declarationKind?: string;
  jsDoc?: { tags?: DocTag[] };
  def?: { elements?: DocSymbol[] };
}
interface DocSymbol {
  name: string;
  declarations: DocDecl[];
}
interface DocJson {
  nodes: Record<string, { symbols: DocSymbol[] }>;
}

const CALLABLE = new Set(["function", "class"]);

/** An exported callable as `deno doc` shows it. */
interface Callable {
  /** Qualified name, e.g. `optim.Adam`. */
  name: string;
  /** Where it is declared: the same symbol re-exported by two entries. */
  where: string;
  /** `@example` blocks over its declarations (overloads included). */
  examples: number;
}

/** Walks exported symbols, into namespaces, collecting the callables. */
function callables(symbols: DocSymbol[], prefix: string): Callable[] {
  const out: Callable[] = [];
  for (const sym of symbols) {
    const decls = sym.declarations.filter((d) =>
      d.declarationKind !== "private"
    );
    const name = prefix + sym.name;
    const calls = decls.filter((d) => CALLABLE.has(d.kind));
    if (calls.length > 0) {
      const loc = calls[0].location;
      out.push({
        name,
        where: `${loc.filename}:${loc.line}`,
        examples: decls.reduce(
          (n, d) =>
            n + (d.jsDoc?.tags?.filter((t) => t.kind === "example").length ??
              0),
          0,
        ),
      });
    }
    for (const d of decls) {
      if (d.kind === "namespace" && d.def?.elements) {
        out.push(...callables(d.def.elements, name + "."));
      }
    }
  }
  return out;
}

async function docJson(path: string): Promise<DocJson> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", path],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(
    code,
    0,
    `deno doc ${path}: ${new TextDecoder().decode(stderr)}`,
  );
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("every exported class and function of every entry point has an @example", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  ) as { exports: Record<string, string> };
  const missing: string[] = [];
  const unique = new Map<string, number>();
  const lines: string[] = [];
  for (const [entry, path] of Object.entries(config.exports)) {
    const doc = await docJson(path);
    const main = Object.entries(doc.nodes).find(([file]) =>
      file === new URL(path, root).href
    );
    assert.ok(main, `deno doc ${path}: no node for the entry file`);
    const found = callables(main[1].symbols, "");
    assert.ok(found.length > 0, `${entry}: no exported callables found`);
    for (const c of found) {
      if (c.examples === 0) missing.push(`${entry}: ${c.name}`);
      unique.set(c.where, c.examples);
    }
    const withEx = found.filter((c) => c.examples > 0).length;
    const blocks = found.reduce((n, c) => n + c.examples, 0);
    lines.push(
      `${entry.padEnd(12)} ${withEx} of ${found.length} callables, ` +
        `${blocks} @example blocks`,
    );
  }
  const blocks = [...unique.values()].reduce((a, b) => a + b, 0);
  const covered = [...unique.values()].filter((n) => n > 0).length;
  console.log(
    `@example coverage per entry point:\n${lines.join("\n")}\n` +
      `total (each symbol once, however many entries export it): ` +
      `${covered} of ${unique.size} callables, ${blocks} @example blocks`,
  );
  assert.deepEqual(missing, [], `callables without an @example`);
});
