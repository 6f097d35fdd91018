// ComfyUI imports every .js under js/ as a module, so the helpers must load alone, without a DOM,
// and do nothing but export; only the entry module registers the extension.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const JS = fileURLToPath(new URL("../../js/", import.meta.url));

function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return jsFiles(p);
    return e.name.endsWith(".js") ? [p] : [];
  });
}

test("helper modules import alone without a DOM and leave globals untouched", async () => {
  const before = new Set(Object.getOwnPropertyNames(globalThis));
  const helpers = jsFiles(path.join(JS, "lib"));
  assert.ok(helpers.length >= 7, helpers.join(", "));
  for (const file of helpers) {
    const mod = await import(pathToFileURL(file).href);
    assert.ok(Object.keys(mod).length > 0, `${file} exports something`);
  }
  const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
  assert.deepEqual(added, []);
});

test("only the entry module talks to ComfyUI", () => {
  for (const file of jsFiles(JS)) {
    const text = readFileSync(file, "utf8");
    const entry = path.basename(file) === "echo_stream_preview.js";
    assert.equal(/registerExtension\(/.test(text), entry, file);
    assert.equal(/scripts\/(app|api)\.js/.test(text), entry, file);
  }
});
