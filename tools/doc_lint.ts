/**
 * Runs `deno doc --lint` on every entry point of deno.json's exports map,
 * one at a time: a JSR user may import any single entry, so each must
 * document every type its signatures mention on its own (linting them
 * together hides a missing re-export behind another entry's).
 *
 * Usage: deno run --allow-read --allow-run tools/doc_lint.ts
 *
 * @module
 */

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as { exports: Record<string, string> };
let failed = 0;
for (const [name, path] of Object.entries(config.exports)) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", path],
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    failed++;
    console.error(`doc lint failed for ${name} (${path}):`);
    console.error(new TextDecoder().decode(stderr));
  }
}
const n = Object.keys(config.exports).length;
console.error(`doc lint: ${n - failed} of ${n} entry points clean`);
if (failed) Deno.exit(1);
