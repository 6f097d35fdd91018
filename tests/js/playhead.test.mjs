import { test } from "node:test";
import assert from "node:assert/strict";
import { Playhead } from "../../js/lib/playhead.js";

test("live follows the newest generated frame", () => {
  const p = new Playhead({ fps: 16 });
  assert.equal(p.update(0, 0, false), 0);
  assert.equal(p.update(10, 120, false), 119);
  assert.equal(p.update(20, 240, false), 239);
});

test("play advances at 16 fps: one preview image (4 frames) every 0.25 s", () => {
  const p = new Playhead({ fps: 16 });
  p.update(0, 480, false);
  p.play(1000, 480);
  assert.equal(p.position, 0, "play from live starts at the beginning");
  p.update(1250, 480, false);
  assert.equal(p.frame, 4);
  p.update(2000, 480, false);
  assert.equal(p.frame, 16);
});

test("playing waits at the generated end while running and stops when finished", () => {
  const p = new Playhead({ fps: 16 });
  p.seek(100, 0, 120);
  p.play(0, 120);
  p.update(5000, 120, false);
  assert.equal(p.frame, 119);
  assert.equal(p.mode, "play");
  // More frames arrive: playback resumes from the end it was holding at.
  p.update(5500, 240, false);
  assert.equal(p.frame, 127);
  p.update(60000, 240, true);
  assert.equal(p.frame, 239);
  assert.equal(p.mode, "pause");
  p.play(60001, 240);
  assert.equal(p.position, 0, "play at the end restarts");
});

test("seek leaves live, clamps to what exists, and keeps playing", () => {
  const p = new Playhead({ fps: 16 });
  p.seek(50, 0, 120);
  assert.equal(p.mode, "pause");
  assert.equal(p.position, 50);
  p.seek(500, 0, 120);
  assert.equal(p.position, 119);
  p.play(0, 120);
  p.seek(10, 100, 120);
  assert.equal(p.mode, "play");
  p.update(600, 120, false);
  assert.equal(p.frame, 18);
  p.toggle(600, 120, false);
  assert.equal(p.mode, "pause");
  p.update(5000, 120, false);
  assert.equal(p.frame, 18, "paused stays put");
  p.goLive();
  assert.equal(p.update(5000, 120, false), 119);
});

test("an fps change keeps the position", () => {
  const p = new Playhead({ fps: 16 });
  p.seek(0, 0, 1000);
  p.play(0, 1000);
  p.setFps(8, 1000);
  assert.equal(p.position, 16);
  p.update(2000, 1000, false);
  assert.equal(p.frame, 24);
});
