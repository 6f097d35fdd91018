// A Scene Recall without a label of its own is shown under the label of the scene it returns to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBlockEvent, parseRunEvent } from "../../js/lib/payload.js";
import { sceneTitle } from "../../js/lib/palette.js";
import { Timeline } from "../../js/lib/timeline.js";
import { blockEvent, runEvent } from "./fixtures.mjs";

const SCENES = [
  { index: 0, label: "library", transition: "start", start_block: 0, blocks: 4 },
  { index: 1, label: null, transition: "cut", start_block: 4, blocks: 4 },
  { index: 2, label: null, transition: "recall", start_block: 8, blocks: 4, recalls: { index: 0, label: "library" } },
  { index: 3, label: null, transition: "recall", start_block: 12, blocks: 4, recalls: { index: 1, label: null } },
  { index: 4, label: "again", transition: "recall", start_block: 16, blocks: 4, recalls: { index: 0, label: "library" } },
  { index: 5, label: null, transition: "recall", start_block: 20, blocks: 4 },
];

test("titles: own label, else the recalled scene's label or index, else the scene's index", () => {
  const parsed = parseRunEvent(runEvent({ scenes: SCENES, run_blocks: 24, total_blocks: 24 }));
  assert.ok(parsed.ok, parsed.error);
  assert.deepEqual(parsed.value.scenes.map(sceneTitle), ["library", "scene 1", "library", "scene 1", "again", "scene 5"]);
  assert.equal("recalls" in parsed.value.scenes[1], false, "scenes without a target carry no field");
});

test("a block event's scene carries the target, and the timeline keeps it", () => {
  const tl = new Timeline();
  tl.applyRun(parseRunEvent(runEvent({ scenes: SCENES.slice(0, 2), run_blocks: 12, total_blocks: 12 })).value);
  const ev = parseBlockEvent(blockEvent({ block: 8, run_block: 8, run_blocks: 12, total_blocks: 12, image_frame: 24,
    scene: { index: 2, label: null, transition: "recall", recalls: { index: 0, label: " library " } } }));
  assert.ok(ev.ok, ev.error);
  assert.deepEqual(ev.value.scene.recalls, { index: 0, label: "library" });
  tl.applyBlock(ev.value);
  assert.equal(sceneTitle(tl.sceneAt(8)), "library");
});

test("a malformed target is refused with the field named", () => {
  const bad = parseBlockEvent(blockEvent({ scene: { index: 2, label: null, transition: "recall", recalls: "library" } }));
  assert.equal(bad.ok, false);
  assert.match(bad.error, /recalls/);
});
