import { test } from "node:test";
import assert from "node:assert/strict";
import { Timeline, clipScenes, normaliseScenes } from "../../js/lib/timeline.js";
import { parseBlockEvent, parseRunEvent } from "../../js/lib/payload.js";
import { blockEvent, runEvent } from "./fixtures.mjs";

const run = (over) => parseRunEvent(runEvent(over)).value;
const block = (over) => parseBlockEvent(blockEvent(over)).value;
const spans = (tl) => tl.scenes.map((s) => [s.index, s.start_block, s.blocks, s.transition]);

const FIRST_SCENES = [
  { index: 0, label: "beach", transition: "start", start_block: 0, blocks: 12 },
  { index: 1, label: "forest", transition: "smooth", start_block: 12, blocks: 12 },
];
const ALL_SCENES = [
  ...FIRST_SCENES,
  { index: 2, label: "city", transition: "cut", start_block: 24, blocks: 12 },
  { index: 3, label: "beach", transition: "recall", start_block: 36, blocks: 8 },
];

test("a start event lays out the planned timeline", () => {
  const tl = new Timeline();
  const { reset } = tl.applyRun(run({ scenes: FIRST_SCENES }));
  assert.equal(reset, true);
  assert.equal(tl.phase, "running");
  assert.equal(tl.totalBlocks, 24);
  assert.equal(tl.generatedBlocks, 0);
  assert.deepEqual(spans(tl), [[0, 0, 12, "start"], [1, 12, 12, "smooth"]]);
});

test("blocks advance the generated extent and their scene", () => {
  const tl = new Timeline();
  tl.applyRun(run({ scenes: FIRST_SCENES }));
  for (let b = 0; b < 14; b++) {
    const scene = b < 12 ? { index: 0, label: "beach", transition: "start" } : { index: 1, label: "forest", transition: "smooth" };
    tl.applyBlock(block({ block: b, run_block: b, scene, image_frame: 3 * b }));
  }
  assert.equal(tl.generatedBlocks, 14);
  assert.equal(tl.lastBlock, 13);
  assert.equal(tl.sceneAt(13).label, "forest");
  assert.equal(tl.sceneAt(11).label, "beach");
  assert.equal(tl.sceneAt(24), null);
  assert.deepEqual(spans(tl), [[0, 0, 12, "start"], [1, 12, 12, "smooth"]], "blocks inside the plan leave it unchanged");
});

test("two queue runs of one continued session grow one timeline", () => {
  const tl = new Timeline();
  tl.applyRun(run({ run: "r1", scenes: FIRST_SCENES }));
  for (let b = 0; b < 24; b++) tl.applyBlock(block({ run: "r1", block: b, image_frame: 3 * b, scene: tl.sceneAt(b) }));
  tl.applyRun(run({ run: "r1", phase: "end", scenes: FIRST_SCENES }));
  assert.equal(tl.phase, "end");
  const second = run({ run: "r2", continued: true, first_block: 24, run_blocks: 20, total_blocks: 44, scenes: ALL_SCENES });
  const { reset, truncateFromBlock } = tl.applyRun(second);
  assert.equal(reset, false);
  assert.equal(truncateFromBlock, null);
  assert.deepEqual(tl.runs, ["r1", "r2"]);
  assert.equal(tl.generatedBlocks, 24);
  assert.equal(tl.totalBlocks, 44);
  assert.equal(tl.scenes.length, 4);
  tl.applyBlock(block({ run: "r2", block: 24, run_block: 0, total_blocks: 44, image_frame: 72, scene: { index: 2, label: "city", transition: "cut" } }));
  assert.equal(tl.generatedBlocks, 25);
  assert.equal(tl.sceneAt(40).transition, "recall");
});

test("a new session, or a run that does not continue, resets", () => {
  const tl = new Timeline();
  tl.applyRun(run({ run: "r1" }));
  tl.applyBlock(block({ run: "r1", block: 5 }));
  assert.equal(tl.applyRun(run({ run: "r1", phase: "end" })).reset, false, "the end of the same run");
  assert.equal(tl.applyRun(run({ run: "r2", continued: false })).reset, true, "a fresh run of the same name");
  assert.equal(tl.generatedBlocks, 0);
  assert.deepEqual(tl.runs, ["r2"]);
  assert.equal(tl.applyRun(run({ run: "r3", session: "other", continued: true })).reset, true, "another session");
  assert.equal(tl.session, "other");
  assert.equal(tl.applyBlock(block({ session: "third", run: "x", block: 9 })).reset, true, "a block of an unseen session");
  assert.equal(tl.generatedBlocks, 10);
});

test("a page opened mid-session adopts the session-wide scenes", () => {
  const tl = new Timeline();
  const { reset } = tl.applyRun(run({ run: "r5", continued: true, first_block: 24, run_blocks: 20, total_blocks: 44, scenes: ALL_SCENES }));
  assert.equal(reset, true);
  assert.equal(tl.generatedBlocks, 24, "blocks of earlier runs exist even unseen");
  assert.equal(tl.scenes.length, 4);
});

