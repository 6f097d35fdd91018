import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBlockEvent, parseExecutedOutput, parseRunEvent, viewPath } from "../../js/lib/payload.js";
import { PNG_1PX, blockEvent, runEvent } from "./fixtures.mjs";

function without(obj, key) {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

test("a valid run event is accepted and normalised", () => {
  const r = parseRunEvent(runEvent({ node: 12, scenes: [
    { index: 1, label: "  forest ", transition: "Smooth", start_block: 12, blocks: 12 },
    { index: 0, label: "", transition: "start", start_block: 0, blocks: 12 },
  ] }));
  assert.equal(r.ok, true, r.error);
  assert.equal(r.value.node, "12", "numeric node ids become strings");
  assert.deepEqual(r.value.scenes.map((s) => s.index), [0, 1], "scenes sorted by start_block");
  assert.equal(r.value.scenes[0].label, null, "empty label means no label");
  assert.equal(r.value.scenes[1].label, "forest");
  assert.equal(r.value.scenes[1].transition, "smooth");
  assert.equal(r.value.message, null);
});

test("an error run keeps its message", () => {
  const r = parseRunEvent(runEvent({ phase: "error", message: "CUDA out of memory" }));
  assert.equal(r.ok, true);
  assert.equal(r.value.message, "CUDA out of memory");
});

test("unknown transitions are kept for forward compatibility", () => {
  const r = parseRunEvent(runEvent({ scenes: [{ index: 0, label: null, transition: "morph", start_block: 0, blocks: 3 }] }));
  assert.equal(r.ok, true);
  assert.equal(r.value.scenes[0].transition, "morph");
});

test("run events with a wrong version are refused", () => {
  for (const version of [0, 2, "1", null, undefined]) {
    const r = parseRunEvent(runEvent({ version }));
    assert.equal(r.ok, false, `version ${version}`);
    assert.match(r.error, /^version/);
  }
  assert.equal(parseRunEvent(without(runEvent(), "version")).ok, false);
});

test("run events missing a field are refused, naming it", () => {
  for (const key of ["node", "session", "run", "phase", "continued", "first_block", "run_blocks",
    "total_blocks", "frames_per_block", "fps", "frames_per_image", "scenes"]) {
    const r = parseRunEvent(without(runEvent(), key));
    assert.equal(r.ok, false, key);
    assert.ok(r.error.startsWith(key), `${key}: ${r.error}`);
  }
});

test("run events with wrong types are refused", () => {
  const bad = {
    node: [12], session: "", run: 7, phase: "paused", continued: "yes", first_block: -1,
    run_blocks: 1.5, total_blocks: "40", frames_per_block: 0, fps: 0, frames_per_image: null, scenes: {},
  };
  for (const [key, value] of Object.entries(bad)) {
    const r = parseRunEvent(runEvent({ [key]: value }));
    assert.equal(r.ok, false, `${key}=${JSON.stringify(value)}`);
  }
  const badScene = parseRunEvent(runEvent({ scenes: [{ index: 0, label: 3, transition: "start", start_block: 0, blocks: 1 }] }));
  assert.equal(badScene.ok, false);
  assert.match(badScene.error, /^scenes\[0\]: label/);
  const missing = parseRunEvent(runEvent({ scenes: [{ index: 0, transition: "cut", start_block: 0 }] }));
  assert.match(missing.error, /^scenes\[0\]: blocks: missing/);
});

test("a valid block event is accepted", () => {
  const r = parseBlockEvent(blockEvent({ block: 17, image_frame: 51, scene: { index: 1, label: "forest", transition: "smooth" } }));
  assert.equal(r.ok, true, r.error);
  assert.equal(r.value.block, 17);
  assert.equal(r.value.image_frame, 51);
  assert.equal(r.value.images.length, 3);
  assert.deepEqual(r.value.scene, { index: 1, label: "forest", transition: "smooth" });
  assert.deepEqual(r.value.timing, { elapsed: 0.6, blocks_per_second: 1.6, eta: 14.4 });
});

test("a throttled block (no images) needs no image_frame; null timings are allowed", () => {
  const r = parseBlockEvent(without(blockEvent({ images: [], timing: { elapsed: 0.5, blocks_per_second: null, eta: null } }), "image_frame"));
  assert.equal(r.ok, true, r.error);
  assert.equal(r.value.image_frame, null);
  assert.equal(r.value.timing.eta, null);
  assert.equal(parseBlockEvent(blockEvent({ images: [], image_frame: null })).ok, true);
});

test("block events with a wrong version, missing or mistyped fields are refused", () => {
  assert.match(parseBlockEvent(blockEvent({ version: 2 })).error, /^version/);
  for (const key of ["node", "session", "run", "block", "run_block", "run_blocks", "total_blocks", "scene", "images", "image_frame", "timing"]) {
    const r = parseBlockEvent(without(blockEvent(), key));
    assert.equal(r.ok, false, key);
    assert.ok(r.error.startsWith(key), `${key}: ${r.error}`);
  }
  const bad = {
    block: -3, run_block: "5", scene: { index: 0, label: null }, images: PNG_1PX,
    image_frame: 1.5, timing: { elapsed: "3.2", blocks_per_second: 1, eta: 1 },
  };
  for (const [key, value] of Object.entries(bad)) {
    assert.equal(parseBlockEvent(blockEvent({ [key]: value })).ok, false, key);
  }
  assert.equal(parseBlockEvent(blockEvent({ timing: { elapsed: -1, blocks_per_second: 1, eta: 1 } })).ok, false);
  assert.equal(parseBlockEvent(blockEvent({ timing: { elapsed: 1, blocks_per_second: Infinity, eta: 1 } })).ok, false);
});

test("only inline base64 images are accepted", () => {
  for (const img of ["https://example.com/x.jpg", "data:text/html;base64,PGI+", "data:image/svg+xml;base64,PHN2Zz4=", 42, "data:image/png;base64,<script>"]) {
    const r = parseBlockEvent(blockEvent({ images: [PNG_1PX, img] }));
    assert.equal(r.ok, false, String(img));
    assert.match(r.error, /^images\[1\]/);
  }
});

test("parsers never throw, whatever they are given", () => {
  const hostile = { get version() { throw new Error("boom"); } };
  for (const input of [undefined, null, 0, "x", [], [1], {}, hostile]) {
    for (const parse of [parseRunEvent, parseBlockEvent, parseExecutedOutput]) {
      const r = parse(input);
      assert.equal(r.ok, false);
      assert.equal(typeof r.error, "string");
    }
  }
});

test("the executed output gives the final file and its /view path", () => {
  const r = parseExecutedOutput({ images: [{ filename: "echo 00001.webp", subfolder: "echo/run", type: "output" }], animated: [true] });
  assert.equal(r.ok, true, r.error);
  assert.equal(r.value.animated, true);
  assert.equal(viewPath(r.value), "/view?filename=echo+00001.webp&subfolder=echo%2Frun&type=output");
  const minimal = parseExecutedOutput({ images: [{ filename: "a.webp" }] });
  assert.deepEqual(minimal.value, { filename: "a.webp", subfolder: "", type: "output", animated: false });
  assert.equal(parseExecutedOutput({ images: [] }).ok, false);
  assert.equal(parseExecutedOutput({ images: [{ subfolder: "" }] }).ok, false);
  assert.equal(parseExecutedOutput({ text: ["hello"] }).ok, false);
});