test("an interrupted run ends the timeline where generation stopped", () => {
  const tl = new Timeline();
  tl.applyRun(run({ run_blocks: 24, total_blocks: 24, scenes: FIRST_SCENES }));
  for (let b = 0; b < 17; b++) tl.applyBlock(block({ block: b, scene: tl.sceneAt(b) }));
  tl.applyRun(run({ phase: "interrupted", scenes: [FIRST_SCENES[0], { ...FIRST_SCENES[1], blocks: 5 }] }));
  assert.equal(tl.phase, "interrupted");
  assert.equal(tl.totalBlocks, 17);
  assert.equal(tl.generatedBlocks, 17);
  assert.deepEqual(spans(tl), [[0, 0, 12, "start"], [1, 12, 5, "smooth"]]);
  // The next run regenerates from block 15: the frames after it are stale.
  const { truncateFromBlock } = tl.applyRun(run({ run: "r2", continued: true, first_block: 15, run_blocks: 9, total_blocks: 24, scenes: FIRST_SCENES }));
  assert.equal(truncateFromBlock, 15);
  assert.equal(tl.generatedBlocks, 15);
});

test("an error keeps what was generated and the message", () => {
  const tl = new Timeline();
  tl.applyRun(run({ scenes: FIRST_SCENES }));
  for (let b = 0; b < 4; b++) tl.applyBlock(block({ block: b }));
  tl.applyRun(run({ phase: "error", message: "out of memory", scenes: FIRST_SCENES }));
  assert.equal(tl.phase, "error");
  assert.equal(tl.message, "out of memory");
  assert.equal(tl.totalBlocks, 4);
  assert.deepEqual(spans(tl), [[0, 0, 4, "start"]]);
});

test("a block of an unplanned scene (auto) takes its range from the plan", () => {
  const tl = new Timeline();
  tl.applyRun(run({ scenes: FIRST_SCENES }));
  const v = tl.version;
  tl.applyBlock(block({ block: 20, scene: { index: 2, label: null, transition: "auto" } }));
  assert.ok(tl.version > v, "the scene list changed");
  // The planned rest of scene 1 is obsolete once generation switched scene.
  assert.deepEqual(spans(tl), [[0, 0, 12, "start"], [1, 12, 8, "smooth"], [2, 20, 1, "auto"]]);
  tl.applyBlock(block({ block: 21, scene: { index: 2, label: null, transition: "auto" } }));
  assert.deepEqual(spans(tl), [[0, 0, 12, "start"], [1, 12, 8, "smooth"], [2, 20, 2, "auto"]]);
  const again = tl.version;
  tl.applyBlock(block({ block: 21, scene: { index: 2, label: null, transition: "auto" } }));
  assert.equal(tl.version, again, "a block already covered changes nothing");
});

test("normalise and clip keep scenes ordered and non-overlapping", () => {
  const scenes = normaliseScenes([
    { index: 1, label: null, transition: "cut", start_block: 10, blocks: 10 },
    { index: 0, label: null, transition: "start", start_block: 0, blocks: 15 },
    { index: 2, label: null, transition: "cut", start_block: 20, blocks: 0 },
  ]);
  assert.deepEqual(scenes.map((s) => [s.index, s.start_block, s.blocks]), [[0, 0, 10], [1, 10, 10]]);
  assert.deepEqual(clipScenes(scenes, 12).map((s) => [s.index, s.blocks]), [[0, 10], [1, 2]]);
  assert.deepEqual(clipScenes(scenes, 10).map((s) => s.index), [0]);
});

test("frame and time conversions follow the run's geometry", () => {
  const tl = new Timeline();
  tl.applyRun(run({ frames_per_block: 3, frames_per_image: 4, fps: 16, total_blocks: 40, run_blocks: 40 }));
  assert.equal(tl.videoFramesPerBlock, 12);
  // The Wan VAE decodes T latent frames to 4T - 3 video frames: latent 0 -> frame 0, latent f -> [4f-3, 4f].
  assert.deepEqual([0, 1, 4, 5, 8, 9].map((v) => tl.imageOfVideoFrame(v)), [0, 1, 1, 2, 2, 3]);
  assert.equal(tl.videoFrameOfImage(0), 0);
  assert.equal(tl.videoFrameOfImage(51), 201);
  for (let f = 0; f < 60; f++) assert.equal(tl.imageOfVideoFrame(tl.videoFrameOfImage(f)), f);
  assert.equal(tl.blockOfImage(51), 17, "latent frame f belongs to block f // frames_per_block");
  assert.equal(tl.firstImageOfBlock(17), 51);
  assert.equal(tl.blockOfVideoFrame(201), 17);
  assert.equal(tl.blockOfVideoFrame(200), 16);
  assert.equal(tl.secondsOfVideoFrame(tl.videoFrameOfImage(2) - tl.videoFrameOfImage(1)), 0.25,
    "a later image lasts 0.25 s at 16 fps");
  assert.equal(tl.extentVideoFrames, 4 * 120 - 3, "40 blocks = 120 latent frames = 477 video frames");
  assert.equal(tl.videoFramesOf(0), 0);
});
